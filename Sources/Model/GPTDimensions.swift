/// The sizes that define a GPT, independent of how it is split across ranks.
/// L layers, C channels, NH heads, T block size (context), V vocabulary.
public struct GPTDimensions: Sendable, Equatable {
    public let nLayer: Int
    public let nHead: Int
    public let nEmbd: Int
    public let blockSize: Int
    public let vocabSize: Int

    public init(nLayer: Int, nHead: Int, nEmbd: Int, blockSize: Int, vocabSize: Int) {
        precondition(nEmbd % nHead == 0, "n_embd \(nEmbd) must be divisible by n_head \(nHead)")
        self.nLayer = nLayer
        self.nHead = nHead
        self.nEmbd = nEmbd
        self.blockSize = blockSize
        self.vocabSize = vocabSize
    }

    public var headSize: Int { nEmbd / nHead }

    /// Model FLOPs per trained token (forward + backward): 6·N + 12·L·C·T, with N counting every
    /// parameter but the position embedding (PaLM's and nanoGPT's convention).
    public func flopsPerToken(parameterCount: Int) -> Double {
        let nonPositional = Double(parameterCount - blockSize * nEmbd)
        return 6 * nonPositional + 12 * Double(nLayer * nEmbd * blockSize)
    }
}
