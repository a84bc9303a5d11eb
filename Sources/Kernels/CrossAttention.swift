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
    let heads = AttentionHeads(NH: NH, NKV: NKV, HS: HS, queriesInRow: false)
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    for b in 0..<B {
        let L = keyLength(keyLengths, b, S)
        for h in 0..<NH {
            let k = kv + b * S * heads.row + heads.kOffset(h)
            attendHead(out + b * T * heads.C + h * HS, ldo: heads.C, att + (b * NH + h) * T * S, width: S,
                       q + b * T * heads.C + h * HS, ldq: heads.C, k, k + heads.KV, ldkv: heads.row, n: T, keys: L,
                       HS: HS, scale: scale, valid: { _ in L })
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
    let heads = AttentionHeads(NH: NH, NKV: NKV, HS: HS, queriesInRow: false)
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    let L = keyLength ?? S
    precondition(L >= 1 && L <= S, "key length \(L) is outside 1...\(S)")
    for h in 0..<NH {
        let k = kv + heads.kOffset(h)
        attendHead(out + h * HS, ldo: heads.C, scores, width: S, q + h * HS, ldq: qStride, k, k + heads.KV,
                   ldkv: heads.row, n: n, keys: L, HS: HS, scale: scale, valid: { _ in L })
    }
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
    let heads = AttentionHeads(NH: NH, NKV: NKV, HS: HS, queriesInRow: false)
    let C = heads.C, row = heads.row
    let scale = scale ?? 1.0 / Float(HS).squareRoot()
    for b in 0..<B {
        let L = keyLength(keyLengths, b, S)
        for h in 0..<NH {
            let k = kv + b * S * row + heads.kOffset(h), dk = dkv + b * S * row + heads.kOffset(h)
            attendHeadBackward(dq: dq + b * T * C + h * HS, ldq: C, dk: dk, dv: dk + heads.KV, ldkv: row,
                               kvBeta: h % heads.group == 0 ? 0.0 : 1.0, scratch, att + (b * NH + h) * T * S,
                               width: S, dout + b * T * C + h * HS, ldy: C, q + b * T * C + h * HS, k, k + heads.KV,
                               n: T, keys: L, HS: HS, scale: scale, valid: { _ in L })
        }
    }
}
