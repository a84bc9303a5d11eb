import Data
import Model

extension HFFamily {
    /// transformers' LlamaForCausalLM: RMSNorm, rotary positions (rotate_half, as Tessera's rope
    /// kernel), grouped-query attention, SwiGLU, no biases, an untied head unless
    /// tie_word_embeddings. nn.Linear keeps weights [out, in] as Tessera does: nothing is
    /// transposed; q, k and v are pieces of Tessera's fused `c_attn` when there are as many kv heads
    /// as heads, and gate and up the two halves of `c_fc`.
    ///
    /// | Tessera (shape) | LlamaForCausalLM (shape) |
    /// | --- | --- |
    /// | `wte` (V, C) | `model.embed_tokens.weight` (V, C) |
    /// | `h.L.ln_1.weight` (C) | `model.layers.L.input_layernorm.weight` |
    /// | `h.L.attn.c_attn.weight` (3C, C) | `self_attn.q_proj`, `k_proj`, `v_proj` `.weight` rows one after the other |
    /// | `h.L.attn.q.weight`, `.k.weight`, `.v.weight` (NKV < NH) | `self_attn.q_proj`, `k_proj`, `v_proj` `.weight` |
    /// | `h.L.attn.c_proj.weight` (C, C) | `self_attn.o_proj.weight` |
    /// | `h.L.ln_2.weight` (C) | `post_attention_layernorm.weight` |
    /// | `h.L.mlp.c_fc.weight` (2H, C) | `mlp.gate_proj.weight` (H, C), then `mlp.up_proj.weight` (H, C) |
    /// | `h.L.mlp.c_proj.weight` (C, H) | `mlp.down_proj.weight` |
    /// | `ln_f.weight` (C) | `model.norm.weight` |
    /// | `lm_head.weight` (V, C) | `lm_head.weight` (absent when tied) |
    ///
    /// Skipped when reading: `rotary_emb.inv_freq` buffers (older checkpoints) and, when tied,
    /// `lm_head.weight`.
    public static let llama = HFFamily(
        modelType: "llama", architecture: "LlamaForCausalLM",
        readableArchitectures: ["LlamaForCausalLM", "LlamaModel"], basePrefix: "model.",
        sizes: [
            SizeKey(key: "num_hidden_layers", modelKey: "model.n_layer", value: { $0.nLayer }, rule: .equal),
            SizeKey(key: "num_attention_heads", modelKey: "model.n_head", value: { $0.nHead }, rule: .equal),
            SizeKey(key: "num_key_value_heads", modelKey: "model.n_kv_head", value: { $0.parts.kvHeads }, rule: .equal),
            SizeKey(key: "hidden_size", modelKey: "model.n_embd", value: { $0.nEmbd }, rule: .equal),
            SizeKey(key: "intermediate_size", modelKey: "model.ffn_hidden", value: { $0.parts.ffnHidden }, rule: .equal),
            SizeKey(key: "max_position_embeddings", modelKey: "model.block_size", value: { $0.blockSize }, rule: .atLeast),
            .vocabulary,
        ],
        readDimensions: LlamaLayout.dimensions, checkSettings: LlamaLayout.checkSettings,
        unrepresentable: LlamaLayout.unrepresentable, tensors: LlamaLayout.tensors, ignores: LlamaLayout.ignores,
        configMembers: LlamaLayout.configMembers)
}

enum LlamaLayout {
    @Sendable static func dimensions(_ config: HFConfigFile) throws(InteropError) -> GPTDimensions {
        let nEmbd = try config.size("hidden_size"), nHead = try config.size("num_attention_heads")
        let kvHeads = config.value("num_key_value_heads") == nil ? nHead : try config.size("num_key_value_heads")
        guard nEmbd % nHead == 0, (nEmbd / nHead) % 2 == 0 else {
            throw InteropError(config.path, "hidden_size = \(nEmbd) does not give num_attention_heads = \(nHead) heads "
                + "of an even size, as rotary positions need")
        }
        guard nHead % kvHeads == 0 else {
            throw InteropError(config.path, "num_key_value_heads = \(kvHeads) does not divide num_attention_heads = \(nHead)")
        }
        let parts = DecoderParts(norm: .rmsNorm, normEps: Float(try config.number("rms_norm_eps", default: 1e-6)),
                                 position: .rotary(theta: try theta(config)), kvHeads: kvHeads, mlp: .swiglu,
                                 ffnHidden: try config.size("intermediate_size"), bias: false,
                                 tiedEmbeddings: try config.bool("tie_word_embeddings", default: false))
        return GPTDimensions(nLayer: try config.size("num_hidden_layers"), nHead: nHead, nEmbd: nEmbd,
                             blockSize: try config.size("max_position_embeddings", largest: 1 << 20),
                             vocabSize: try config.size("vocab_size"), parts: parts)
    }

    /// transformers 4.x writes `rope_theta`; 5.x `rope_parameters: {"rope_theta", "rope_type"}`.
    static func theta(_ config: HFConfigFile) throws(InteropError) -> Double {
        if case let .object(pairs)? = config.value("rope_parameters"),
           case let .number(text)? = pairs.first(where: { $0.0 == "rope_theta" })?.1 {
            guard let theta = Double(text), theta > 1 else {
                throw InteropError(config.path, "rope_parameters.rope_theta = \(text) is not a base above 1")
            }
            return theta
        }
        let theta = try config.number("rope_theta", default: 10_000)
        guard theta > 1 else { throw InteropError(config.path, "rope_theta = \(theta) is not a base above 1") }
        return theta
    }

    /// Settings of LlamaConfig that change the network, refused unless they are Tessera's.
    @Sendable static func checkSettings(_ config: HFConfigFile) throws(InteropError) {
        try config.require("hidden_act", default: .string("silu"), { $0 == .string("silu") },
                           "Tessera's SwiGLU gates with silu")
        try config.require("rope_scaling", default: .null, { $0 == .null },
                           "Tessera's rotary positions have no frequency scaling")
        if case let .object(pairs)? = config.value("rope_parameters"),
           let type = pairs.first(where: { $0.0 == "rope_type" })?.1, type != .string("default") {
            throw InteropError(config.path, "rope_parameters.rope_type = \(type.compact): Tessera's rotary positions have no frequency scaling")
        }
        for (key, reason) in [("attention_bias", "Tessera's llama attention has no biases"),
                              ("mlp_bias", "Tessera's llama MLP has no biases")] {
            try config.require(key, default: .bool(false), { $0 == .bool(false) }, reason)
        }
        try config.require("pretraining_tp", default: .number("1"), { $0 == .number("1") },
                           "Tessera computes the exact products (pretraining_tp 1)")
        if config.value("head_dim") != nil {
            let width = try config.size("hidden_size") / max(1, try config.size("num_attention_heads"))
            try config.require("head_dim", default: .null, { $0 == .number("\(width)") },
                               "Tessera's heads are hidden_size / num_attention_heads = \(width) wide")
        }
    }

    @Sendable static func unrepresentable(_ dims: GPTDimensions) -> String? {
        if let experts = dims.experts {
            return HFFamily.llama.mixtureOfExperts(experts, name: "Llama")
        }
        let p = dims.parts
        guard p.norm == .rmsNorm, case .rotary = p.position, p.mlp == .swiglu, !p.bias else {
            return "LlamaForCausalLM is RMSNorm, rotary positions, SwiGLU and no biases; this model has "
                + p.summary(nHead: dims.nHead)
        }
        return nil
    }

    @Sendable static func tensors(_ dims: GPTDimensions) -> [TensorRule] {
        let C = dims.nEmbd, V = dims.vocabSize, H = dims.parts.ffnHidden, HS = dims.headSize
        let q = dims.nHead * HS, kv = dims.parts.kvHeads * HS
        var rules = [TensorRule(GPTParameterName.tokenEmbedding, [V, C], hf: "model.embed_tokens.weight")]
        for l in 0..<dims.nLayer {
            let layer = "model.layers.\(l)."
            func piece(_ name: String, _ rows: Int, _ columns: Int) -> TensorRule.Piece {
                TensorRule.Piece(name: layer + name, shape: [rows, columns])
            }
            for leaf in BlockLeaf.leaves(dims, layer: l) {
                let name = GPTParameterName.block(l, leaf)
                switch leaf {
                case .ln1Weight: rules.append(TensorRule(name, [C], hf: layer + "input_layernorm.weight"))
                case .ln2Weight: rules.append(TensorRule(name, [C], hf: layer + "post_attention_layernorm.weight"))
                case .qkvWeight:
                    rules.append(TensorRule(name, [q + 2 * kv, C], [piece("self_attn.q_proj.weight", q, C),
                        piece("self_attn.k_proj.weight", kv, C), piece("self_attn.v_proj.weight", kv, C)]))
                case .qWeight: rules.append(TensorRule(name, [q, C], hf: layer + "self_attn.q_proj.weight"))
                case .kWeight: rules.append(TensorRule(name, [kv, C], hf: layer + "self_attn.k_proj.weight"))
                case .vWeight: rules.append(TensorRule(name, [kv, C], hf: layer + "self_attn.v_proj.weight"))
                case .attnProjWeight: rules.append(TensorRule(name, [C, C], hf: layer + "self_attn.o_proj.weight"))
                case .fcWeight:
                    rules.append(TensorRule(name, [2 * H, C], [piece("mlp.gate_proj.weight", H, C),
                                                               piece("mlp.up_proj.weight", H, C)]))
                case .fcProjWeight: rules.append(TensorRule(name, [C, H], hf: layer + "mlp.down_proj.weight"))
                default: preconditionFailure("\(name): a llama block has no \(leaf.rawValue)")
                }
            }
        }
        rules.append(TensorRule(GPTParameterName.finalNormWeight, [C], hf: "model.norm.weight"))
        if !dims.parts.tiedEmbeddings { rules.append(TensorRule(GPTParameterName.head, [V, C], hf: "lm_head.weight")) }
        return rules
    }

    /// `layers.N.self_attn.rotary_emb.inv_freq` (a buffer older checkpoints hold) and a tied
    /// head's `lm_head.weight` (transformers replaces it by embed_tokens when loading).
    @Sendable static func ignores(_ name: String) -> Bool {
        name == "lm_head.weight" || name.hasSuffix(".self_attn.rotary_emb.inv_freq")
    }

    /// LlamaConfig's keys, sorted as transformers writes them; the rotary base under both the 4.x
    /// key (`rope_theta`) and the 5.x one (`rope_parameters`).
    @Sendable static func configMembers(_ dims: GPTDimensions, _ settings: HFExportSettings) -> [(key: String, value: JSONValue)] {
        let endOfText = settings.endOfTextValue
        guard case let .rotary(theta) = dims.parts.position else { preconditionFailure("a llama model has rotary positions") }
        return [
            ("architectures", .array([.string(HFFamily.llama.architecture)])),
            ("attention_bias", .bool(false)),
            ("attention_dropout", .number("0.0")),
            ("bos_token_id", endOfText),
            ("dtype", .string("float32")),
            ("eos_token_id", endOfText),
            ("head_dim", .number("\(dims.headSize)")),
            ("hidden_act", .string("silu")),
            ("hidden_size", .number("\(dims.nEmbd)")),
            ("initializer_range", .number("0.02")),
            ("intermediate_size", .number("\(dims.parts.ffnHidden)")),
            ("max_position_embeddings", .number("\(dims.blockSize)")),
            ("mlp_bias", .bool(false)),
            ("model_type", .string("llama")),
            ("num_attention_heads", .number("\(dims.nHead)")),
            ("num_hidden_layers", .number("\(dims.nLayer)")),
            ("num_key_value_heads", .number("\(dims.parts.kvHeads)")),
            ("pretraining_tp", .number("1")),
            ("rms_norm_eps", .number("\(dims.parts.normEps)")),
            ("rope_parameters", .object([("rope_theta", .number("\(theta)")), ("rope_type", .string("default"))])),
            ("rope_scaling", .null),
            ("rope_theta", .number("\(theta)")),
            ("tie_word_embeddings", .bool(dims.parts.tiedEmbeddings)),
            ("torch_dtype", .string("float32")),
            ("use_cache", .bool(true)),
            ("vocab_size", .number("\(dims.vocabSize)")),
        ]
    }
}
