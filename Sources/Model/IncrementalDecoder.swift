import Kernels

/// Generation one token at a time: every layer's keys and values of the positions so far stay in a
/// cache, so a new token costs one token's forward (each weight read once) instead of the whole
/// window's. Runs the whole model in one process, in fp32, with dense MLPs (a mixture of experts
/// routes with a capacity that depends on the sequence, so its generation recomputes the window).
///
/// Positions run 0..<block_size. Within them the logits equal a full forward over the same tokens
/// up to summation order (the same products, fewer rows).
public final class IncrementalDecoder {
    public let model: GPT
    /// Positions held in the cache.
    public private(set) var length = 0
    /// The most positions the cache holds: the model's block size.
    public var capacity: Int { model.dims.blockSize }

    /// Per layer: keys and values (capacity, NKV·HS).
    private let keys: [FloatPointer], values: [FloatPointer]
    /// (capacity, ·) working rows of one append, and the last row's logits (V).
    private let x, normed, qkv, attended, branch, fc, hidden, scores, mean, rstd, logits: FloatPointer
    private let allocations: [FloatPointer]

    public static func supports(_ model: GPT) -> Bool {
        model.partition == .whole(model.dims) && model.dims.experts == nil && model.linears.compute == .fp32
            && model.dims.encoder == nil
    }

    public init(model: GPT) {
        precondition(Self.supports(model), "incremental decoding runs the whole fp32 model with dense MLPs")
        self.model = model
        let d = model.dims, T = d.blockSize, C = d.nEmbd, kv = d.parts.kvHeads * d.headSize
        var made: [FloatPointer] = []
        func buffer(_ count: Int) -> FloatPointer {
            let p = FloatPointer.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            made.append(p)
            return p
        }
        keys = (0..<d.nLayer).map { _ in buffer(T * kv) }
        values = (0..<d.nLayer).map { _ in buffer(T * kv) }
        x = buffer(T * C); normed = buffer(T * C); qkv = buffer(T * d.qkvRows); attended = buffer(T * C)
        branch = buffer(T * C); fc = buffer(T * d.parts.fcRows); hidden = buffer(T * d.parts.ffnHidden)
        scores = buffer(T * T); mean = buffer(T); rstd = buffer(T); logits = buffer(d.vocabSize)
        allocations = made
    }

    deinit { allocations.forEach { $0.deallocate() } }

    /// Forgets every position.
    public func reset() { length = 0 }

    /// Runs `tokens` at positions length..<length + n (at most `capacity` in all) and returns the
    /// logits (V) that follow the last of them.
    public func append(_ tokens: UnsafeBufferPointer<Int32>) -> UnsafePointer<Float> {
        let n = tokens.count, p0 = length
        precondition(n >= 1 && p0 + n <= capacity, "\(n) tokens after \(p0) exceed the cache of \(capacity)")
        let d = model.dims, parts = d.parts, C = d.nEmbd, HS = d.headSize
        let NH = d.nHead, NKV = parts.kvHeads, KV = NKV * HS, rows = d.qkvRows
        let H = parts.ffnHidden, nC = n * C
        let p = model.store.values
        embeddingForward(x, tokens.baseAddress!, p + model.wte!, model.wpe.map { UnsafePointer(p + $0 + p0 * C) },
                         B: 1, T: n, C: C)
        for l in 0..<d.nLayer {
            let w = BlockView(p, model.blockOffsets[l])
            model.normForward(normed, mean, rstd, x, w.ln1w, w.ln1b, N: n, C: C)
            linearForward(qkv, normed, w.qkvw, w.qkvb, BT: n, C: C, OC: rows)
            if let rope = model.rope { ropeForward(qkv, rope, B: 1, T: n, NH: NH, NKV: NKV, HS: HS, position0: p0) }
            for t in 0..<n {
                let row = qkv + t * rows + NH * HS
                (keys[l] + (p0 + t) * KV).update(from: row, count: KV)
                (values[l] + (p0 + t) * KV).update(from: row + KV, count: KV)
            }
            cachedAttentionForward(attended, scores, qkv, qStride: rows, keys[l], values[l], n: n, position0: p0,
                                   NH: NH, NKV: NKV, HS: HS)
            linearForward(branch, attended, w.attProjw, w.attProjb, BT: n, C: C, OC: C)
            residualForward(x, x, branch, N: nC)
            model.normForward(normed, mean, rstd, x, w.ln2w, w.ln2b, N: n, C: C)
            linearForward(fc, normed, w.fcw, w.fcb, BT: n, C: C, OC: parts.fcRows)
            parts.mlp.forward(hidden, fc, rows: n, H: H)
            linearForward(branch, hidden, w.fcProjw, w.fcProjb, BT: n, C: H, OC: C)
            residualForward(x, x, branch, N: nC)
        }
        model.normForward(normed, mean, rstd, x + (n - 1) * C, p + model.lnfw!, model.lnfb.map { UnsafePointer(p + $0) },
                          N: 1, C: C)
        linearForward(logits, normed, p + model.headWeight!, nil, BT: 1, C: C, OC: d.vocabSize)
        length = p0 + n
        return UnsafePointer(logits)
    }
}
