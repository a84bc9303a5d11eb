import Foundation
import Kernels
import Testing

/// Cross-attention: T decoder queries over S encoder keys and values, no mask, no bias.
@Suite struct CrossAttentionTests {
    let B = 2, T = 3, S = 7, NH = 4, HS = 4
    var C: Int { NH * HS }

    /// q (B, T, C), kv (B, S, 2·NKV·HS) and output weights w (B, T, C).
    func inputs(NKV: Int, seed: UInt64) -> (q: Tensor, kv: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        return (Tensor(count: B * T * C, in: -1...1, rng: &rng), Tensor(count: B * S * 2 * NKV * HS, in: -1...1, rng: &rng),
                Tensor(count: B * T * C, in: -1...1, rng: &rng))
    }

    /// Transformers' eager T5 cross-attention in Double (scale 1, zero position bias, no mask).
    func reference(_ q: Tensor, _ kv: Tensor, NKV: Int) -> [Double] {
        let KV = NKV * HS, group = NH / NKV
        var out = [Double](repeating: 0, count: B * T * C)
        for b in 0..<B {
            for h in 0..<NH {
                let k = (h / group) * HS
                for t in 0..<T {
                    let scores = (0..<S).map { j in
                        (0..<HS).map { Double(q[(b * T + t) * C + h * HS + $0]) * Double(kv[(b * S + j) * 2 * KV + k + $0]) }
                            .reduce(0, +)
                    }
                    let m = scores.max()!, e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
                    for j in 0..<S {
                        for i in 0..<HS {
                            out[(b * T + t) * C + h * HS + i] += e[j] / z * Double(kv[(b * S + j) * 2 * KV + KV + k + i])
                        }
                    }
                }
            }
        }
        return out
    }

    @Test(arguments: [4, 2])
    func forwardMatchesTransformersEagerAttention(NKV: Int) {
        let (q, kv, _) = inputs(NKV: NKV, seed: UInt64(NKV))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * S, repeating: 5)
        crossAttentionForward(out.pointer, att.pointer, q.const, kv.const, B: B, T: T, S: S, NH: NH, NKV: NKV, HS: HS,
                              scale: 1)
        #expect(zip(out.values, reference(q, kv, NKV: NKV)).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        for row in 0..<(B * NH * T) {
            #expect(abs((0..<S).map { Double(att[row * S + $0]) }.reduce(0, +) - 1) < 1e-6, "row \(row)")
        }
    }

    @Test(arguments: [4, 2, 1])
    func backwardMatchesFiniteDifferences(NKV: Int) {
        let (q, kv, w) = inputs(NKV: NKV, seed: UInt64(10 + NKV))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * S)
        func loss() -> Double {
            crossAttentionForward(out.pointer, att.pointer, q.const, kv.const, B: B, T: T, S: S, NH: NH, NKV: NKV,
                                  HS: HS, scale: 1)
            return weightedSum(out.const, w)
        }
        _ = loss()
        // dq and dkv start as garbage: backward overwrites them, kv heads shared by a group included.
        let dq = Tensor(count: B * T * C, repeating: 7), dkv = Tensor(count: B * S * 2 * NKV * HS, repeating: 7)
        let scratch = Tensor(count: T * S)
        crossAttentionBackward(dq.pointer, dkv.pointer, scratch.pointer, w.const, att.const, q.const, kv.const,
                               B: B, T: T, S: S, NH: NH, NKV: NKV, HS: HS, scale: 1)
        expectGradient("dq (NKV = \(NKV))", of: q, analytic: dq, loss: loss)
        expectGradient("dkv (NKV = \(NKV))", of: kv, analytic: dkv, loss: loss)
    }

    /// With S = T and the encoder's rows the decoder's own, cross-attention is bidirectional
    /// self-attention: the same outputs, probabilities and gradients (k and v split out of qkv).
    @Test func withSameInputsEqualsBidirectionalSelfAttention() {
        var rng = TestRNG(seed: 20)
        let T = 5, qkv = Tensor(count: B * T * 3 * C, in: -1...1, rng: &rng), w = Tensor(count: B * T * C, in: -1...1, rng: &rng)
        let q = Tensor(count: B * T * C), kv = Tensor(count: B * T * 2 * C)
        for token in 0..<(B * T) {
            for i in 0..<C { q[token * C + i] = qkv[token * 3 * C + i] }
            for i in 0..<(2 * C) { kv[token * 2 * C + i] = qkv[token * 3 * C + C + i] }
        }
        let selfOut = Tensor(count: B * T * C), selfAtt = Tensor(count: B * NH * T * T)
        let crossOut = Tensor(count: B * T * C), crossAtt = Tensor(count: B * NH * T * T)
        attentionForward(selfOut.pointer, selfAtt.pointer, qkv.const, B: B, T: T, NH: NH, HS: HS, mask: .none)
        crossAttentionForward(crossOut.pointer, crossAtt.pointer, q.const, kv.const, B: B, T: T, S: T, NH: NH, HS: HS)
        #expect(maxAbsDifference(selfOut.values, crossOut.values) <= 1e-6)
        #expect(maxAbsDifference(selfAtt.values, crossAtt.values) <= 1e-6)

        let dqkv = Tensor(count: B * T * 3 * C), scratch = Tensor(count: T * T)
        attentionBackward(dqkv.pointer, scratch.pointer, w.const, selfAtt.const, qkv.const, B: B, T: T, NH: NH, HS: HS,
                          mask: .none)
        let dq = Tensor(count: B * T * C), dkv = Tensor(count: B * T * 2 * C)
        crossAttentionBackward(dq.pointer, dkv.pointer, scratch.pointer, w.const, crossAtt.const, q.const, kv.const,
                               B: B, T: T, S: T, NH: NH, HS: HS)
        var worst: Float = 0
        for token in 0..<(B * T) {
            for i in 0..<C { worst = max(worst, abs(dq[token * C + i] - dqkv[token * 3 * C + i])) }
            for i in 0..<(2 * C) { worst = max(worst, abs(dkv[token * 2 * C + i] - dqkv[token * 3 * C + C + i])) }
        }
        #expect(worst <= 1e-6, "gradients differ by \(worst)")
        #expect(dqkv.values.contains { abs($0) > 1e-2 }, "gradients are ~0, the comparison proves nothing")
    }

    /// Decoding: a few new queries over one sequence's fixed encoder keys and values give the
    /// full forward's rows for those queries.
    @Test(arguments: [4, 2])
    func cachedCrossAttentionMatchesFullRows(NKV: Int) {
        let (q, kv, _) = inputs(NKV: NKV, seed: UInt64(30 + NKV))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * S)
        crossAttentionForward(out.pointer, att.pointer, q.const, kv.const, B: B, T: T, S: S, NH: NH, NKV: NKV, HS: HS,
                              scale: 1)
        let b = 1, KVrow = 2 * NKV * HS
        for (t0, n) in [(0, 1), (1, 2), (T - 1, 1)] {
            let cached = Tensor(count: n * C), scores = Tensor(count: n * S)
            cachedCrossAttentionForward(cached.pointer, scores.pointer, q.const + (b * T + t0) * C, qStride: C,
                                        kv.const + b * S * KVrow, n: n, S: S, NH: NH, NKV: NKV, HS: HS, scale: 1)
            let rows = ((b * T + t0) * C)..<((b * T + t0 + n) * C)
            #expect(maxAbsDifference(cached.values, out.values[rows]) <= 1e-6, "queries \(t0)..<\(t0 + n)")
        }
    }
}
