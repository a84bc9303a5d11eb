/// Cross-attention (T5's EncDecAttention): each of T decoder queries attends to all S encoder
/// positions (or a padded sequence's first keyLengths[b]), with no causal mask and no position bias. Multi-head or grouped-query, as self-attention.
/// q (B, T, NH·HS) from the decoder; kv (B, S, 2·NKV·HS), per encoder token [k (NKV·HS) | v (NKV·HS)]
/// projected from the encoder's output; query head h reads kv head h / (NH / NKV).
/// out (B, T, NH·HS); att (B, NH, T, S) saves the probabilities for backward.
/// Scores are scale · q·k, scale 1/√HS unless given (T5: 1).
///
/// Padded encoder inputs: keyLengths, when given, holds B lengths, 1 ≤ keyLengths[b] ≤ S, and
/// sequence b's decoder queries attend to its first keyLengths[b] encoder positions only. The
/// padded ones are left out of the scores, the max, the sum and the products (never read, so their
/// contents change nothing) and get probability exactly 0. keyLengths nil, or every length S, is
/// the unpadded kernel bit for bit.
public func crossAttentionForward(_ out: FloatPointer, _ att: FloatPointer, _ q: ConstFloatPointer,
                                  _ kv: ConstFloatPointer,
                                  B: Int, T: Int, S: Int, NH: Int, NKV: Int? = nil, HS: Int, scale: Float? = nil,
                                  keyLengths: UnsafePointer<Int32>? = nil) {
    let heads = CrossHeads(NH: NH, NKV: NKV, HS: HS)
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    for b in 0..<B {
        let L = keyLength(keyLengths, b, S)
        for h in 0..<NH {
            attendAll(out + b * T * heads.C + h * HS, att + (b * NH + h) * T * S,
                      q + b * T * heads.C + h * HS, qStride: heads.C, kv + b * S * heads.row + heads.kOffset(h),
                      n: T, S: S, valid: L, C: heads.C, HS: HS, KV: heads.KV, scale: scale)
        }
    }
}

/// Cross-attention of n new decoder tokens over one sequence's encoder keys and values, computed
/// once per input and read at every step (nothing grows). q (n, qStride) with head h at columns h·HS;
/// kv (S, 2·NKV·HS) as `crossAttentionForward`'s; out (n, NH·HS); `scores` holds n·S floats.
/// The same products as `crossAttentionForward`'s rows, without saving the probabilities.
/// keyLength (1...S, S when nil): the sequence's valid encoder positions, as the forward's
/// keyLengths[b]; the rest are padding, never read.
public func cachedCrossAttentionForward(_ out: FloatPointer, _ scores: FloatPointer, _ q: ConstFloatPointer,
                                        qStride: Int, _ kv: ConstFloatPointer,
                                        n: Int, S: Int, NH: Int, NKV: Int, HS: Int, scale: Float? = nil,
                                        keyLength: Int? = nil) {
    let heads = CrossHeads(NH: NH, NKV: NKV, HS: HS)
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    let L = keyLength ?? S
    precondition(L >= 1 && L <= S, "key length \(L) is outside 1...\(S)")
    for h in 0..<NH {
        attendAll(out + h * HS, scores, q + h * HS, qStride: qStride, kv + heads.kOffset(h),
                  n: n, S: S, valid: L, C: heads.C, HS: HS, KV: heads.KV, scale: scale)
    }
}

/// One head's n queries over the first `valid` of S keys: p (n, S) = softmax(scale · q·kᵀ) there and
/// 0 past them, out (n, HS) = p · v over the valid keys. Rows of q step by qStride, of out by
/// C = NH·HS, of k and v (v = k + KV) by 2·KV.
@inline(__always)
private func attendAll(_ out: FloatPointer, _ p: FloatPointer, _ q: ConstFloatPointer, qStride: Int,
                       _ k: ConstFloatPointer, n: Int, S: Int, valid L: Int, C: Int, HS: Int, KV: Int, scale: Float) {
    BLAS.sgemm(transA: false, transB: true, M: n, N: L, K: HS,
               alpha: scale, q, lda: qStride, k, ldb: 2 * KV, beta: 0.0, p, ldc: S)
    for t in 0..<n {
        softmaxRow(p + t * S, valid: L, width: S)
    }
    BLAS.sgemm(transA: false, transB: false, M: n, N: HS, K: L,
               alpha: 1.0, p, lda: S, k + KV, ldb: 2 * KV, beta: 0.0, out, ldc: C)
}

/// dq (B, T, NH·HS) and dkv (B, S, 2·NKV·HS) = gradients of cross-attention (both overwritten; a kv
/// head shared by a group of query heads gets the group's sum, as in self-attention).
/// `scratch` holds T·S floats. Sizes, scale and keyLengths as the forward's: padded encoder
/// positions' dk and dv are exactly 0 (written).
public func crossAttentionBackward(_ dq: FloatPointer, _ dkv: FloatPointer, _ scratch: FloatPointer,
                                   _ dout: ConstFloatPointer, _ att: ConstFloatPointer,
                                   _ q: ConstFloatPointer, _ kv: ConstFloatPointer,
                                   B: Int, T: Int, S: Int, NH: Int, NKV: Int? = nil, HS: Int, scale: Float? = nil,
                                   keyLengths: UnsafePointer<Int32>? = nil) {
    let heads = CrossHeads(NH: NH, NKV: NKV, HS: HS)
    let C = heads.C, row = heads.row
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    for b in 0..<B {
        let L = keyLength(keyLengths, b, S)
        for h in 0..<NH {
            let qh = q + b * T * C + h * HS, k = kv + b * S * row + heads.kOffset(h), v = k + heads.KV
            let dqh = dq + b * T * C + h * HS, dk = dkv + b * S * row + heads.kOffset(h), dv = dk + heads.KV
            let kvBeta: Float = h % heads.group == 0 ? 0.0 : 1.0
            let p = att + (b * NH + h) * T * S
            let dy = dout + b * T * C + h * HS
            // dP (T, L) = dY · Vᵀ and dV (+)= Pᵀ · dY, over the L valid keys.
            BLAS.sgemm(transA: false, transB: true, M: T, N: L, K: HS,
                       alpha: 1.0, dy, lda: C, v, ldb: row, beta: 0.0, scratch, ldc: S)
            BLAS.sgemm(transA: true, transB: false, M: L, N: HS, K: T,
                       alpha: 1.0, p, lda: S, dy, ldb: C, beta: kvBeta, dv, ldc: row)
            // Softmax backward in place: dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale.
            for t in 0..<T {
                let pr = p + t * S, dr = scratch + t * S
                let rowDot = dot(pr, dr, L)
                for j in 0..<L { dr[j] = pr[j] * (dr[j] - rowDot) * scale }
            }
            // dQ = dS · K and dK (+)= dSᵀ · Q, over the valid keys.
            BLAS.sgemm(transA: false, transB: false, M: T, N: HS, K: L,
                       alpha: 1.0, scratch, lda: S, k, ldb: row, beta: 0.0, dqh, ldc: C)
            BLAS.sgemm(transA: true, transB: false, M: L, N: HS, K: T,
                       alpha: 1.0, scratch, lda: S, qh, ldb: C, beta: kvBeta, dk, ldc: row)
            if kvBeta == 0 { zeroPaddedRows(dk, dv, from: L, to: S, ld: row, HS: HS) }
        }
    }
}

/// Where each head's columns lie: q rows of C = NH·HS, kv rows of 2·KV = [k | v].
private struct CrossHeads {
    let HS: Int, C: Int, KV: Int, row: Int, group: Int

    init(NH: Int, NKV: Int?, HS: Int) {
        let NKV = NKV ?? NH
        precondition(NKV > 0 && NH % NKV == 0, "NH = \(NH) query heads do not split into NKV = \(NKV) groups")
        self.HS = HS
        C = NH * HS
        KV = NKV * HS
        row = 2 * KV
        group = NH / NKV
    }

    /// Column of query head h's key in a kv row (its value is KV further on).
    @inline(__always) func kOffset(_ h: Int) -> Int { (h / group) * HS }
}
