/// The sizes that define a decoder, or an encoder-decoder, independent of how it is split across
/// ranks, and the parts it is built from. L layers, C channels, NH heads (NKV key/value heads),
/// T block size (context; an encoder-decoder's target length), V vocabulary, H the MLP's hidden
/// width; S an encoder-decoder's input length.
///
/// An encoder-decoder (T5) is one list of L layers: the encoder's first (bidirectional
/// self-attention over S inputs), then the decoder's (causal self-attention over T targets, then
/// cross-attention over the encoder's output). Pipeline stages take contiguous runs of that list,
/// as they do a decoder's layers.
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
    /// An encoder-decoder's encoder: its layers (the first of nLayer) and input length S; nil for a
    /// decoder.
    public let encoder: EncoderShape?

    /// `parts` nil: GPT-2's.
    public init(nLayer: Int, nHead: Int, nEmbd: Int, blockSize: Int, vocabSize: Int, experts: ExpertSettings? = nil,
                parts: DecoderParts? = nil, encoder: EncoderShape? = nil) {
        let parts = parts ?? .gpt2(nHead: nHead, nEmbd: nEmbd)
        precondition(nEmbd % nHead == 0, "n_embd \(nEmbd) must be divisible by n_head \(nHead)")
        precondition(parts.kvHeads >= 1 && nHead % parts.kvHeads == 0,
                     "n_head \(nHead) must be divisible by n_kv_head \(parts.kvHeads)")
        if case .rotary = parts.position {
            precondition((nEmbd / nHead) % 2 == 0, "rotary positions need an even head size, got \(nEmbd / nHead)")
        }
        if let encoder {
            precondition(encoder.layers >= 1 && encoder.layers < nLayer && encoder.blockSize >= 1,
                         "an encoder of \(encoder.layers) of \(nLayer) layers over \(encoder.blockSize) inputs")
            precondition(parts.kvHeads == nHead && parts.position != .learned,
                         "an encoder-decoder has multi-head attention and no learned positions")
        }
        self.nLayer = nLayer
        self.nHead = nHead
        self.nEmbd = nEmbd
        self.blockSize = blockSize
        self.vocabSize = vocabSize
        self.experts = experts
        self.parts = parts
        self.encoder = encoder
    }

    public var headSize: Int { nEmbd / nHead }

    /// Layers of the encoder (0 for a decoder): layers 0..<encoderLayers are the encoder's.
    public var encoderLayers: Int { encoder?.layers ?? 0 }
    /// S: the encoder's input length (0 for a decoder).
    public var encoderBlockSize: Int { encoder?.blockSize ?? 0 }
    public func isEncoderLayer(_ layer: Int) -> Bool { layer < encoderLayers }
    /// The first layer of `layer`'s stack: 0, or the decoder's first of an encoder-decoder.
    public func stackStart(_ layer: Int) -> Int { isEncoderLayer(layer) ? 0 : encoderLayers }
    /// Positions `layer` attends over: S in the encoder, T in the decoder.
    public func positions(_ layer: Int) -> Int { isEncoderLayer(layer) ? encoderBlockSize : blockSize }

    /// Rows of the attention's input projection: NH query heads and NKV key and value heads.
    public var qkvRows: Int { (nHead + 2 * parts.kvHeads) * headSize }

    /// Model FLOPs per trained token (forward + backward): 6·N + 12·L·C·T, with N counting every
    /// parameter but the position embedding (PaLM's and nanoGPT's convention). An encoder-decoder's
    /// token is a target token, with its share S / T of the inputs: 6 times every weight's uses per
    /// target (an encoder layer's S / T, the decoder's and the head's 1; the token embedding, a
    /// lookup, none), plus the attention products per target: 12·C·S·S / T per encoder layer,
    /// 12·C·(T + S) per decoder layer (self- and cross-attention).
    public func flopsPerToken(parameterCount: Int) -> Double {
        let positional = parts.position == .learned ? blockSize * nEmbd : 0
        guard let encoder else {
            return 6 * Double(parameterCount - positional) + 12 * Double(nLayer * nEmbd * blockSize)
        }
        let S = Double(encoder.blockSize), T = Double(blockSize), C = Double(nEmbd)
        var usesPerTarget = 0.0
        for spec in parameterSpecs() where spec.name != GPTParameterName.tokenEmbedding {
            let encoderWeight = GPTParameterName.layer(of: spec.name).map(isEncoderLayer) ?? false
            let count = Double(spec.globalShape.reduce(1, *))
            usesPerTarget += encoderWeight ? count * S / T : count
        }
        let encoderAttention: Double = Double(encoder.layers) * S * S / T
        let decoderAttention: Double = Double(nLayer - encoder.layers) * (T + S)
        return 6 * usesPerTarget + 12 * C * (encoderAttention + decoderAttention)
    }
}

/// An encoder-decoder's encoder: the first `layers` layers, over inputs of `blockSize` (S) tokens.
public struct EncoderShape: Sendable, Equatable {
    public let layers: Int
    public let blockSize: Int

    public init(layers: Int, blockSize: Int) {
        self.layers = layers
        self.blockSize = blockSize
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
