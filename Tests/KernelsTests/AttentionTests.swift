import Foundation
import Kernels
import Testing

@Suite struct AttentionTests {
    let B = 2, T = 5, NH = 2, HS = 4
    var C: Int { NH * HS }

    /// qkv (B, T, 3C) and output weights w (B, T, C).
    func inputs(seed: UInt64) -> (qkv: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        return (Tensor(count: B * T * 3 * C, in: -1.5...1.5, rng: &rng), Tensor(count: B * T * C, in: -1...1, rng: &rng))
    }

    /// Naive causal attention in Double: out[b, t, h] = Σ_{j ≤ t} softmax_j(q_t · k_j / √HS) · v_j.
    func referenceAttention(_ qkv: Tensor) -> (out: [Double], att: [Double]) {
        var out = [Double](repeating: 0, count: B * T * C), att = [Double](repeating: 0, count: B * NH * T * T)
        func at(_ b: Int, _ t: Int, _ part: Int, _ h: Int, _ i: Int) -> Double {
            Double(qkv[(b * T + t) * 3 * C + part * C + h * HS + i])
        }
        for b in 0..<B {
            for h in 0..<NH {
                for t in 0..<T {
                    let scores = (0...t).map { j in
                        (0..<HS).map { at(b, t, 0, h, $0) * at(b, j, 1, h, $0) }.reduce(0, +) / Double(HS).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let z = e.reduce(0, +)
                    for j in 0...t {
                        let p = e[j] / z
                        att[((b * NH + h) * T + t) * T + j] = p
                        for i in 0..<HS { out[(b * T + t) * C + h * HS + i] += p * at(b, j, 2, h, i) }
                    }
                }
            }
        }
        return (out, att)
    }

    @Test func forwardMatchesNaiveMaskedSoftmax() {
        let (qkv, _) = inputs(seed: 1)
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T, repeating: 5)
        attentionForward(out.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, HS: HS)
        let reference = referenceAttention(qkv)
        #expect(zip(out.values, reference.out).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        // att holds the probabilities, with exact zeros above the diagonal.
        #expect(zip(att.values, reference.att).allSatisfy { abs(Double($0) - $1) < 1e-6 })
        for row in 0..<(B * NH * T) {
            let t = row % T
            #expect(abs((0...t).map { att[row * T + $0] }.reduce(0, +) - 1) < 1e-6)
            #expect(((t + 1)..<T).allSatisfy { att[row * T + $0] == 0 })
        }
    }

    @Test func backwardMatchesFiniteDifferences() {
        let (qkv, w) = inputs(seed: 2)
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        func loss() -> Double {
            attentionForward(out.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, HS: HS)
            return weightedSum(out.const, w)
        }
        _ = loss()
        // dqkv starts as garbage: backward overwrites it.
        let dqkv = Tensor(count: B * T * 3 * C, repeating: 7), scratch = Tensor(count: T * T)
        attentionBackward(dqkv.pointer, scratch.pointer, w.const, att.const, qkv.const, B: B, T: T, NH: NH, HS: HS)
        expectGradient("dqkv", of: qkv, analytic: dqkv, loss: loss)
    }

    /// A loss on position t0 only: later positions get exactly zero gradient (q, k and v), earlier
    /// queries too, and perturbing later positions leaves outputs up to t0 unchanged.
    @Test func futurePositionsGetNoGradient() {
        let (qkv, w) = inputs(seed: 3)
        let t0 = 2
        for b in 0..<B {
            for t in 0..<T where t != t0 {
                for c in 0..<C { w[(b * T + t) * C + c] = 0 }
            }
        }
        let out = Tensor(count: B * T * C), att = Tensor(count: B * NH * T * T)
        attentionForward(out.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, HS: HS)
        let dqkv = Tensor(count: B * T * 3 * C, repeating: 7), scratch = Tensor(count: T * T)
        attentionBackward(dqkv.pointer, scratch.pointer, w.const, att.const, qkv.const, B: B, T: T, NH: NH, HS: HS)
        for b in 0..<B {
            for t in 0..<T {
                let row = (0..<(3 * C)).map { dqkv[(b * T + t) * 3 * C + $0] }
                if t > t0 {
                    #expect(row.allSatisfy { $0 == 0 }, "position \(t) after \(t0) has a gradient")
                } else {
                    #expect(row[..<C].allSatisfy { $0 == 0 } == (t < t0), "query \(t)")
                    #expect(row[C...].contains { $0 != 0 }, "keys and values at \(t) must matter")
                }
            }
        }
        let before = out.values
        for b in 0..<B {
            for i in ((t0 + 1) * 3 * C)..<(T * 3 * C) { qkv[b * T * 3 * C + i] += 0.5 }
        }
        attentionForward(out.pointer, att.pointer, qkv.const, B: B, T: T, NH: NH, HS: HS)
        for b in 0..<B {
            let prefix = (b * T * C)..<((b * T + t0 + 1) * C)
            #expect(Array(out.values[prefix]) == Array(before[prefix]))
        }
    }
}
