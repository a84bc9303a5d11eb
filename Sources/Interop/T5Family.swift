import Data
import Model

extension HFFamily {
    /// transformers' T5ForConditionalGeneration in its T5 v1.1 form: Tessera's t5 is the same
    /// network (RMSNorm, unscaled attention with one relative position bias table per stack, gated
    /// GELU, no biases, an untied head, no rescaling of the decoder's output). One list of layers
    /// holds both stacks: HF encoder block i is Tessera's layer i, decoder block i layer E + i
    /// (E encoder layers). nn.Linear keeps weights [out, in] as Tessera does: nothing is transposed;
    /// cross-attention's k and v, and the MLP's wi_0 and wi_1, are pieces of one Tessera parameter.
    ///
    /// | Tessera (shape) | T5ForConditionalGeneration (shape) |
    /// | --- | --- |
    /// | `wte` (V, C) | `shared.weight` (V, C) |
    /// | `h.L.ln_1.weight` (C) | `X.block.i.layer.0.layer_norm.weight` (X: encoder or decoder) |
    /// | `h.L.attn.q.weight`, `.k.weight`, `.v.weight` (C, C) | `X.block.i.layer.0.SelfAttention.q`, `.k`, `.v` `.weight` |
    /// | `h.L.attn.c_proj.weight` (C, C) | `X.block.i.layer.0.SelfAttention.o.weight` |
    /// | `h.0.attn.relative_bias`, `h.E.attn.relative_bias` (buckets, NH) | `X.block.0.layer.0.SelfAttention.relative_attention_bias.weight` |
    /// | `h.E.ln_enc.weight` (C) | `encoder.final_layer_norm.weight` |
    /// | `h.L.ln_cross.weight` (C), decoder | `decoder.block.i.layer.1.layer_norm.weight` |
    /// | `h.L.cross.q.weight` (C, C) | `decoder.block.i.layer.1.EncDecAttention.q.weight` |
    /// | `h.L.cross.kv.weight` (2C, C) | `EncDecAttention.k.weight`, then `EncDecAttention.v.weight` |
    /// | `h.L.cross.c_proj.weight` (C, C) | `decoder.block.i.layer.1.EncDecAttention.o.weight` |
    /// | `h.L.ln_2.weight` (C) | `encoder.block.i.layer.1.layer_norm.weight`, `decoder.block.i.layer.2.layer_norm.weight` |
    /// | `h.L.mlp.c_fc.weight` (2H, C) | `DenseReluDense.wi_0.weight` (H, C), then `DenseReluDense.wi_1.weight` |
    /// | `h.L.mlp.c_proj.weight` (C, H) | `DenseReluDense.wo.weight` |
    /// | `ln_f.weight` (C) | `decoder.final_layer_norm.weight` |
    /// | `lm_head.weight` (V, C) | `lm_head.weight` |
    ///
    /// Skipped when reading: `encoder.embed_tokens.weight` and `decoder.embed_tokens.weight`
    /// (copies of `shared.weight` older checkpoints hold; transformers ties them to it) and the
    /// cross-attention bias table some old checkpoints carry, which transformers does not use.
    public static let t5 = HFFamily(
        modelType: "t5", architecture: "T5ForConditionalGeneration",
        readableArchitectures: ["T5ForConditionalGeneration"], basePrefix: "",
        sizes: [
            SizeKey(key: "num_layers", modelKey: "model.n_encoder_layer", value: { $0.encoderLayers }, rule: .equal),
            SizeKey(key: "num_decoder_layers", modelKey: "model.n_decoder_layer", value: { $0.nLayer - $0.encoderLayers },
                    rule: .equal),
            SizeKey(key: "num_heads", modelKey: "model.n_head", value: { $0.nHead }, rule: .equal),
            SizeKey(key: "d_model", modelKey: "model.n_embd", value: { $0.nEmbd }, rule: .equal),
            SizeKey(key: "d_ff", modelKey: "model.ffn_hidden", value: { $0.parts.ffnHidden }, rule: .equal),
            SizeKey(key: "relative_attention_num_buckets", modelKey: "model.relative_buckets",
                    value: { $0.parts.relativeBuckets?.buckets ?? 0 }, rule: .equal),
            SizeKey(key: "relative_attention_max_distance", modelKey: "model.relative_max_distance",
                    value: { $0.parts.relativeBuckets?.maxDistance ?? 0 }, rule: .equal),
            .vocabulary,
        ],
        readDimensions: T5Layout.dimensions, checkSettings: T5Layout.checkSettings,
        unrepresentable: T5Layout.unrepresentable, tensors: T5Layout.tensors, ignores: T5Layout.ignores,
        configMembers: T5Layout.configMembers)
}

enum T5Layout {
    /// T5's relative positions set no limit on either stack's length; Tessera's model is built for
    /// fixed lengths: config.json's `n_positions` (original T5 configs give 512), else 512, T5's
    /// training length. A run takes its own lengths (model.block_size, model.encoder_block_size).
    static let defaultPositions = 512

    @Sendable static func dimensions(_ config: HFConfigFile) throws(InteropError) -> GPTDimensions {
        let nEmbd = try config.size("d_model"), nHead = try config.size("num_heads"), dKV = try config.size("d_kv")
        guard nHead * dKV == nEmbd else {
            throw InteropError(config.path, "d_kv = \(dKV) with num_heads = \(nHead) gives attention \(nHead * dKV) wide; "
                + "Tessera's attention is d_model = \(nEmbd) wide (heads of d_model / num_heads)")
        }
        let buckets = try config.size("relative_attention_num_buckets", largest: 1 << 16)
        let maxDistance = try config.size("relative_attention_max_distance", largest: 1 << 20)
        guard buckets >= 4, maxDistance > buckets / 2 else {
            throw InteropError(config.path, "relative_attention_num_buckets = \(buckets) and relative_attention_max_distance = "
                + "\(maxDistance): Tessera's buckets need at least 4 buckets and a distance above half of them")
        }
        let encoderLayers = try config.size("num_layers")
        let decoderLayers = config.value("num_decoder_layers") == nil ? encoderLayers : try config.size("num_decoder_layers")
        var parts = DecoderParts.t5(nHead: nHead, ffnHidden: try config.size("d_ff"), buckets: buckets, maxDistance: maxDistance)
        parts.normEps = Float(try config.number("layer_norm_epsilon", default: 1e-6))
        let positions = config.value("n_positions") == nil ? defaultPositions : try config.size("n_positions", largest: 1 << 20)
        return GPTDimensions(nLayer: encoderLayers + decoderLayers, nHead: nHead, nEmbd: nEmbd, blockSize: positions,
                             vocabSize: try config.size("vocab_size"), parts: parts,
                             encoder: EncoderShape(layers: encoderLayers, blockSize: positions))
    }

    /// The feed-forward Tessera has (`feed_forward_proj` gated-gelu: gelu_new; T5Config's default,
    /// original T5's relu, is refused) and no rescaling of the decoder's output. transformers 5
    /// rescales iff `scale_decoder_outputs`, when given, else iff `tie_word_embeddings` is not
    /// false; 4.x iff `tie_word_embeddings` (default true).
    @Sendable static func checkSettings(_ config: HFConfigFile) throws(InteropError) {
        try config.require("feed_forward_proj", default: .string("relu"),
                           { $0 == .string("gated-gelu") || $0 == .string("gated-gelu_new") },
                           "Tessera's T5 MLP is T5 v1.1's gated GELU (\"gated-gelu\")")
        let rescaled = config.value("scale_decoder_outputs") == nil
            ? try config.bool("tie_word_embeddings", default: true) : try config.bool("scale_decoder_outputs", default: true)
        if rescaled {
            let key = config.value("scale_decoder_outputs") == nil ? "tie_word_embeddings" : "scale_decoder_outputs"
            throw InteropError(config.path, "\(key) = \(config.value(key)?.compact ?? "absent (true)"): this T5 rescales the "
                + "decoder's output by d_model^-0.5 (original T5); Tessera's t5 is T5 v1.1's, with an untied head and no "
                + "rescaling (scale_decoder_outputs false, or tie_word_embeddings false)")
        }
        try config.require("is_encoder_decoder", default: .bool(true), { $0 == .bool(true) },
                           "Tessera reads T5ForConditionalGeneration, an encoder-decoder")
    }

    @Sendable static func unrepresentable(_ dims: GPTDimensions) -> String? {
        guard dims.encoder != nil else { return "T5ForConditionalGeneration is an encoder-decoder; this model is a decoder" }
        if let experts = dims.experts { return HFFamily.t5.mixtureOfExperts(experts, name: "T5") }
        let p = dims.parts
        if let (buckets, maxDistance) = p.relativeBuckets {
            var t5 = DecoderParts.t5(nHead: dims.nHead, ffnHidden: p.ffnHidden, buckets: buckets, maxDistance: maxDistance)
            (t5.normEps, t5.initialization) = (p.normEps, p.initialization)
            if p == t5 { return nil }
        }
        return "T5ForConditionalGeneration (T5 v1.1) is RMSNorm, a relative position bias, multi-head attention, "
            + "a gated GELU MLP, no biases and an untied head; this model has \(p.summary(nHead: dims.nHead))"
    }

    @Sendable static func tensors(_ dims: GPTDimensions) -> [TensorRule] {
        let C = dims.nEmbd, V = dims.vocabSize, H = dims.parts.ffnHidden, E = dims.encoderLayers
        var rules = [TensorRule(GPTParameterName.tokenEmbedding, [V, C], hf: "shared.weight")]
        for l in 0..<dims.nLayer {
            let encoder = dims.isEncoderLayer(l)
            let block = encoder ? "encoder.block.\(l)." : "decoder.block.\(l - E)."
            func piece(_ name: String, _ rows: Int, _ columns: Int) -> TensorRule.Piece {
                TensorRule.Piece(name: block + name, shape: [rows, columns])
            }
            for leaf in BlockLeaf.leaves(dims, layer: l) {
                let name = GPTParameterName.block(l, leaf)
                switch leaf {
                case .encoderNormWeight: rules.append(TensorRule(name, [C], hf: "encoder.final_layer_norm.weight"))
                case .ln1Weight: rules.append(TensorRule(name, [C], hf: block + "layer.0.layer_norm.weight"))
                case .qWeight: rules.append(TensorRule(name, [C, C], hf: block + "layer.0.SelfAttention.q.weight"))
                case .kWeight: rules.append(TensorRule(name, [C, C], hf: block + "layer.0.SelfAttention.k.weight"))
                case .vWeight: rules.append(TensorRule(name, [C, C], hf: block + "layer.0.SelfAttention.v.weight"))
                case .attnProjWeight: rules.append(TensorRule(name, [C, C], hf: block + "layer.0.SelfAttention.o.weight"))
                case .relativeBias:
                    rules.append(TensorRule(name, [dims.parts.relativeBuckets!.buckets, dims.nHead],
                                            hf: block + "layer.0.SelfAttention.relative_attention_bias.weight"))
                case .crossNormWeight: rules.append(TensorRule(name, [C], hf: block + "layer.1.layer_norm.weight"))
                case .crossQWeight: rules.append(TensorRule(name, [C, C], hf: block + "layer.1.EncDecAttention.q.weight"))
                case .crossKVWeight:
                    rules.append(TensorRule(name, [2 * C, C], [piece("layer.1.EncDecAttention.k.weight", C, C),
                                                               piece("layer.1.EncDecAttention.v.weight", C, C)]))
                case .crossProjWeight: rules.append(TensorRule(name, [C, C], hf: block + "layer.1.EncDecAttention.o.weight"))
                case .ln2Weight:
                    rules.append(TensorRule(name, [C], hf: block + (encoder ? "layer.1" : "layer.2") + ".layer_norm.weight"))
                case .fcWeight:
                    let ff = encoder ? "layer.1.DenseReluDense." : "layer.2.DenseReluDense."
                    rules.append(TensorRule(name, [2 * H, C], [piece(ff + "wi_0.weight", H, C), piece(ff + "wi_1.weight", H, C)]))
                case .fcProjWeight:
                    rules.append(TensorRule(name, [C, H], hf: block + (encoder ? "layer.1" : "layer.2") + ".DenseReluDense.wo.weight"))
                default: preconditionFailure("\(name): a t5 block has no \(leaf.rawValue)")
                }
            }
        }
        rules.append(TensorRule(GPTParameterName.finalNormWeight, [C], hf: "decoder.final_layer_norm.weight"))
        rules.append(TensorRule(GPTParameterName.head, [V, C], hf: "lm_head.weight"))
        return rules
    }

    @Sendable static func ignores(_ name: String) -> Bool {
        ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
         "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"].contains(name)
    }

    /// T5Config's keys, sorted as transformers writes them, in T5 v1.1's form. Both tying keys
    /// say "untied, not rescaled" to either major version: 4.x reads `tie_word_embeddings`, 5.x
    /// `scale_decoder_outputs`. The decoder starts from, pads with and ends at the end-of-text id,
    /// as Tessera's encoder-decoder batches do.
    @Sendable static func configMembers(_ dims: GPTDimensions, _ settings: HFExportSettings) -> [(key: String, value: JSONValue)] {
        let endOfText = settings.endOfTextValue
        let (buckets, maxDistance) = dims.parts.relativeBuckets!
        return [
            ("architectures", .array([.string(HFFamily.t5.architecture)])),
            ("classifier_dropout", .number("0.0")),
            ("d_ff", .number("\(dims.parts.ffnHidden)")),
            ("d_kv", .number("\(dims.headSize)")),
            ("d_model", .number("\(dims.nEmbd)")),
            ("decoder_start_token_id", endOfText),
            ("dense_act_fn", .string("gelu_new")),
            ("dropout_rate", .number("\(settings.dropout)")),
            ("dtype", .string("float32")),
            ("eos_token_id", endOfText),
            ("feed_forward_proj", .string("gated-gelu")),
            ("initializer_factor", .number("1.0")),
            ("is_decoder", .bool(false)),
            ("is_encoder_decoder", .bool(true)),
            ("is_gated_act", .bool(true)),
            ("layer_norm_epsilon", .number("\(dims.parts.normEps)")),
            ("model_type", .string("t5")),
            ("num_decoder_layers", .number("\(dims.nLayer - dims.encoderLayers)")),
            ("num_heads", .number("\(dims.nHead)")),
            ("num_layers", .number("\(dims.encoderLayers)")),
            ("pad_token_id", endOfText),
            ("relative_attention_max_distance", .number("\(maxDistance)")),
            ("relative_attention_num_buckets", .number("\(buckets)")),
            ("scale_decoder_outputs", .bool(false)),
            ("tie_word_embeddings", .bool(false)),
            ("torch_dtype", .string("float32")),
            ("use_cache", .bool(true)),
            ("vocab_size", .number("\(dims.vocabSize)")),
        ]
    }
}
