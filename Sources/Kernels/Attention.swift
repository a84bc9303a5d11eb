/// Which keys a query may attend to.
public enum AttentionMask: Sendable {
    /// Keys at or before the query's position: decoder self-attention.
    case causal
    /// Every key: encoder self-attention (bidirectional).
    case none
}

/// Self-attention, multi-head or grouped-query, causal by default.
/// qkv (B, T, (NH + 2·NKV)·HS): per token [q (NH·HS) | k (NKV·HS) | v (NKV·HS)], head h at columns
/// h·HS..<(h+1)·HS of its part. Query head h reads kv head h / (NH / NKV), so NKV = 1 is multi-query
/// attention and NKV = NH (the default, layout (B, T, 3·NH·HS)) is plain multi-head attention.
/// out (B, T, NH·HS); att (B, NH, T, T) saves the softmax probabilities for backward (zero where
/// masked). Heads are whatever this rank holds, so a tensor-parallel slice works unchanged (as long as
/// each rank holds whole groups: NH and NKV divided alike; a bias then points at the rank's columns).
/// Scores are scale · q·k + bias[h, i, j], scale 1/√HS unless given: T5 does not scale (scale 1) and
/// adds its relative position bias instead. Without a bias, with the default scale and causal mask,
/// every product and rounding is the one this kernel made before bias and mask existed.
///
/// Key padding (`mask: .none` only): keyLengths, when given, holds B lengths, 1 ≤ keyLengths[b] ≤ T;
/// sequence b's tokens at and past L = keyLengths[b] are padding. Every query then attends to keys
/// 0..<L only: padded keys are left out of the scores, the max, the sum and the products (never
/// read, so their contents, even NaN, change nothing), and their probabilities are exactly 0.
/// Padded query rows t ≥ L still compute: their outputs are the same softmax over the valid keys
/// of their own (padding) query, finite values the model ignores (their loss weight is 0).
/// keyLengths nil, or every length T, is the unpadded kernel bit for bit.
public func attentionForward(_ out: FloatPointer, _ att: FloatPointer, _ qkv: ConstFloatPointer,
                             bias: RelativePositionBias? = nil,
                             B: Int, T: Int, NH: Int, NKV: Int? = nil, HS: Int,
                             scale: Float? = nil, mask: AttentionMask = .causal,
                             keyLengths: UnsafePointer<Int32>? = nil) {
    let heads = AttentionHeads(NH: NH, NKV: NKV, HS: HS)
    let C = heads.C, row = heads.row
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    if let bias { checkBias(bias, positions: T, NH: NH) }
    precondition(keyLengths == nil || mask == .none, "key lengths are for bidirectional (mask .none) attention")
    for b in 0..<B {
        let L = keyLength(keyLengths, b, T)
        for h in 0..<NH {
            let q = qkv + b * T * row + h * HS, k = qkv + b * T * row + heads.kOffset(h)
            // Scores for the full square of valid keys: the masked half is overwritten. Cheaper
            // than T small GEMV calls for the sizes this trainer runs.
            attendHead(out + b * T * C + h * HS, ldo: C, att + (b * NH + h) * T * T, width: T, q, ldq: row,
                       k, k + heads.KV, ldkv: row, n: T, keys: L, HS: HS, scale: scale,
                       valid: { mask == .causal ? $0 + 1 : L }) { p in
                if let bias { addPositionBias(p, bias, head: h, n: T, keys: T, validKeys: L, position0: 0, mask: mask) }
            }
        }
    }
}

/// Causal attention of n new tokens, at positions p0..<p0+n, over a cache of every position's keys
/// and values (the new ones already written): incremental decoding. q (n, qStride) with head h at
/// columns h·HS; keys, values (p0+n, NKV·HS); out (n, NH·HS); `scores` holds n·(p0+n) floats.
/// The same products as `attentionForward`'s rows p0..<p0+n (with the same bias, scale and causal
/// mask), without saving the probabilities.
public func cachedAttentionForward(_ out: FloatPointer, _ scores: FloatPointer, _ q: ConstFloatPointer, qStride: Int,
                                   _ keys: ConstFloatPointer, _ values: ConstFloatPointer,
                                   bias: RelativePositionBias? = nil,
                                   n: Int, position0 p0: Int, NH: Int, NKV: Int, HS: Int, scale: Float? = nil) {
    precondition(NKV >= 1 && NH % NKV == 0, "\(NH) query heads do not form groups over \(NKV) kv heads")
    let L = p0 + n, KV = NKV * HS, group = NH / NKV
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    if let bias { checkBias(bias, positions: L, NH: NH) }
    for h in 0..<NH {
        let kv = (h / group) * HS
        attendHead(out + h * HS, ldo: NH * HS, scores, width: L, q + h * HS, ldq: qStride, keys + kv, values + kv,
                   ldkv: KV, n: n, keys: L, HS: HS, scale: scale, valid: { p0 + $0 + 1 }) { p in
            if let bias { addPositionBias(p, bias, head: h, n: n, keys: L, validKeys: L, position0: p0, mask: .causal) }
        }
    }
}

/// One head's attention, the core every attention kernel shares: p (n, width) = softmax of
/// scale · q·kᵀ over the first `keys` keys (then `addBias(p)` where there is a bias), row t over
/// its first valid(t) keys and 0 past them; out (n, HS) = p · v over the `keys` keys. Rows of q,
/// out and k, v step by ldq, ldo and ldkv.
@inline(__always)
func attendHead(_ out: FloatPointer, ldo: Int, _ p: FloatPointer, width: Int, _ q: ConstFloatPointer, ldq: Int,
                _ k: ConstFloatPointer, _ v: ConstFloatPointer, ldkv: Int, n: Int, keys L: Int, HS: Int,
                scale: Float, valid: (Int) -> Int, addBias: (FloatPointer) -> Void = { _ in }) {
    BLAS.sgemm(transA: false, transB: true, M: n, N: L, K: HS,
               alpha: scale, q, lda: ldq, k, ldb: ldkv, beta: 0.0, p, ldc: width)
    addBias(p)
    for t in 0..<n {
        softmaxRow(p + t * width, valid: valid(t), width: width)
    }
    BLAS.sgemm(transA: false, transB: false, M: n, N: HS, K: L,
               alpha: 1.0, p, lda: width, v, ldb: ldkv, beta: 0.0, out, ldc: ldo)
}

/// One head's backward, mirroring `attendHead` over its saved probabilities p: dv (+)= pᵀ · dy,
/// dS = p ⊙ (dy · vᵀ − rowsum) · scale in `scratch` (n, width), dq = dS · k, dk (+)= dSᵀ · q, all
/// over the `keys` keys; kvBeta 0 writes dk and dv (then zeroes their padded rows keys..<width), 1
/// adds (a group's later query heads). With `biasSums`, each unscaled score gradient of query t
/// and key j is added, in Double, to sums[bucketOfZero[j − t] · columns + column].
@inline(__always)
func attendHeadBackward(dq: FloatPointer, ldq: Int, dk: FloatPointer, dv: FloatPointer, ldkv: Int, kvBeta: Float,
                        _ scratch: FloatPointer, _ p: ConstFloatPointer, width: Int, _ dy: ConstFloatPointer, ldy: Int,
                        _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer,
                        n: Int, keys L: Int, HS: Int, scale: Float, valid: (Int) -> Int,
                        biasSums: (bucketOfZero: UnsafePointer<Int32>, sums: UnsafeMutablePointer<Double>,
                                   column: Int, columns: Int)? = nil) {
    // dP = dY · Vᵀ and dV (+)= Pᵀ · dY, over the valid keys.
    BLAS.sgemm(transA: false, transB: true, M: n, N: L, K: HS,
               alpha: 1.0, dy, lda: ldy, v, ldb: ldkv, beta: 0.0, scratch, ldc: width)
    BLAS.sgemm(transA: true, transB: false, M: L, N: HS, K: n,
               alpha: 1.0, p, lda: width, dy, ldb: ldy, beta: kvBeta, dv, ldc: ldkv)
    // Softmax backward in place: dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale; the bias's gradient is
    // the same without the scale.
    for t in 0..<n {
        let pr = p + t * width, dr = scratch + t * width
        let rowValid = valid(t)
        let rowDot = dot(pr, dr, rowValid)
        if let biasSums {
            let bucketOf = biasSums.bucketOfZero - t  // key j: relative position j − t
            for j in 0..<rowValid {
                let g = pr[j] * (dr[j] - rowDot)
                biasSums.sums[Int(bucketOf[j]) * biasSums.columns + biasSums.column] += Double(g)
                dr[j] = g * scale
            }
        } else {
            for j in 0..<rowValid { dr[j] = pr[j] * (dr[j] - rowDot) * scale }
        }
        for j in rowValid..<width { dr[j] = 0 }
    }
    // dQ = dS · K and dK (+)= dSᵀ · Q, over the valid keys.
    BLAS.sgemm(transA: false, transB: false, M: n, N: HS, K: L,
               alpha: 1.0, scratch, lda: width, k, ldb: ldkv, beta: 0.0, dq, ldc: ldq)
    BLAS.sgemm(transA: true, transB: false, M: L, N: HS, K: n,
               alpha: 1.0, scratch, lda: width, q, ldb: ldq, beta: kvBeta, dk, ldc: ldkv)
    if kvBeta == 0 { zeroPaddedRows(dk, dv, from: L, to: width, ld: ldkv, HS: HS) }
}

/// row[0..<valid] ← softmax(row[0..<valid]); row[valid..<width] ← 0.
@inline(__always)
func softmaxRow(_ row: FloatPointer, valid: Int, width: Int) {
    let sum = exponentiateInPlace(row, valid, shift: maximum(row, valid))
    let inverse = 1.0 / sum
    for j in 0..<valid { row[j] *= inverse }
    for j in valid..<width { row[j] = 0 }
}

/// dqkv (B, T, (NH + 2·NKV)·HS) = gradient of attention (overwritten). A kv head's dk and dv are the
/// sums over the NH / NKV query heads that read it: the group's first head writes them (beta 0),
/// the others add theirs (beta 1), so with NKV = NH each head simply writes its own.
/// dbias, the gradient of the bias table (same offset and ld as `bias.table`), += the sum over
/// batch, heads' positions i and keys j of ∂L/∂score[h, i, j] into row buckets[j − i], column h:
/// summed in Double over the call and added once. Without a dbias the table gets no gradient.
/// `scratch` holds T·T floats. bias, B…HS, scale, mask and keyLengths as the forward's: padded
/// keys' dk and dv are exactly 0 (written, not left as they were), and no gradient reaches a bias
/// bucket through them; padded queries' dq is their rows' true gradient (0 when their dout is).
public func attentionBackward(_ dqkv: FloatPointer, biasGradient dbias: FloatPointer? = nil, _ scratch: FloatPointer,
                              _ dout: ConstFloatPointer, _ att: ConstFloatPointer, _ qkv: ConstFloatPointer,
                              bias: RelativePositionBias? = nil,
                              B: Int, T: Int, NH: Int, NKV: Int? = nil, HS: Int,
                              scale: Float? = nil, mask: AttentionMask = .causal,
                              keyLengths: UnsafePointer<Int32>? = nil) {
    let heads = AttentionHeads(NH: NH, NKV: NKV, HS: HS)
    let C = heads.C, row = heads.row
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    if let bias { checkBias(bias, positions: T, NH: NH) }
    precondition(keyLengths == nil || mask == .none, "key lengths are for bidirectional (mask .none) attention")
    accumulatingBiasGradient(dbias, bias, NH: NH) { buckets, bucketSums in
        for b in 0..<B {
            let L = keyLength(keyLengths, b, T)
            for h in 0..<NH {
                let q = qkv + b * T * row + h * HS, k = qkv + b * T * row + heads.kOffset(h)
                let dk = dqkv + b * T * row + heads.kOffset(h)
                attendHeadBackward(dq: dqkv + b * T * row + h * HS, ldq: row, dk: dk, dv: dk + heads.KV, ldkv: row,
                                   kvBeta: h % heads.group == 0 ? 0.0 : 1.0, scratch, att + (b * NH + h) * T * T,
                                   width: T, dout + b * T * C + h * HS, ldy: C, q, k, k + heads.KV, n: T, keys: L,
                                   HS: HS, scale: scale, valid: { mask == .causal ? $0 + 1 : L },
                                   biasSums: buckets.flatMap { b in bucketSums.map { (b, $0, h, NH) } })
            }
        }
    }
}

/// Runs `body` with, when there is a bias gradient to accumulate, the bucket of each relative
/// position r at bucketOfZero[r] and zeroed Double sums (buckets, NH); then adds the sums into
/// dbias, each rounded once. Both nil when there is none. The sums live on the stack when small.
private func accumulatingBiasGradient(_ dbias: FloatPointer?, _ bias: RelativePositionBias?, NH: Int,
                                      _ body: (_ bucketOfZero: UnsafePointer<Int32>?,
                                               _ sums: UnsafeMutablePointer<Double>?) -> Void) {
    precondition(dbias == nil || bias != nil, "a bias gradient without a bias")
    guard let dbias, let bias else { return body(nil, nil) }
    let buckets = bias.buckets
    withUnsafeTemporaryAllocation(of: Double.self, capacity: buckets.buckets * NH) { sums in
        sums.initialize(repeating: 0)
        buckets.table.withUnsafeBufferPointer { table in
            body(table.baseAddress! + buckets.length - 1, sums.baseAddress!)
        }
        for bucket in 0..<buckets.buckets {
            for h in 0..<NH { dbias[bucket * bias.ld + h] += Float(sums[bucket * NH + h]) }
        }
    }
}

/// The bias's buckets reach every relative position of `positions` tokens, and its rows hold the
/// NH heads' columns.
private func checkBias(_ bias: RelativePositionBias, positions: Int, NH: Int) {
    precondition(positions <= bias.buckets.length,
                 "\(positions) positions, relative buckets made for \(bias.buckets.length)")
    precondition(bias.ld >= NH, "a bias table of rows \(bias.ld) wide for \(NH) heads")
}

/// scores (n, L) += table[bucket(j − i), h] for the queries at positions i = p0..<p0+n and the keys
/// j = 0..<L they may see under `mask`, only the first `validKeys` under .none (the rest are masked
/// anyway).
@inline(__always)
private func addPositionBias(_ scores: FloatPointer, _ bias: RelativePositionBias, head h: Int,
                             n: Int, keys L: Int, validKeys: Int, position0 p0: Int, mask: AttentionMask) {
    let column = bias.table + h, ld = bias.ld, length = bias.buckets.length
    bias.buckets.table.withUnsafeBufferPointer { buckets in
        for t in 0..<n {
            let i = p0 + t, row = scores + t * L
            let bucketOf = buckets.baseAddress! + (length - 1 - i)  // key j: relative position j − i
            for j in 0..<(mask == .causal ? i + 1 : validKeys) { row[j] += column[Int(bucketOf[j]) * ld] }
        }
    }
}

/// Sequence b's number of valid keys: keyLengths[b], checked to lie in 1...S; S without lengths.
@inline(__always)
func keyLength(_ keyLengths: UnsafePointer<Int32>?, _ b: Int, _ S: Int) -> Int {
    guard let keyLengths else { return S }
    let L = Int(keyLengths[b])
    precondition(L >= 1 && L <= S, "sequence \(b)'s key length \(L) is outside 1...\(S)")
    return L
}

/// Rows L..<S of a head's key and value gradients (HS columns each, rows ld apart) ← 0: padded keys
/// get no gradient.
@inline(__always)
func zeroPaddedRows(_ dk: FloatPointer, _ dv: FloatPointer, from L: Int, to S: Int, ld: Int, HS: Int) {
    for s in L..<S {
        (dk + s * ld).update(repeating: 0, count: HS)
        (dv + s * ld).update(repeating: 0, count: HS)
    }
}

/// Where each head's columns lie: in a fused self-attention row [q (NH·HS) | k | v], or in a
/// cross-attention key/value row [k | v] (its queries in rows of their own).
struct AttentionHeads {
    let HS: Int, C: Int, KV: Int, row: Int, group: Int
    /// Column where the keys start: after the queries, or 0.
    private let keysStart: Int

    init(NH: Int, NKV: Int?, HS: Int, queriesInRow: Bool = true) {
        let NKV = NKV ?? NH
        precondition(NKV > 0 && NH % NKV == 0, "NH = \(NH) query heads do not split into NKV = \(NKV) groups")
        self.HS = HS
        C = NH * HS
        KV = NKV * HS
        keysStart = queriesInRow ? C : 0
        row = keysStart + 2 * KV
        group = NH / NKV
    }

    /// Column of query head h's key (its value is KV further on).
    @inline(__always) func kOffset(_ h: Int) -> Int { keysStart + (h / group) * HS }
}
