import Foundation
import Kernels
import Testing

/// Self-attention with T5's relative position bias, its unscaled scores and a choice of mask.
@Suite struct PositionBiasAttentionTests {
    let B = 2, T = 6, NH = 4, HS = 4
    var C: Int { NH * HS }

    /// T5's shapes at a small size: 8 buckets reaching distance 5, so at T = 6 each side has exact
    /// buckets, logarithmic ones and the clamped last.
    func buckets(_ mask: AttentionMask) -> RelativePositionBuckets {
        RelativePositionBuckets(bidirectional: mask == .none, buckets: 8, maxDistance: 5, length: T)
    }

    /// qkv (B, T, 3C), a bias table (8, NH) and output weights w (B, T, C).
    func inputs(seed: UInt64) -> (qkv: Tensor, table: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        return (Tensor(count: B * T * 3 * C, in: -1...1, rng: &rng), Tensor(count: 8 * NH, in: -1...1, rng: &rng),
                Tensor(count: B * T * C, in: -1...1, rng: &rng))
    }

    /// Hugging Face's eager T5 attention in Double: softmax over allowed j of
    /// scale · q_i·k_j + table[bucket(j − i), h], bucket from `t5RelativeBucket`, times v.
    func reference(_ qkv: Tensor, _ table: Tensor, mask: AttentionMask, scale: Double) -> (out: [Double], att: [Double]) {
        var out = [Double](repeating: 0, count: B * T * C), att = [Double](repeating: 0, count: B * NH * T * T)
        func at(_ b: Int, _ t: Int, _ part: Int, _ h: Int, _ i: Int) -> Double {
            Double(qkv[(b * T + t) * 3 * C + part * C + h * HS + i])
        }
        for b in 0..<B {
            for h in 0..<NH {
                for i in 0..<T {
                    let keys = mask == .causal ? Array(0...i) : Array(0..<T)
                    let scores = keys.map { j in
                        let bucket = t5RelativeBucket(relativePosition: j - i, bidirectional: mask == .none, buckets: 8,
                                                      maxDistance: 5)
                        return scale * (0..<HS).map { at(b, i, 0, h, $0) * at(b, j, 1, h, $0) }.reduce(0, +)
                            + Double(table[bucket * NH + h])
                    }
                    let m = scores.max()!, e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
                    for (k, j) in keys.enumerated() {
                        att[((b * NH + h) * T + i) * T + j] = e[k] / z
                        for c in 0..<HS { out[(b * T + i) * C + h * HS + c] += e[k] / z * at(b, j, 2, h, c) }
                    }
                }
            }
        }
        return (out, att)
    }

    @Test(arguments: [AttentionMask.none, .causal])
    func forwardMatchesTransformersEagerAttention(mask: AttentionMask) {
        let (qkv, table, _) = inputs(seed: 1)
        let bias = RelativePositionBias(table: table.const, ld: NH, buckets: buckets(mask))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T, repeating: 5)
        attentionForward(out.pointer, att.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1,
                         mask: mask)
        let expected = reference(qkv, table, mask: mask, scale: 1)
        #expect(zip(out.values, expected.out).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        #expect(zip(att.values, expected.att).allSatisfy { abs(Double($0) - $1) < 1e-6 })
    }

    @Test(arguments: [AttentionMask.none, .causal])
    func backwardMatchesFiniteDifferences(mask: AttentionMask) {
        let (qkv, table, w) = inputs(seed: 2)
        let bias = RelativePositionBias(table: table.const, ld: NH, buckets: buckets(mask))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        func loss() -> Double {
            attentionForward(out.pointer, att.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1,
                             mask: mask)
            return weightedSum(out.const, w)
        }
        _ = loss()
        // dqkv starts as garbage (overwritten); dtable at zero (accumulated).
        let dqkv = Tensor(count: B * T * 3 * C, repeating: 7), dtable = Tensor(count: 8 * NH)
        let scratch = Tensor(count: T * T)
        attentionBackward(dqkv.pointer, biasGradient: dtable.pointer, scratch.pointer, w.const, att.const, qkv.const,
                          bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1, mask: mask)
        expectGradient("dqkv (\(mask))", of: qkv, analytic: dqkv, loss: loss)
        expectGradient("dtable (\(mask))", of: table, analytic: dtable, loss: loss)
    }

    /// The last query sees every key under either mask, so without a bias (and with the default
    /// scale) its row of the bidirectional output is the causal kernel's, bit for bit, and the
    /// earlier rows are not (they see later keys).
    @Test func bidirectionalLastRowEqualsCausal() {
        let (qkv, _, _) = inputs(seed: 3)
        let causal = Tensor(count: B * T * C), both = Tensor(count: B * T * C)
        let att = Tensor(count: B * NH * T * T)
        attentionForward(causal.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, HS: HS)
        attentionForward(both.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, HS: HS, mask: .none)
        for b in 0..<B {
            let last = ((b * T + T - 1) * C)..<((b * T + T) * C), first = (b * T * C)..<((b * T + 1) * C)
            #expect(Array(causal.values[last]) == Array(both.values[last]))
            #expect(maxAbsDifference(causal.values[first], both.values[first]) > 1e-3)
        }
    }

    /// Each row of ∂L/∂scores sums to zero (softmax is shift-invariant), so each head's column of
    /// the table's gradient does too; and the gradient accumulates: a second backward adds the same
    /// again onto whatever the table's gradient held.
    @Test func biasGradientSumsToZeroPerHeadAndAccumulates() {
        let (qkv, table, w) = inputs(seed: 4)
        let bias = RelativePositionBias(table: table.const, ld: NH, buckets: buckets(.none))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        attentionForward(out.pointer, att.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1,
                         mask: .none)
        let dqkv = Tensor(count: B * T * 3 * C), scratch = Tensor(count: T * T)
        var rng = TestRNG(seed: 5)
        let start = Tensor(count: 8 * NH, in: -1...1, rng: &rng), dtable = Tensor(start.values)
        for _ in 0..<2 {
            attentionBackward(dqkv.pointer, biasGradient: dtable.pointer, scratch.pointer, w.const, att.const,
                              qkv.const, bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1, mask: .none)
        }
        let once = Tensor(count: 8 * NH)
        attentionBackward(dqkv.pointer, biasGradient: once.pointer, scratch.pointer, w.const, att.const, qkv.const,
                          bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1, mask: .none)
        for h in 0..<NH {
            let column = (0..<8).map { Double(once[$0 * NH + h]) }
            #expect(abs(column.reduce(0, +)) < 1e-6, "head \(h): Σ over buckets = \(column.reduce(0, +))")
            #expect(column.contains { abs($0) > 1e-2 }, "head \(h)'s table gradient is ~0")
        }
        for i in 0..<(8 * NH) {
            #expect(abs(dtable[i] - (start[i] + 2 * once[i])) <= 1e-6, "entry \(i)")
        }
    }

    /// A bias the same in every bucket shifts each row of scores alike, which softmax ignores.
    @Test func uniformBiasChangesNothing() {
        let (qkv, _, _) = inputs(seed: 6)
        let table = Tensor((0..<(8 * NH)).map { Float($0 % NH) - 1.5 })  // one value per head
        let bias = RelativePositionBias(table: table.const, ld: NH, buckets: buckets(.none))
        let plain = Tensor(count: B * T * C), biased = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        attentionForward(plain.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, HS: HS, scale: 1, mask: .none)
        attentionForward(biased.pointer, att.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1,
                         mask: .none)
        #expect(maxAbsDifference(plain.values, biased.values) < 1e-6)
    }

    /// Tensor parallelism splits heads: a rank holding heads h0..<h0+2 of 4 reads the table's
    /// columns h0, h0+1 (pointer + h0, ld 4), gives those heads' outputs bit for bit and adds only
    /// to its own columns of the table's gradient, the single rank's values.
    @Test func headSliceReadsAndWritesItsTableColumns() {
        let (qkv, table, w) = inputs(seed: 7)
        let mask = AttentionMask.none, local = NH / 2, c = local * HS
        let bias = RelativePositionBias(table: table.const, ld: NH, buckets: buckets(mask))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        attentionForward(out.pointer, att.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1, mask: mask)
        let dqkv = Tensor(count: B * T * 3 * C), dtable = Tensor(count: 8 * NH), scratch = Tensor(count: T * T)
        attentionBackward(dqkv.pointer, biasGradient: dtable.pointer, scratch.pointer, w.const, att.const, qkv.const,
                          bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1, mask: mask)
        let shared = Tensor(count: 8 * NH)  // both ranks' slices of one table gradient
        for rank in 0..<2 {
            let h0 = rank * local
            // This rank's columns of qkv and of the output weights.
            let sliceQKV = Tensor(count: B * T * 3 * c), sliceW = Tensor(count: B * T * c)
            for token in 0..<(B * T) {
                for part in 0..<3 {
                    for i in 0..<c { sliceQKV[token * 3 * c + part * c + i] = qkv[token * 3 * C + part * C + h0 * HS + i] }
                }
                for i in 0..<c { sliceW[token * c + i] = w[token * C + h0 * HS + i] }
            }
            let sliceBias = RelativePositionBias(table: table.const + h0, ld: NH, buckets: buckets(mask))
            let sliceOut = Tensor(count: B * T * c), sliceAtt = Tensor(count: B * local * T * T)
            attentionForward(sliceOut.pointer, sliceAtt.pointer, sliceQKV.const, bias: sliceBias, B: B, T: T, NH: local,
                             HS: HS, scale: 1, mask: mask)
            for token in 0..<(B * T) {
                #expect((0..<c).allSatisfy { sliceOut[token * c + $0] == out[token * C + h0 * HS + $0] }, "token \(token)")
            }
            let sliceD = Tensor(count: B * T * 3 * c)
            attentionBackward(sliceD.pointer, biasGradient: shared.pointer + h0, scratch.pointer, sliceW.const,
                              sliceAtt.const, sliceQKV.const, bias: sliceBias, B: B, T: T, NH: local, HS: HS, scale: 1,
                              mask: mask)
            for token in 0..<(B * T) {
                for part in 0..<3 {
                    #expect((0..<c).allSatisfy {
                        sliceD[token * 3 * c + part * c + $0] == dqkv[token * 3 * C + part * C + h0 * HS + $0]
                    }, "token \(token), part \(part)")
                }
            }
        }
        #expect(shared.values == dtable.values)
    }

    /// Decoding with the bias: the cached kernel's rows for positions p0..<T are the full causal
    /// forward's rows (queries at p0 + t see relative positions j − p0 − t).
    @Test func cachedAttentionWithBiasMatchesFullRows() {
        let (qkv, table, _) = inputs(seed: 8)
        let bias = RelativePositionBias(table: table.const, ld: NH, buckets: buckets(.causal))
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        attentionForward(out.pointer, att.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, HS: HS, scale: 1)
        let p0 = 3, n = T - p0, keys = Tensor(count: T * C), values = Tensor(count: T * C)
        for t in 0..<T {
            for i in 0..<C {
                keys[t * C + i] = qkv[t * 3 * C + C + i]
                values[t * C + i] = qkv[t * 3 * C + 2 * C + i]
            }
        }
        let cached = Tensor(count: n * C), scores = Tensor(count: n * T)
        cachedAttentionForward(cached.pointer, scores.pointer, qkv.const + p0 * 3 * C, qStride: 3 * C, keys.const,
                               values.const, bias: bias, n: n, position0: p0, NH: NH, NKV: NH, HS: HS, scale: 1)
        #expect(maxAbsDifference(cached.values, out.values[(p0 * C)..<(T * C)]) < 1e-6)
    }
}
