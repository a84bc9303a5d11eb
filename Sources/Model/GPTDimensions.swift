/// The sizes that define a GPT, independent of how it is split across ranks.
/// L layers, C channels, NH heads, T block size (context), V vocabulary.
public struct GPTDimensions: Sendable, Equatable {
    public let nLayer: Int
    public let nHead: Int
    public let nEmbd: Int
    public let blockSize: Int
    public let vocabSize: Int
    /// Mixture-of-experts MLPs in every block instead of dense ones, when set.
    public let experts: ExpertSettings?

    public init(nLayer: Int, nHead: Int, nEmbd: Int, blockSize: Int, vocabSize: Int, experts: ExpertSettings? = nil) {
        precondition(nEmbd % nHead == 0, "n_embd \(nEmbd) must be divisible by n_head \(nHead)")
        self.nLayer = nLayer
        self.nHead = nHead
        self.nEmbd = nEmbd
        self.blockSize = blockSize
        self.vocabSize = vocabSize
        self.experts = experts
    }

    public var headSize: Int { nEmbd / nHead }

    /// Model FLOPs per trained token (forward + backward): 6·N + 12·L·C·T, with N counting every
    /// parameter but the position embedding (PaLM's and nanoGPT's convention).
    public func flopsPerToken(parameterCount: Int) -> Double {
        let nonPositional = Double(parameterCount - blockSize * nEmbd)
        return 6 * nonPositional + 12 * Double(nLayer * nEmbd * blockSize)
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
