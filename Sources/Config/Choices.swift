/// The closed sets of values some keys take; raw values are the TOML spellings.

/// `data.tokenizer`.
public enum TokenizerKind: String, Sendable, Codable, CaseIterable {
    case char, byte, sentencepiece
}

/// `precision.grad_allreduce`: the gradient wire format.
public enum WireType: String, Sendable, Codable, CaseIterable {
    case fp32, bf16, fp16
}

/// `train.objective`: language modelling, direct preference optimisation from `init_from`, and an
/// encoder-decoder's two: T5's span-corruption pretraining and supervised input-target pairs.
public enum TrainingObjective: String, Sendable, Codable, CaseIterable {
    case lm, dpo
    case spanCorruption = "span_corruption"
    case seq2seq

    /// Whether it trains an encoder-decoder (family t5), rather than a decoder.
    public var isEncoderDecoder: Bool { self == .spanCorruption || self == .seq2seq }
}

/// `model.family`: the parts a family's model is built from; each of the keys `norm`, `position`,
/// `mlp`, `bias`, `tie_embeddings` and `ffn_hidden` that a config does not write takes its family's.
public enum ModelFamily: String, Sendable, Codable, CaseIterable {
    /// t5: an encoder-decoder (T5 v1.1's parts).
    case gpt2, llama, t5

    public var norm: NormKind { self == .gpt2 ? .layernorm : .rmsnorm }
    public var position: PositionKind {
        switch self {
        case .gpt2: .learned
        case .llama: .rope
        case .t5: .relative
        }
    }
    public var mlp: MLPKind {
        switch self {
        case .gpt2: .gelu
        case .llama: .swiglu
        case .t5: .geglu
        }
    }
    public var bias: Bool { self == .gpt2 }
    public var tieEmbeddings: Bool { self == .gpt2 }

    /// The MLP's hidden width for `nEmbd` channels: GPT-2's 4C; a gated MLP's 8C/3 (the same
    /// parameters in its three matrices as in GELU's two of 4C), rounded up to a multiple of 64.
    public func ffnHidden(nEmbd: Int) -> Int {
        switch self {
        case .gpt2: 4 * nEmbd
        case .llama, .t5: (8 * nEmbd + 3 * 64 - 1) / (3 * 64) * 64
        }
    }
}

/// `model.norm`.
public enum NormKind: String, Sendable, Codable, CaseIterable {
    case layernorm, rmsnorm
}

/// `model.position`: a learned position embedding, rotary embedding of queries and keys, or T5's
/// relative position bias (family t5 only).
public enum PositionKind: String, Sendable, Codable, CaseIterable {
    case learned, rope, relative
}

/// `model.mlp`.
public enum MLPKind: String, Sendable, Codable, CaseIterable {
    case gelu, swiglu, geglu
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
