import Kernels

/// Generation from an encoder-decoder (T5): `encode` runs the input through the encoder once and
/// computes every decoder layer's cross-attention keys and values from its output once; `append`
/// then decodes the target token by token with `IncrementalDecoder`'s self-attention cache, so a
/// target token costs one decoder token's forward whatever the input's length.
///
/// The input is encoded at its own length L ≤ S, with no padding: its rows are what a full
/// forward computes for the first L of S padded positions (padding is masked out of every key
/// set), and the logits equal `GPT.forward`'s over the same tokens up to summation order.
public final class EncoderDecoderGenerator {
    public let model: GPT
    public let decoder: IncrementalDecoder
    /// Inputs encoded so far: one per `encode`, however many tokens are decoded after it.
    public private(set) var encodings = 0

    /// (S, ·) the encoder's working rows.
    private let rows: SequenceRows
    /// Per decoder layer: the cross-attention keys and values of the current input (S, 2·C).
    private let crossKV: [FloatPointer]
    /// The encoder stack's relative position bias.
    private let bias: RelativePositionBias?

    public static func supports(_ model: GPT) -> Bool { model.dims.encoder != nil && IncrementalDecoder.supports(model) }

    public init(model: GPT) {
        precondition(Self.supports(model), "encoder-decoder generation runs the whole fp32 model with dense MLPs")
        self.model = model
        let d = model.dims, S = d.encoderBlockSize
        decoder = IncrementalDecoder(model: model)
        rows = SequenceRows(d, rows: S, scoreCount: d.nHead * S * S)
        crossKV = (d.encoderLayers..<d.nLayer).map { _ in .allocate(capacity: S * 2 * d.nEmbd) }
        bias = model.sequenceBias(layer: 0)
    }

    deinit { crossKV.forEach { $0.deallocate() } }

    /// Encodes `input` (1...S ids, ending with the end-of-text id as training inputs do) and starts
    /// an empty target: the next `append` is the decoder's first position.
    public func encode(_ input: [Int32]) {
        let d = model.dims, L = input.count, C = d.nEmbd, NH = d.nHead, HS = d.headSize
        precondition((1...d.encoderBlockSize).contains(L), "an input of \(L) ids; the encoder reads 1...\(d.encoderBlockSize)")
        let p = model.store.values
        input.withUnsafeBufferPointer { embeddingForward(rows.x, $0.baseAddress!, p + model.wte!, nil, B: 1, T: L, C: C) }
        for l in 0..<d.encoderLayers {
            model.sequenceBlock(l, rows, n: L, cross: nil) { qkv, attended in
                attentionForward(attended, rows.scores, qkv, bias: bias, B: 1, T: L, NH: NH, NKV: NH, HS: HS,
                                 scale: d.parts.attentionScale, mask: .none)
            }
        }
        // The encoder's final norm lives on the first decoder block.
        let first = BlockView(p, model.blockOffsets[d.encoderLayers])
        model.normForward(rows.normed, rows.mean, rows.rstd, rows.x, first[.encoderNormWeight]!, first[.encoderNormBias],
                          N: L, C: C)
        for (i, l) in (d.encoderLayers..<d.nLayer).enumerated() {
            let w = BlockView(p, model.blockOffsets[l])
            linearForward(crossKV[i], rows.normed, w.crossKVw, w.crossKVb, BT: L, C: C, OC: 2 * C)
        }
        decoder.cross = crossKV.map { CrossKeysValues(kv: $0, length: L) }
        decoder.reset()
        encodings += 1
    }

    /// Runs decoder `tokens` at the next target positions (the first the start id) and returns the
    /// logits (V) that follow the last of them.
    public func append(_ tokens: UnsafeBufferPointer<Int32>) -> UnsafePointer<Float> { decoder.append(tokens) }
}
