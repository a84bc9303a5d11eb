import Kernels

/// The parts a decoder block and its ends are built from: each a forward/backward pair in Kernels,
/// chosen here once (a family's choices, or the keys that override them) and dispatched by the
/// model. GPT-2: LayerNorm, learned positions, multi-head attention, GELU MLP of 4·C, biases, head
/// tied to the token embedding. LLaMA: RMSNorm, rotary positions, grouped-query attention,
/// SwiGLU MLP, no biases, an untied head. T5 (v1.1): RMSNorm, a relative position bias and
/// unscaled attention scores, gated-GELU MLP, no biases, an untied head, fan-in initialisation.
public struct DecoderParts: Sendable, Equatable {
    public enum Norm: Sendable, Equatable {
        /// With weight and bias.
        case layerNorm
        /// With weight only.
        case rmsNorm
    }

    public enum Position: Sendable, Equatable {
        /// A position embedding (block_size, C) added to the token embedding.
        case learned
        /// Rotary embedding of the queries and keys, angles position · theta^(−2i/HS).
        case rotary(theta: Double)
        /// T5's bucketed relative position bias on the attention scores: one learned (buckets, NH)
        /// table per stack, owned by its first layer and shared by the rest; scores unscaled
        /// (T5 folds 1/√HS into the initialisation).
        case relative(buckets: Int, maxDistance: Int)
    }

    public enum MLP: Sendable, Equatable {
        /// proj(gelu(fc x)), fc: (H, C).
        case gelu
        /// proj(silu(gate x) · up x), gate and up fused in fc: (2H, C) rows [gate | up].
        case swiglu
        /// proj(gelu(gate x) · up x) with GELU's tanh form (T5 v1.1's gated-GELU), fc as SwiGLU's.
        case geglu
    }

    public enum Initialization: Sendable, Equatable {
        /// GPT-2's: N(0, 0.02), the residual projections scaled by 1/√(2L).
        case gpt2
        /// T5's (Mesh TensorFlow's): a weight's std 1/√fan-in, the queries' 1/√(C·HS) (the
        /// attention scale folded in), the token embedding's 1.
        case fanIn
    }

    public var norm: Norm
    public var normEps: Float
    public var position: Position
    /// Key/value heads: n_head for multi-head attention, fewer for grouped-query, 1 for multi-query.
    public var kvHeads: Int
    public var mlp: MLP
    /// H, the MLP's hidden width.
    public var ffnHidden: Int
    /// Biases on the linear layers (a LayerNorm always has its own).
    public var bias: Bool
    /// The output head is the token embedding (else a separate `lm_head.weight`).
    public var tiedEmbeddings: Bool
    public var initialization: Initialization

    public init(norm: Norm, normEps: Float, position: Position, kvHeads: Int, mlp: MLP, ffnHidden: Int,
                bias: Bool, tiedEmbeddings: Bool, initialization: Initialization = .gpt2) {
        self.norm = norm
        self.normEps = normEps
        self.position = position
        self.kvHeads = kvHeads
        self.mlp = mlp
        self.ffnHidden = ffnHidden
        self.bias = bias
        self.tiedEmbeddings = tiedEmbeddings
        self.initialization = initialization
    }

    /// GPT-2's parts for n_head heads of n_embd channels.
    public static func gpt2(nHead: Int, nEmbd: Int) -> DecoderParts {
        DecoderParts(norm: .layerNorm, normEps: 1e-5, position: .learned, kvHeads: nHead, mlp: .gelu,
                     ffnHidden: 4 * nEmbd, bias: true, tiedEmbeddings: true)
    }

    /// T5's parts, as Hugging Face's T5 v1.1 configs have them.
    public static func t5(nHead: Int, ffnHidden: Int, buckets: Int, maxDistance: Int) -> DecoderParts {
        DecoderParts(norm: .rmsNorm, normEps: 1e-6, position: .relative(buckets: buckets, maxDistance: maxDistance),
                     kvHeads: nHead, mlp: .geglu, ffnHidden: ffnHidden, bias: false, tiedEmbeddings: false,
                     initialization: .fanIn)
    }

    /// Rows of the MLP's first linear: H, or 2H for a gated MLP's gate and up.
    public var fcRows: Int { mlp == .gelu ? ffnHidden : 2 * ffnHidden }

    /// Whether q, k and v are one fused parameter (`attn.c_attn`, rows [q | k | v]); with fewer kv
    /// heads, or T5's initialisation (q's differs), they are three (`attn.q`, `attn.k`, `attn.v`),
    /// adjacent in memory, so that a rank's slices of them still form one [q | k | v] matrix for a
    /// single product.
    func fusedQKV(nHead: Int) -> Bool { kvHeads == nHead && initialization == .gpt2 }

    /// The attention scores' scale: nil for 1/√HS, 1 under a relative position bias (T5).
    public var attentionScale: Float? {
        if case .relative = position { return 1 }
        return nil
    }

    /// The relative position bias's buckets and distance, under relative positions.
    public var relativeBuckets: (buckets: Int, maxDistance: Int)? {
        if case .relative(let buckets, let maxDistance) = position { return (buckets, maxDistance) }
        return nil
    }

    /// In words, for the start-up line: "rmsnorm (eps 1e-05), rope (theta 10000), grouped-query attention
    /// (2 kv heads), swiglu MLP of 388, no biases, untied head".
    public func summary(nHead: Int) -> String {
        let attention = kvHeads == nHead ? "multi-head attention"
            : kvHeads == 1 ? "multi-query attention" : "grouped-query attention (\(kvHeads) kv heads)"
        let positions = switch position {
        case .learned: "learned positions"
        case .rotary(let theta): "rope (theta \(theta.formatted))"
        case .relative(let buckets, let maxDistance): "relative position bias (\(buckets) buckets to \(maxDistance))"
        }
        return ["\(norm == .layerNorm ? "layernorm" : "rmsnorm") (eps \(normEps))", positions, attention,
                "\(mlp) MLP of \(ffnHidden)", bias ? "biases" : "no biases",
                tiedEmbeddings ? "tied head" : "untied head"].joined(separator: ", ")
    }

    /// Whether a norm has a bias.
    var normHasBias: Bool { norm == .layerNorm }
}

private extension Double {
    /// Whole numbers without a fraction.
    var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}

extension DecoderParts.MLP {
    /// hidden (rows, H) = the activation of the first linear's output fc (rows, H or 2H).
    func forward(_ hidden: FloatPointer, _ fc: ConstFloatPointer, rows: Int, H: Int) {
        switch self {
        case .gelu: geluForward(hidden, fc, N: rows * H)
        case .swiglu: swigluForward(hidden, fc, N: rows, H: H)
        case .geglu: gegluForward(hidden, fc, N: rows, H: H)
        }
    }

    /// dfc (rows, H or 2H) = the gradient of `forward`'s input, from dhidden (rows, H) and fc.
    func backward(_ dfc: FloatPointer, _ dhidden: ConstFloatPointer, _ fc: ConstFloatPointer, rows: Int, H: Int) {
        switch self {
        case .gelu: geluBackward(dfc, dhidden, fc, N: rows * H)
        case .swiglu: swigluBackward(dfc, dhidden, fc, N: rows, H: H)
        case .geglu: gegluBackward(dfc, dhidden, fc, N: rows, H: H)
        }
    }
}
