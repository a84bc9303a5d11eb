import Kernels

/// Generation one token at a time: every layer's keys and values of the positions so far stay in a
/// cache, so a new token costs one token's forward (each weight read once) instead of the whole
/// window's. Runs the whole model in one process, in fp32, with dense MLPs (a mixture of experts
/// routes with a capacity that depends on the sequence, so its generation recomputes the window).
///
/// An encoder-decoder's decoder stack runs here too, its cross-attention reading the keys and
/// values `EncoderDecoderGenerator` computed once per input (`cross`).
///
/// Positions run 0..<block_size. Within them the logits equal a full forward over the same tokens
/// up to summation order (the same products, fewer rows).
public final class IncrementalDecoder {
    public let model: GPT
    /// Positions held in the cache.
    public private(set) var length = 0
    /// The most positions the cache holds: the model's block size.
    public var capacity: Int { model.dims.blockSize }
    /// An encoder-decoder's current input, per decoder layer: what its cross-attention reads.
    var cross: [CrossKeysValues]?

    /// Per decoder layer: keys and values (capacity, NKV·HS).
    private let keys: [FloatPointer], values: [FloatPointer]
    private let rows: SequenceRows
    /// The decoder stack's relative position bias, under relative positions.
    private let bias: RelativePositionBias?

    public static func supports(_ model: GPT) -> Bool {
        model.partition == .whole(model.dims) && model.dims.experts == nil && model.linears.compute == .fp32
    }

    public init(model: GPT) {
        precondition(Self.supports(model), "incremental decoding runs the whole fp32 model with dense MLPs")
        self.model = model
        let d = model.dims, T = d.blockSize, kv = d.parts.kvHeads * d.headSize
        let layers = d.nLayer - d.encoderLayers
        keys = (0..<layers).map { _ in .allocate(capacity: T * kv) }
        values = (0..<layers).map { _ in .allocate(capacity: T * kv) }
        // Cached self-attention scores n·(p0 + n) ≤ T·T; cross-attention's n·S.
        rows = SequenceRows(d, rows: T, scoreCount: T * max(T, d.encoderBlockSize))
        bias = model.sequenceBias(layer: d.encoderLayers)
    }

    deinit { (keys + values).forEach { $0.deallocate() } }

    /// Forgets every position.
    public func reset() { length = 0 }

    /// Runs `tokens` at positions length..<length + n (at most `capacity` in all) and returns the
    /// logits (V) that follow the last of them.
    public func append(_ tokens: UnsafeBufferPointer<Int32>) -> UnsafePointer<Float> {
        let n = tokens.count, p0 = length
        precondition(n >= 1 && p0 + n <= capacity, "\(n) tokens after \(p0) exceed the cache of \(capacity)")
        precondition(model.dims.encoder == nil || cross != nil, "an encoder-decoder decodes after its input is encoded")
        let d = model.dims, C = d.nEmbd, HS = d.headSize, NH = d.nHead, NKV = d.parts.kvHeads, KV = NKV * HS
        let p = model.store.values
        embeddingForward(rows.x, tokens.baseAddress!, p + model.wte!, model.wpe.map { UnsafePointer(p + $0 + p0 * C) },
                         B: 1, T: n, C: C)
        for (i, l) in (d.encoderLayers..<d.nLayer).enumerated() {
            model.sequenceBlock(l, rows, n: n, cross: cross?[i]) { qkv, attended in
                if let rope = model.rope { ropeForward(qkv, rope, B: 1, T: n, NH: NH, NKV: NKV, HS: HS, position0: p0) }
                for t in 0..<n {
                    let row = qkv + t * d.qkvRows + NH * HS
                    (keys[i] + (p0 + t) * KV).update(from: row, count: KV)
                    (values[i] + (p0 + t) * KV).update(from: row + KV, count: KV)
                }
                cachedAttentionForward(attended, rows.scores, qkv, qStride: d.qkvRows, keys[i], values[i], bias: bias,
                                       n: n, position0: p0, NH: NH, NKV: NKV, HS: HS, scale: d.parts.attentionScale)
            }
        }
        length = p0 + n
        return model.sequenceLogits(rows, row: n - 1)
    }
}
