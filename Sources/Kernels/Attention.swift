/// Causal self-attention, multi-head or grouped-query.
/// qkv (B, T, (NH + 2·NKV)·HS): per token [q (NH·HS) | k (NKV·HS) | v (NKV·HS)], head h at columns
/// h·HS..<(h+1)·HS of its part. Query head h reads kv head h / (NH / NKV), so NKV = 1 is multi-query
/// attention and NKV = NH (the default, layout (B, T, 3·NH·HS)) is plain multi-head attention.
/// out (B, T, NH·HS); att (B, NH, T, T) saves the softmax probabilities for backward (zero above
/// the diagonal). Heads are whatever this rank holds, so a tensor-parallel slice works unchanged
/// (as long as each rank holds whole groups: NH and NKV divided alike).
public func attentionForward(_ out: FloatPointer, _ att: FloatPointer, _ qkv: ConstFloatPointer,
                             B: Int, T: Int, NH: Int, NKV: Int? = nil, HS: Int) {
    let heads = AttentionHeads(NH: NH, NKV: NKV, HS: HS)
    let C = heads.C, row = heads.row
    let scale = 1.0 / Float(HS).squareRoot()
    for b in 0..<B {
        for h in 0..<NH {
            let q = qkv + b * T * row + h * HS, k = qkv + b * T * row + heads.kOffset(h), v = k + heads.KV
            let p = att + (b * NH + h) * T * T
            // Scores for the full square: the masked half is overwritten below. Cheaper than T
            // small GEMV calls for the sizes this trainer runs.
            BLAS.sgemm(transA: false, transB: true, M: T, N: T, K: HS,
                       alpha: scale, q, lda: row, k, ldb: row, beta: 0.0, p, ldc: T)
            for t in 0..<T {
                causalSoftmaxRow(p + t * T, valid: t + 1, width: T)
            }
            BLAS.sgemm(transA: false, transB: false, M: T, N: HS, K: T,
                       alpha: 1.0, p, lda: T, v, ldb: row, beta: 0.0, out + b * T * C + h * HS, ldc: C)
        }
    }
}

/// Causal attention of n new tokens, at positions p0..<p0+n, over a cache of every position's keys
/// and values (the new ones already written): incremental decoding. q (n, qStride) with head h at
/// columns h·HS; keys, values (p0+n, NKV·HS); out (n, NH·HS); `scores` holds n·(p0+n) floats.
/// The same products as `attentionForward`'s rows p0..<p0+n, without saving the probabilities.
public func cachedAttentionForward(_ out: FloatPointer, _ scores: FloatPointer, _ q: ConstFloatPointer, qStride: Int,
                                   _ keys: ConstFloatPointer, _ values: ConstFloatPointer,
                                   n: Int, position0 p0: Int, NH: Int, NKV: Int, HS: Int) {
    precondition(NKV >= 1 && NH % NKV == 0, "\(NH) query heads do not form groups over \(NKV) kv heads")
    let L = p0 + n, KV = NKV * HS, group = NH / NKV
    let scale = 1.0 / Float(HS).squareRoot()
    for h in 0..<NH {
        let kv = (h / group) * HS
        BLAS.sgemm(transA: false, transB: true, M: n, N: L, K: HS,
                   alpha: scale, q + h * HS, lda: qStride, keys + kv, ldb: KV, beta: 0.0, scores, ldc: L)
        for t in 0..<n {
            causalSoftmaxRow(scores + t * L, valid: p0 + t + 1, width: L)
        }
        BLAS.sgemm(transA: false, transB: false, M: n, N: HS, K: L,
                   alpha: 1.0, scores, lda: L, values + kv, ldb: KV, beta: 0.0, out + h * HS, ldc: NH * HS)
    }
}

@inline(__always)
private func causalSoftmaxRow(_ row: FloatPointer, valid: Int, width: Int) {
    let sum = exponentiateInPlace(row, valid, shift: maximum(row, valid))
    let inverse = 1.0 / sum
    for j in 0..<valid { row[j] *= inverse }
    for j in valid..<width { row[j] = 0 }
}

/// dqkv (B, T, (NH + 2·NKV)·HS) = gradient of attention (overwritten). A kv head's dk and dv are the
/// sums over the NH / NKV query heads that read it: the group's first head writes them (beta 0),
/// the others add theirs (beta 1), so with NKV = NH each head simply writes its own.
/// `scratch` holds T·T floats.
public func attentionBackward(_ dqkv: FloatPointer, _ scratch: FloatPointer,
                              _ dout: ConstFloatPointer, _ att: ConstFloatPointer,
                              _ qkv: ConstFloatPointer, B: Int, T: Int, NH: Int, NKV: Int? = nil, HS: Int) {
    let heads = AttentionHeads(NH: NH, NKV: NKV, HS: HS)
    let C = heads.C, row = heads.row
    let scale = 1.0 / Float(HS).squareRoot()
    for b in 0..<B {
        for h in 0..<NH {
            let q = qkv + b * T * row + h * HS, k = qkv + b * T * row + heads.kOffset(h), v = k + heads.KV
            let dq = dqkv + b * T * row + h * HS, dk = dqkv + b * T * row + heads.kOffset(h), dv = dk + heads.KV
            let kvBeta: Float = h % heads.group == 0 ? 0.0 : 1.0
            let p = att + (b * NH + h) * T * T
            let dy = dout + b * T * C + h * HS
            // dP = dY · Vᵀ and dV (+)= Pᵀ · dY.
            BLAS.sgemm(transA: false, transB: true, M: T, N: T, K: HS,
                       alpha: 1.0, dy, lda: C, v, ldb: row, beta: 0.0, scratch, ldc: T)
            BLAS.sgemm(transA: true, transB: false, M: T, N: HS, K: T,
                       alpha: 1.0, p, lda: T, dy, ldb: C, beta: kvBeta, dv, ldc: row)
            // Softmax backward in place: dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale.
            for t in 0..<T {
                let pr = p + t * T, dr = scratch + t * T
                let rowDot = dot(pr, dr, t + 1)
                for j in 0...t { dr[j] = pr[j] * (dr[j] - rowDot) * scale }
                for j in (t + 1)..<T { dr[j] = 0 }
            }
            // dQ = dS · K and dK (+)= dSᵀ · Q.
            BLAS.sgemm(transA: false, transB: false, M: T, N: HS, K: T,
                       alpha: 1.0, scratch, lda: T, k, ldb: row, beta: 0.0, dq, ldc: row)
            BLAS.sgemm(transA: true, transB: false, M: T, N: HS, K: T,
                       alpha: 1.0, scratch, lda: T, q, ldb: row, beta: kvBeta, dk, ldc: row)
        }
    }
}

/// Where each head's columns lie in a fused qkv row.
private struct AttentionHeads {
    let HS: Int, C: Int, KV: Int, row: Int, group: Int

    init(NH: Int, NKV: Int?, HS: Int) {
        let NKV = NKV ?? NH
        precondition(NKV > 0 && NH % NKV == 0, "NH = \(NH) query heads do not split into NKV = \(NKV) groups")
        self.HS = HS
        C = NH * HS
        KV = NKV * HS
        row = C + 2 * KV
        group = NH / NKV
    }

    /// Column of query head h's key (its value is KV further on).
    @inline(__always) func kOffset(_ h: Int) -> Int { C + (h / group) * HS }
}
