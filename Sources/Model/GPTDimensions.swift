/// The sizes that define a decoder, independent of how it is split across ranks, and the parts
/// it is built from. L layers, C channels, NH heads (NKV key/value heads), T block size
/// (context), V vocabulary, H the MLP's hidden width.
public struct GPTDimensions: Sendable, Equatable {
    public let nLayer: Int
    public let nHead: Int
    public let nEmbd: Int
    public let blockSize: Int
    public let vocabSize: Int
    /// Mixture-of-experts MLPs in every block instead of dense ones, when set; each expert is built
    /// like the dense MLP from `parts` (its activation, hidden width and biases).
    public let experts: ExpertSettings?
    public let parts: DecoderParts

    /// `parts` nil: GPT-2's.
    public init(nLayer: Int, nHead: Int, nEmbd: Int, blockSize: Int, vocabSize: Int, experts: ExpertSettings? = nil,
                parts: DecoderParts? = nil) {
        let parts = parts ?? .gpt2(nHead: nHead, nEmbd: nEmbd)
        precondition(nEmbd % nHead == 0, "n_embd \(nEmbd) must be divisible by n_head \(nHead)")
        precondition(parts.kvHeads >= 1 && nHead % parts.kvHeads == 0,
                     "n_head \(nHead) must be divisible by n_kv_head \(parts.kvHeads)")
        precondition(parts.position == .learned || (nEmbd / nHead) % 2 == 0,
                     "rotary positions need an even head size, got \(nEmbd / nHead)")
        self.nLayer = nLayer
        self.nHead = nHead
        self.nEmbd = nEmbd
        self.blockSize = blockSize
        self.vocabSize = vocabSize
        self.experts = experts
        self.parts = parts
    }

    public var headSize: Int { nEmbd / nHead }

    /// Rows of the attention's input projection: NH query heads and NKV key and value heads.
    public var qkvRows: Int { (nHead + 2 * parts.kvHeads) * headSize }

    /// Model FLOPs per trained token (forward + backward): 6·N + 12·L·C·T, with N counting every
    /// parameter but the position embedding (PaLM's and nanoGPT's convention).
    public func flopsPerToken(parameterCount: Int) -> Double {
        let positional = parts.position == .learned ? blockSize * nEmbd : 0
        return 6 * Double(parameterCount - positional) + 12 * Double(nLayer * nEmbd * blockSize)
    }
}

/// How a mixture-of-experts MLP routes: `count` expert MLPs (each the dense MLP's shape), `topK` of
/// them per token with renormalised gates, at most `capacity(T)` tokens per expert from one
/// sequence of T tokens, and the load-balancing loss weighted by `auxLossCoefficient`.
public struct ExpertSettings: Sendable, Equatable {
    public let count: Int
    public let topK: Int
    public let capacityFactor: Double
    public let auxLossCoefficient: Double

    public init(count: Int, topK: Int, capacityFactor: Double, auxLossCoefficient: Double) {
        precondition(count >= 1 && (1...count).contains(topK), "top_k \(topK) must be in 1...\(count)")
        self.count = count
        self.topK = topK
        self.capacityFactor = capacityFactor
        self.auxLossCoefficient = auxLossCoefficient
    }

    /// ceil(capacity_factor · T · top_k / n_experts), per expert and sequence.
    public func capacity(tokens T: Int) -> Int {
        Int((capacityFactor * Double(T * topK) / Double(count)).rounded(.up))
    }
}
