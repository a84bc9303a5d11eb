import Kernels

/// Working rows for running whole blocks over one sequence outside training (generation): fp32,
/// the whole model on one rank, dense MLPs, nothing saved for a backward. Sized for `rows`
/// positions and `scoreCount` floats of attention scores (what the largest attention call needs).
final class SequenceRows {
    let rows: Int
    /// (rows, C) the residual stream; (rows, ·) a block's working rows; attention scores; (V) one
    /// row's logits.
    let x, normed, qkv, attended, branch, fc, hidden, scores, mean, rstd, logits: FloatPointer
    private let allocations: [FloatPointer]

    init(_ dims: GPTDimensions, rows: Int, scoreCount: Int) {
        let C = dims.nEmbd
        var made: [FloatPointer] = []
        func buffer(_ count: Int) -> FloatPointer {
            let p = FloatPointer.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            made.append(p)
            return p
        }
        self.rows = rows
        x = buffer(rows * C); normed = buffer(rows * C); qkv = buffer(rows * max(dims.qkvRows, C))
        attended = buffer(rows * C); branch = buffer(rows * C); fc = buffer(rows * dims.parts.fcRows)
        hidden = buffer(rows * dims.parts.ffnHidden); scores = buffer(scoreCount)
        mean = buffer(rows); rstd = buffer(rows); logits = buffer(dims.vocabSize)
        allocations = made
    }

    deinit { allocations.forEach { $0.deallocate() } }
}

/// An encoder-decoder's encoder output as one decoder block reads it: the block's cross-attention
/// keys and values of the input's `length` positions, rows [k (C) | v (C)].
struct CrossKeysValues {
    let kv: ConstFloatPointer
    let length: Int
}

extension GPT {
    /// Runs block `l` over the n rows of `r.x` in place, as `blockForward` does for one sequence:
    /// x += the self-attention branch (`attend` writes the heads' outputs (n, C) into its second
    /// argument from the block's qkv rows (n, qkvRows) in its first), x += the cross-attention branch
    /// over `cross` when given, x += the MLP branch. The whole model in fp32 with dense MLPs.
    func sequenceBlock(_ l: Int, _ r: SequenceRows, n: Int, cross: CrossKeysValues?,
                       attend: (_ qkv: FloatPointer, _ out: FloatPointer) -> Void) {
        let parts = dims.parts, C = dims.nEmbd, nC = n * C
        let w = BlockView(store.values, blockOffsets[l])
        normForward(r.normed, r.mean, r.rstd, r.x, w.ln1w, w.ln1b, N: n, C: C)
        linearForward(r.qkv, r.normed, w.qkvw, w.qkvb, BT: n, C: C, OC: dims.qkvRows)
        attend(r.qkv, r.attended)
        linearForward(r.branch, r.attended, w.attProjw, w.attProjb, BT: n, C: C, OC: C)
        residualForward(r.x, r.x, r.branch, N: nC)
        if let cross {
            normForward(r.normed, r.mean, r.rstd, r.x, w.crossNormw, w.crossNormb, N: n, C: C)
            linearForward(r.qkv, r.normed, w.crossQw, w.crossQb, BT: n, C: C, OC: C)
            cachedCrossAttentionForward(r.attended, r.scores, r.qkv, qStride: C, cross.kv, n: n, S: cross.length,
                                        NH: dims.nHead, NKV: dims.nHead, HS: dims.headSize,
                                        scale: parts.attentionScale)
            linearForward(r.branch, r.attended, w.crossProjw, w.crossProjb, BT: n, C: C, OC: C)
            residualForward(r.x, r.x, r.branch, N: nC)
        }
        normForward(r.normed, r.mean, r.rstd, r.x, w.ln2w, w.ln2b, N: n, C: C)
        linearForward(r.fc, r.normed, w.fcw, w.fcb, BT: n, C: C, OC: parts.fcRows)
        parts.mlp.forward(r.hidden, r.fc, rows: n, H: parts.ffnHidden)
        linearForward(r.branch, r.hidden, w.fcProjw, w.fcProjb, BT: n, C: parts.ffnHidden, OC: C)
        residualForward(r.x, r.x, r.branch, N: nC)
    }

    /// The stack's relative position bias for one sequence: the table on `layer`'s stack's first
    /// block, all heads (ld NH); nil without relative positions.
    func sequenceBias(layer: Int) -> RelativePositionBias? {
        guard let buckets = relativeBuckets else { return nil }
        let first = dims.stackStart(layer)
        let table = BlockView(store.values, blockOffsets[first])[.relativeBias]!
        return RelativePositionBias(table: table, ld: dims.nHead,
                                    buckets: buckets[dims.isEncoderLayer(layer) || dims.encoder == nil ? 0 : 1])
    }

    /// The logits (V) after row `row` of `r.x`: the final norm, then the head.
    func sequenceLogits(_ r: SequenceRows, row: Int) -> UnsafePointer<Float> {
        let p = store.values, C = dims.nEmbd
        normForward(r.normed, r.mean, r.rstd, r.x + row * C, p + lnfw!, lnfb.map { UnsafePointer(p + $0) }, N: 1, C: C)
        linearForward(r.logits, r.normed, p + headWeight!, nil, BT: 1, C: C, OC: dims.vocabSize)
        return UnsafePointer(r.logits)
    }
}
