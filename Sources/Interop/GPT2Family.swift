import Data
import Model

extension HFFamily {
    /// transformers' GPT2LMHeadModel: Tessera's gpt2 is the same network (pre-LayerNorm blocks,
    /// learned positions, tanh GELU, LayerNorm eps 1e-5, head tied to wte), so the map is names and
    /// orientation only. GPT-2's Conv1D keeps weights [in, out], Tessera's linears [out, in]: every
    /// matrix of a block is transposed; the embeddings, norms and biases are copied as they are.
    ///
    /// | Tessera (shape) | GPT2LMHeadModel (shape) |
    /// | --- | --- |
    /// | `wte` (V, C) | `transformer.wte.weight` (V, C), also the head |
    /// | `wpe` (T, C) | `transformer.wpe.weight` (n_positions, C), first T rows |
    /// | `h.L.ln_1.weight`, `.bias` (C) | `transformer.h.L.ln_1.weight`, `.bias` |
    /// | `h.L.attn.c_attn.weight` (3C, C) | `transformer.h.L.attn.c_attn.weight` (C, 3C), transposed |
    /// | `h.L.attn.c_attn.bias` (3C) | `transformer.h.L.attn.c_attn.bias` |
    /// | `h.L.attn.c_proj.weight` (C, C) | `transformer.h.L.attn.c_proj.weight` (C, C), transposed |
    /// | `h.L.attn.c_proj.bias` (C) | `transformer.h.L.attn.c_proj.bias` |
    /// | `h.L.ln_2.weight`, `.bias` (C) | `transformer.h.L.ln_2.weight`, `.bias` |
    /// | `h.L.mlp.c_fc.weight` (H, C) | `transformer.h.L.mlp.c_fc.weight` (C, H), transposed |
    /// | `h.L.mlp.c_fc.bias` (H) | `transformer.h.L.mlp.c_fc.bias` |
    /// | `h.L.mlp.c_proj.weight` (C, H) | `transformer.h.L.mlp.c_proj.weight` (H, C), transposed |
    /// (H: n_inner, 4C when null)
    /// | `h.L.mlp.c_proj.bias` (C) | `transformer.h.L.mlp.c_proj.bias` |
    /// | `ln_f.weight`, `.bias` (C) | `transformer.ln_f.weight`, `.bias` |
    ///
    /// Skipped when reading: `h.L.attn.bias` and `h.L.attn.masked_bias` (causal-mask buffers older
    /// checkpoints hold) and `lm_head.weight` (tied: transformers replaces it by wte when loading).
    /// Both q, k, v orders agree: c_attn's outputs are [q | k | v], each head's columns contiguous.
    public static let gpt2 = HFFamily(
        modelType: "gpt2", architecture: "GPT2LMHeadModel",
        readableArchitectures: ["GPT2LMHeadModel", "GPT2Model"], basePrefix: "transformer.",
        sizes: [
            SizeKey(key: "n_layer", modelKey: "model.n_layer", value: { $0.nLayer }, rule: .equal),
            SizeKey(key: "n_head", modelKey: "model.n_head", value: { $0.nHead }, rule: .equal),
            SizeKey(key: "n_embd", modelKey: "model.n_embd", value: { $0.nEmbd }, rule: .equal),
            SizeKey(key: "n_positions", modelKey: "model.block_size", value: { $0.blockSize }, rule: .atLeast),
            .vocabulary,
        ],
        readDimensions: GPT2Layout.dimensions, checkSettings: GPT2Layout.checkSettings,
        unrepresentable: GPT2Layout.unrepresentable, tensors: GPT2Layout.tensors, ignores: GPT2Layout.ignores,
        configMembers: GPT2Layout.configMembers)
}

enum GPT2Layout {
    /// Tessera's LayerNorm epsilon, a constant of its kernel.
    static let layerNormEpsilon = 1e-5
    static let activations = ["gelu_new", "gelu_pytorch_tanh"]

    @Sendable static func dimensions(_ config: HFConfigFile) throws(InteropError) -> GPTDimensions {
        let nEmbd = try config.size("n_embd"), nHead = try config.size("n_head")
        guard nEmbd % nHead == 0 else {
            throw InteropError(config.path, "n_embd = \(nEmbd) is not a multiple of n_head = \(nHead)")
        }
        var parts = DecoderParts.gpt2(nHead: nHead, nEmbd: nEmbd)
        if config.value("n_inner") != nil { parts.ffnHidden = try config.size("n_inner") }
        return GPTDimensions(nLayer: try config.size("n_layer"), nHead: nHead, nEmbd: nEmbd,
                             blockSize: try config.size("n_positions"), vocabSize: try config.size("vocab_size"), parts: parts)
    }

    /// Settings of GPT2Config that change the network, refused unless they are Tessera's.
    @Sendable static func checkSettings(_ config: HFConfigFile) throws(InteropError) {
        try config.require("activation_function", default: .string("gelu_new"), { if case let .string(name) = $0 { activations.contains(name) } else { false } },
                           "Tessera's MLP uses the tanh GELU (\(activations.joined(separator: " or ")))")
        try config.require("layer_norm_epsilon", default: .number("1e-05"),
                           { if case let .number(text) = $0 { Double(text) == layerNormEpsilon } else { false } },
                           "Tessera's LayerNorm uses eps 1e-05")
        for (key, value, reason) in [
            ("scale_attn_weights", true, "Tessera scales attention scores by 1/sqrt(head size)"),
            ("scale_attn_by_inverse_layer_idx", false, "Tessera does not scale attention by layer"),
            ("reorder_and_upcast_attn", false, "Tessera does not reorder the attention product"),
            ("add_cross_attention", false, "Tessera's gpt2 is a decoder without cross-attention"),
            ("tie_word_embeddings", true, "Tessera's gpt2 head is the token embedding (tied)"),
        ] {
            try config.require(key, default: .bool(value), { $0 == .bool(value) }, reason)
        }
    }

    @Sendable static func unrepresentable(_ dims: GPTDimensions) -> String? {
        if let experts = dims.experts {
            return HFFamily.gpt2.mixtureOfExperts(experts, name: "GPT-2")
        }
        var gpt2 = DecoderParts.gpt2(nHead: dims.nHead, nEmbd: dims.nEmbd)
        gpt2.ffnHidden = dims.parts.ffnHidden  // n_inner
        guard dims.parts == gpt2 else {
            return "GPT2LMHeadModel is LayerNorm (eps 1e-05), learned positions, multi-head attention, a GELU MLP, "
                + "biases and a tied head; this model has \(dims.parts.summary(nHead: dims.nHead))"
        }
        return nil
    }

    @Sendable static func tensors(_ dims: GPTDimensions) -> [TensorRule] {
        let C = dims.nEmbd, V = dims.vocabSize, T = dims.blockSize, H = dims.parts.ffnHidden
        var rules = [
            TensorRule(GPTParameterName.tokenEmbedding, [V, C], hf: "transformer.wte.weight"),
            TensorRule(GPTParameterName.positionEmbedding, [T, C], hf: "transformer.wpe.weight", leadingRows: true),
        ]
        for l in 0..<dims.nLayer {
            for leaf in BlockLeaf.leaves(dims, layer: l) {
                let name = GPTParameterName.block(l, leaf), hf = "transformer." + name
                switch leaf {
                case .qkvWeight: rules.append(TensorRule(name, transposedMatrix: [3 * C, C], hf: hf))
                case .attnProjWeight: rules.append(TensorRule(name, transposedMatrix: [C, C], hf: hf))
                case .fcWeight: rules.append(TensorRule(name, transposedMatrix: [H, C], hf: hf))
                case .fcProjWeight: rules.append(TensorRule(name, transposedMatrix: [C, H], hf: hf))
                case .qkvBias: rules.append(TensorRule(name, [3 * C], hf: hf))
                case .fcBias: rules.append(TensorRule(name, [H], hf: hf))
                default: rules.append(TensorRule(name, [C], hf: hf))
                }
            }
        }
        rules.append(TensorRule(GPTParameterName.finalNormWeight, [C], hf: "transformer.ln_f.weight"))
        rules.append(TensorRule(GPTParameterName.finalNormBias, [C], hf: "transformer.ln_f.bias"))
        return rules
    }

    /// `h.N.attn.bias`, `h.N.attn.masked_bias` and `lm_head.weight`.
    @Sendable static func ignores(_ name: String) -> Bool {
        if name == "lm_head.weight" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "h" && Int(parts[1]) != nil && parts[2] == "attn"
            && (parts[3] == "bias" || parts[3] == "masked_bias")
    }

    /// GPT2Config's keys, sorted as transformers writes them. Tessera drops out embeddings and
    /// residual branches, not attention probabilities: attn_pdrop is 0. Both dtype keys are
    /// written: transformers 5 reads `dtype`, 4.x `torch_dtype`.
    @Sendable static func configMembers(_ dims: GPTDimensions, _ settings: HFExportSettings) -> [(key: String, value: JSONValue)] {
        let dropout = JSONValue.number("\(settings.dropout)")
        let endOfText = settings.endOfTextValue
        return [
            ("activation_function", .string("gelu_new")),
            ("architectures", .array([.string(HFFamily.gpt2.architecture)])),
            ("attn_pdrop", .number("0.0")),
            ("bos_token_id", endOfText),
            ("dtype", .string("float32")),
            ("embd_pdrop", dropout),
            ("eos_token_id", endOfText),
            ("initializer_range", .number("0.02")),
            ("layer_norm_epsilon", .number("1e-05")),
            ("model_type", .string("gpt2")),
            ("n_embd", .number("\(dims.nEmbd)")),
            ("n_head", .number("\(dims.nHead)")),
            ("n_inner", dims.parts.ffnHidden == 4 * dims.nEmbd ? .null : .number("\(dims.parts.ffnHidden)")),
            ("n_layer", .number("\(dims.nLayer)")),
            ("n_positions", .number("\(dims.blockSize)")),
            ("reorder_and_upcast_attn", .bool(false)),
            ("resid_pdrop", dropout),
            ("scale_attn_by_inverse_layer_idx", .bool(false)),
            ("scale_attn_weights", .bool(true)),
            ("tie_word_embeddings", .bool(true)),
            ("torch_dtype", .string("float32")),
            ("use_cache", .bool(true)),
            ("vocab_size", .number("\(dims.vocabSize)")),
        ]
    }
}
