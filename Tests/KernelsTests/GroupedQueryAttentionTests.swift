import Kernels
import Testing

/// Grouped-query attention: NKV key/value heads, each read by NH / NKV query heads.
@Suite struct GroupedQueryAttentionTests {
    let B = 2, T = 5, NH = 4, HS = 4
    var C: Int { NH * HS }

    /// Floats per token of the fused layout [q (NH·HS) | k (NKV·HS) | v (NKV·HS)].
    func row(_ NKV: Int) -> Int { (NH + 2 * NKV) * HS }

    /// qkv (B, T, row) and output weights w (B, T, C).
    func inputs(NKV: Int, seed: UInt64) -> (qkv: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        return (Tensor(count: B * T * row(NKV), in: -1.5...1.5, rng: &rng),
                Tensor(count: B * T * C, in: -1...1, rng: &rng))
    }

    /// The multi-head layout (B, T, 3·NH·HS) with each kv head copied to every query head of its group.
    func repeatingKVHeads(_ qkv: Tensor, NKV: Int) -> Tensor {
        let group = NH / NKV, KV = NKV * HS
        let mha = Tensor(count: B * T * 3 * C)
        for token in 0..<(B * T) {
            let from = token * row(NKV), to = token * 3 * C
            for i in 0..<C { mha[to + i] = qkv[from + i] }
            for h in 0..<NH {
                for i in 0..<HS {
                    let kv = from + C + (h / group) * HS + i
                    mha[to + C + h * HS + i] = qkv[kv]
                    mha[to + 2 * C + h * HS + i] = qkv[kv + KV]
                }
            }
        }
        return mha
    }

    @Test(arguments: [1, 2, 4])
    func backwardMatchesFiniteDifferences(NKV: Int) {
        let (qkv, w) = inputs(NKV: NKV, seed: UInt64(10 + NKV))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        func loss() -> Double {
            attentionForward(out.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, NKV: NKV, HS: HS)
            return weightedSum(out.const, w)
        }
        _ = loss()
        // dqkv starts as garbage: backward overwrites it, kv heads shared by a group included.
        let dqkv = Tensor(count: B * T * row(NKV), repeating: 7), scratch = Tensor(count: T * T)
        attentionBackward(dqkv.pointer, scratch.pointer, w.const, att.const, qkv.const,
                          B: B, T: T, NH: NH, NKV: NKV, HS: HS)
        expectGradient("dqkv (NKV = \(NKV))", of: qkv, analytic: dqkv, loss: loss)
    }

    /// GQA is MHA whose kv heads are repeated across each group: the same outputs and probabilities
    /// bit for bit, the same dq, and each kv head's dk and dv the sum of its group's heads' gradients.
    @Test(arguments: [1, 2])
    func equalsMultiHeadWithRepeatedKVHeads(NKV: Int) {
        let (qkv, w) = inputs(NKV: NKV, seed: UInt64(20 + NKV))
        let mha = repeatingKVHeads(qkv, NKV: NKV)
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        let mhaOut = Tensor(count: B * T * C), mhaAtt = Tensor(count: B * NH * T * T)
        attentionForward(out.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, NKV: NKV, HS: HS)
        attentionForward(mhaOut.pointer, mhaAtt.pointer, mha.const, B: B, T: T, NH: NH, HS: HS)
        #expect(out.values == mhaOut.values)
        #expect(att.values == mhaAtt.values)

        let scratch = Tensor(count: T * T)
        let dqkv = Tensor(count: B * T * row(NKV), repeating: 7), mhaD = Tensor(count: B * T * 3 * C)
        attentionBackward(dqkv.pointer, scratch.pointer, w.const, att.const, qkv.const,
                          B: B, T: T, NH: NH, NKV: NKV, HS: HS)
        attentionBackward(mhaD.pointer, scratch.pointer, w.const, mhaAtt.const, mha.const, B: B, T: T, NH: NH, HS: HS)
        let group = NH / NKV, KV = NKV * HS
        var worstKV: Float = 0, largestKV: Float = 0
        for token in 0..<(B * T) {
            let g = token * row(NKV), m = token * 3 * C
            #expect((0..<C).allSatisfy { dqkv[g + $0] == mhaD[m + $0] }, "dq of token \(token)")
            for kv in 0..<NKV {
                for i in 0..<HS {
                    for part in 0..<2 {  // k, then v
                        let heads = (kv * group)..<((kv + 1) * group)
                        let summed = heads.reduce(Float(0)) { $0 + mhaD[m + (1 + part) * C + $1 * HS + i] }
                        let got = dqkv[g + C + part * KV + kv * HS + i]
                        worstKV = max(worstKV, abs(got - summed))
                        largestKV = max(largestKV, abs(summed))
                    }
                }
            }
        }
        #expect(worstKV <= 1e-6 * max(1, largestKV), "dk/dv differ from the group sums by \(worstKV)")
        #expect(largestKV > 1e-2, "kv gradients are ~0, the comparison proves nothing")
    }

    @Test func headCountsThatDoNotFormGroupsAreRejectedByPrecondition() async {
        await #expect(processExitsWith: .failure) {
            let qkv = [Float](repeating: 0, count: 2 * (4 + 2 * 3) * 4)
            var out = [Float](repeating: 0, count: 2 * 4 * 4), att = [Float](repeating: 0, count: 4 * 4)
            qkv.withUnsafeBufferPointer { q in
                attentionForward(&out, &att, q.baseAddress!, B: 1, T: 2, NH: 4, NKV: 3, HS: 4)
            }
        }
    }
}
