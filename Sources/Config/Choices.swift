/// The closed sets of values some keys take; raw values are the TOML spellings.

/// `data.tokenizer`.
public enum TokenizerKind: String, Sendable, Codable, CaseIterable {
    case char, byte, sentencepiece
}

/// `precision.grad_allreduce`: the gradient wire format.
public enum WireType: String, Sendable, Codable, CaseIterable {
    case fp32, bf16, fp16
}

/// `train.objective`: language modelling, or direct preference optimisation from `init_from`.
public enum TrainingObjective: String, Sendable, Codable, CaseIterable {
    case lm, dpo
}

/// `model.family`: the parts a family's model is built from; each of the keys `norm`, `position`,
/// `mlp`, `bias`, `tie_embeddings` and `ffn_hidden` that a config does not write takes its family's.
public enum ModelFamily: String, Sendable, Codable, CaseIterable {
    case gpt2, llama

    public var norm: NormKind { self == .gpt2 ? .layernorm : .rmsnorm }
    public var position: PositionKind { self == .gpt2 ? .learned : .rope }
    public var mlp: MLPKind { self == .gpt2 ? .gelu : .swiglu }
    public var bias: Bool { self == .gpt2 }
    public var tieEmbeddings: Bool { self == .gpt2 }

    /// The MLP's hidden width for `nEmbd` channels: GPT-2's 4C; LLaMA's 8C/3 (the same parameters
    /// in SwiGLU's three matrices as in GELU's two of 4C), rounded up to a multiple of 64.
    public func ffnHidden(nEmbd: Int) -> Int {
        switch self {
        case .gpt2: 4 * nEmbd
        case .llama: (8 * nEmbd + 3 * 64 - 1) / (3 * 64) * 64
        }
    }
}

/// `model.norm`.
public enum NormKind: String, Sendable, Codable, CaseIterable {
    case layernorm, rmsnorm
}

/// `model.position`: a learned position embedding, or rotary embedding of queries and keys.
public enum PositionKind: String, Sendable, Codable, CaseIterable {
    case learned, rope
}

/// `model.mlp`.
public enum MLPKind: String, Sendable, Codable, CaseIterable {
    case gelu, swiglu
}

/// `precision.loss_scale`: `"dynamic"`, `"none"` or a fixed positive number.
public enum LossScale: Sendable, Equatable, Codable, CustomStringConvertible {
    case dynamic
    case none
    case fixed(Double)

    /// The TOML spelling: `"dynamic"`, `"none"`, or the number.
    public var description: String {
        switch self {
        case .dynamic: "dynamic"
        case .none: "none"
        case .fixed(let scale): scale.description
        }
    }

    /// Reads the config's spellings: the two words, or a number given as a number or as text.
    init?(_ value: ConfigValue) {
        switch value {
        case .string("dynamic"): self = .dynamic
        case .string("none"): self = .none
        case .string(let text):
            guard let scale = Double(text) else { return nil }
            self = .fixed(scale)
        case .int(let scale): self = .fixed(Double(scale))
        case .float(let scale): self = .fixed(scale)
        case .bool: return nil
        }
    }

    var configValue: ConfigValue {
        switch self {
        case .dynamic: .string("dynamic")
        case .none: .string("none")
        case .fixed(let scale): .float(scale)
        }
    }

    public init(from decoder: any Decoder) throws {
        let value = try ConfigValue(from: decoder)
        guard let scale = LossScale(value) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath, debugDescription: "expected \"dynamic\", \"none\" or a number"))
        }
        self = scale
    }

    public func encode(to encoder: any Encoder) throws {
        try configValue.encode(to: encoder)
    }
}
