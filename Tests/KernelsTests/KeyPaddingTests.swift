import Foundation
import Kernels
import Testing

/// Key-padding masks for seq2seq batches: sequence b's encoder tokens at and past keyLengths[b] are
/// padding, which bidirectional self-attention and cross-attention leave out entirely.
@Suite struct KeyPaddingTests {
    let B = 2, T = 6, S = 7, NH = 4, HS = 4
    var C: Int { NH * HS }
    /// Ragged: the first sequence 3 tokens long, the second full.
    var selfLengths: Buffer<Int32> { Buffer([3, Int32(T)]) }
    var crossLengths: Buffer<Int32> { Buffer([3, Int32(S)]) }

    func buckets() -> RelativePositionBuckets {
        RelativePositionBuckets(bidirectional: true, buckets: 8, maxDistance: 5, length: T)
    }

    /// qkv (B, T, (NH + 2·NKV)·HS), a bias table (8, NH) and output weights w (B, T, C).
    func selfInputs(NKV: Int, seed: UInt64) -> (qkv: Tensor, table: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        return (Tensor(count: B * T * (C + 2 * NKV * HS), in: -1...1, rng: &rng),
                Tensor(count: 8 * NH, in: -1...1, rng: &rng), Tensor(count: B * T * C, in: -1...1, rng: &rng))
    }

    /// q (B, T, C), kv (B, S, 2·NKV·HS) and output weights w (B, T, C).
    func crossInputs(NKV: Int, seed: UInt64) -> (q: Tensor, kv: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        return (Tensor(count: B * T * C, in: -1...1, rng: &rng), Tensor(count: B * S * 2 * NKV * HS, in: -1...1, rng: &rng),
                Tensor(count: B * T * C, in: -1...1, rng: &rng))
    }

    // MARK: Encoder self-attention (mask .none)

    @Test(arguments: [(4, false), (2, false), (4, true), (1, true)])
    func selfAttentionBackwardMatchesFiniteDifferences(NKV: Int, withBias: Bool) {
        let (qkv, table, w) = selfInputs(NKV: NKV, seed: UInt64(40 + NKV))
        let lengths = selfLengths, row = C + 2 * NKV * HS
        let bias = withBias ? RelativePositionBias(table: table.const, ld: NH, buckets: buckets()) : nil
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        func loss() -> Double {
            attentionForward(out.pointer, att.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, NKV: NKV, HS: HS,
                             scale: withBias ? 1 : nil, mask: .none, keyLengths: lengths.const)
            return weightedSum(out.const, w)
        }
        _ = loss()
        let dqkv = Tensor(count: B * T * row, repeating: 7), dtable = Tensor(count: 8 * NH)
        let scratch = Tensor(count: T * T)
        attentionBackward(dqkv.pointer, biasGradient: withBias ? dtable.pointer : nil, scratch.pointer, w.const,
                          att.const, qkv.const, bias: bias, B: B, T: T, NH: NH, NKV: NKV, HS: HS,
                          scale: withBias ? 1 : nil, mask: .none, keyLengths: lengths.const)
        expectGradient("dqkv (NKV = \(NKV), bias \(withBias))", of: qkv, analytic: dqkv, loss: loss)
        if withBias { expectGradient("dtable (NKV = \(NKV))", of: table, analytic: dtable, loss: loss) }
        // Padded keys: probability exactly 0, and exactly no key or value gradient.
        for b in 0..<B {
            let L = Int(lengths[b])
            for i in 0..<(NH * T) {
                let r = (b * NH * T + i) * T
                #expect((L..<T).allSatisfy { att[r + $0] == 0 })
                #expect(abs((0..<L).map { Double(att[r + $0]) }.reduce(0, +) - 1) < 1e-6)
            }
            for t in L..<T {
                #expect((C..<row).allSatisfy { dqkv[(b * T + t) * row + $0] == 0 }, "sequence \(b), token \(t)")
            }
        }
    }

    /// The valid rows of a padded sequence are the same attention run on the sequence cut to its
    /// length (S' = L), and so are the gradients of its valid tokens when padded rows carry no loss.
    @Test(arguments: [(4, false), (2, true)])
    func selfAttentionEqualsTruncatedSequence(NKV: Int, withBias: Bool) {
        let (qkv, table, w) = selfInputs(NKV: NKV, seed: UInt64(50 + NKV))
        let lengths = selfLengths, row = C + 2 * NKV * HS, L = Int(lengths[0])
        let bias = withBias ? RelativePositionBias(table: table.const, ld: NH, buckets: buckets()) : nil
        let scale: Float? = withBias ? 1 : nil
        for t in L..<T { for i in 0..<C { w[t * C + i] = 0 } }  // padded rows of sequence 0 carry no loss
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        attentionForward(out.pointer, att.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, NKV: NKV, HS: HS,
                         scale: scale, mask: .none, keyLengths: lengths.const)
        let dqkv = Tensor(count: B * T * row), scratch = Tensor(count: T * T)
        attentionBackward(dqkv.pointer, scratch.pointer, w.const, att.const, qkv.const, bias: bias, B: B, T: T,
                          NH: NH, NKV: NKV, HS: HS, scale: scale, mask: .none, keyLengths: lengths.const)

        let cutQKV = Tensor(Array(qkv.values[0..<(L * row)])), cutW = Tensor(Array(w.values[0..<(L * C)]))
        let cutOut = Tensor(count: L * C), cutAtt = Tensor(count: NH * L * L)
        attentionForward(cutOut.pointer, cutAtt.pointer, cutQKV.const, bias: bias, B: 1, T: L, NH: NH, NKV: NKV,
                         HS: HS, scale: scale, mask: .none)
        let cutD = Tensor(count: L * row), cutScratch = Tensor(count: L * L)
        attentionBackward(cutD.pointer, cutScratch.pointer, cutW.const, cutAtt.const, cutQKV.const, bias: bias, B: 1,
                          T: L, NH: NH, NKV: NKV, HS: HS, scale: scale, mask: .none)
        #expect(maxAbsDifference(out.values[0..<(L * C)], cutOut.values) <= 1e-6)
        #expect(maxAbsDifference(dqkv.values[0..<(L * row)], cutD.values) <= 1e-6)
        #expect(cutD.values.contains { abs($0) > 1e-2 }, "gradients are ~0, the comparison proves nothing")
        for h in 0..<NH {
            for i in 0..<L {
                let full = att.values[((h * T + i) * T)..<((h * T + i) * T + L)]
                #expect(maxAbsDifference(full, cutAtt.values[((h * L + i) * L)..<((h * L + i + 1) * L)]) <= 1e-6)
            }
        }
        // The full-length sequence is the unpadded kernel's, bit for bit.
        let plain = Tensor(count: B * T * C), plainAtt = Tensor(count: B * NH * T * T)
        attentionForward(plain.pointer, plainAtt.pointer, qkv.const, bias: bias, B: B, T: T, NH: NH, NKV: NKV, HS: HS,
                         scale: scale, mask: .none)
        #expect(Array(out.values[(T * C)...]) == Array(plain.values[(T * C)...]))
    }

    /// Padded keys and values are never read: NaN there changes no output, padded rows' included.
    /// Padded queries change only their own (padded) rows.
    @Test func paddedContentsChangeNoValidOutput() {
        let NKV = 2, (qkv, table, _) = selfInputs(NKV: NKV, seed: 60)
        let lengths = selfLengths, row = C + 2 * NKV * HS, L = Int(lengths[0])
        let bias = RelativePositionBias(table: table.const, ld: NH, buckets: buckets())
        func run(_ x: Tensor) -> [Float] {
            let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
            attentionForward(out.pointer, att.pointer, x.const, bias: bias, B: B, T: T, NH: NH, NKV: NKV, HS: HS,
                             scale: 1, mask: .none, keyLengths: lengths.const)
            return out.values
        }
        let before = run(qkv)
        let changed = Tensor(qkv.values)
        for t in L..<T { for i in C..<row { changed[t * row + i] = .nan } }
        #expect(run(changed) == before)
        for t in L..<T { for i in 0..<C { changed[t * row + i] = 9 } }
        let after = run(changed)
        #expect(Array(after[0..<(L * C)]) == Array(before[0..<(L * C)]))
        #expect(Array(after[(T * C)...]) == Array(before[(T * C)...]))
        #expect(after.allSatisfy { $0.isFinite })
    }

    // MARK: Cross-attention

    @Test(arguments: [4, 2, 1])
    func crossAttentionBackwardMatchesFiniteDifferences(NKV: Int) {
        let (q, kv, w) = crossInputs(NKV: NKV, seed: UInt64(70 + NKV))
        let lengths = crossLengths, row = 2 * NKV * HS
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * S)
        func loss() -> Double {
            crossAttentionForward(out.pointer, att.pointer, q.const, kv.const, B: B, T: T, S: S, NH: NH, NKV: NKV,
                                  HS: HS, scale: 1, keyLengths: lengths.const)
            return weightedSum(out.const, w)
        }
        _ = loss()
        let dq = Tensor(count: B * T * C, repeating: 7), dkv = Tensor(count: B * S * row, repeating: 7)
        let scratch = Tensor(count: T * S)
        crossAttentionBackward(dq.pointer, dkv.pointer, scratch.pointer, w.const, att.const, q.const, kv.const,
                               B: B, T: T, S: S, NH: NH, NKV: NKV, HS: HS, scale: 1, keyLengths: lengths.const)
        expectGradient("dq (NKV = \(NKV))", of: q, analytic: dq, loss: loss)
        expectGradient("dkv (NKV = \(NKV))", of: kv, analytic: dkv, loss: loss)
        for b in 0..<B {
            let L = Int(lengths[b])
            for i in 0..<(NH * T) {
                let r = (b * NH * T + i) * S
                #expect((L..<S).allSatisfy { att[r + $0] == 0 })
            }
            for s in L..<S { #expect((0..<row).allSatisfy { dkv[(b * S + s) * row + $0] == 0 }, "sequence \(b), key \(s)") }
        }
    }

    /// Sequence 0's outputs and gradients are cross-attention over its encoder cut to S' = L; the
    /// full sequence's are the unpadded kernel's bit for bit; NaN in padded keys and values changes
    /// nothing; and decoding with the sequence's key length gives the full forward's rows.
    @Test(arguments: [4, 2])
    func crossAttentionEqualsTruncatedEncoder(NKV: Int) {
        let (q, kv, w) = crossInputs(NKV: NKV, seed: UInt64(80 + NKV))
        let lengths = crossLengths, row = 2 * NKV * HS, L = Int(lengths[0])
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * S)
        crossAttentionForward(out.pointer, att.pointer, q.const, kv.const, B: B, T: T, S: S, NH: NH, NKV: NKV, HS: HS,
                              keyLengths: lengths.const)
        let dq = Tensor(count: B * T * C), dkv = Tensor(count: B * S * row), scratch = Tensor(count: T * S)
        crossAttentionBackward(dq.pointer, dkv.pointer, scratch.pointer, w.const, att.const, q.const, kv.const,
                               B: B, T: T, S: S, NH: NH, NKV: NKV, HS: HS, keyLengths: lengths.const)

        let cutQ = Tensor(Array(q.values[0..<(T * C)])), cutKV = Tensor(Array(kv.values[0..<(L * row)]))
        let cutW = Tensor(Array(w.values[0..<(T * C)]))
        let cutOut = Tensor(count: T * C), cutAtt = Tensor(count: NH * T * L)
        crossAttentionForward(cutOut.pointer, cutAtt.pointer, cutQ.const, cutKV.const, B: 1, T: T, S: L, NH: NH,
                              NKV: NKV, HS: HS)
        let cutDQ = Tensor(count: T * C), cutDKV = Tensor(count: L * row), cutScratch = Tensor(count: T * L)
        crossAttentionBackward(cutDQ.pointer, cutDKV.pointer, cutScratch.pointer, cutW.const, cutAtt.const, cutQ.const,
                               cutKV.const, B: 1, T: T, S: L, NH: NH, NKV: NKV, HS: HS)
        #expect(maxAbsDifference(out.values[0..<(T * C)], cutOut.values) <= 1e-6)
        #expect(maxAbsDifference(dq.values[0..<(T * C)], cutDQ.values) <= 1e-6)
        #expect(maxAbsDifference(dkv.values[0..<(L * row)], cutDKV.values) <= 1e-6)

        let plain = Tensor(count: B * T * C), plainAtt = Tensor(count: B * NH * T * S)
        crossAttentionForward(plain.pointer, plainAtt.pointer, q.const, kv.const, B: B, T: T, S: S, NH: NH, NKV: NKV,
                              HS: HS)
        #expect(Array(out.values[(T * C)...]) == Array(plain.values[(T * C)...]))

        let poisoned = Tensor(kv.values), again = Tensor(count: B * T * C)
        for s in L..<S { for i in 0..<row { poisoned[s * row + i] = .nan } }
        crossAttentionForward(again.pointer, att.pointer, q.const, poisoned.const, B: B, T: T, S: S, NH: NH, NKV: NKV,
                              HS: HS, keyLengths: lengths.const)
        #expect(again.values == out.values)

        for (t0, n) in [(0, 1), (1, 2)] {
            let cached = Tensor(count: n * C), scores = Tensor(count: n * S)
            cachedCrossAttentionForward(cached.pointer, scores.pointer, q.const + t0 * C, qStride: C, poisoned.const,
                                        n: n, S: S, NH: NH, NKV: NKV, HS: HS, keyLength: L)
            #expect(maxAbsDifference(cached.values, out.values[(t0 * C)..<((t0 + n) * C)]) <= 1e-6, "queries \(t0)..<\(t0 + n)")
        }
    }
}
