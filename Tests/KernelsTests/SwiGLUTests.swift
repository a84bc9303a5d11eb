import Foundation
import Kernels
import Testing

@Suite struct SwiGLUTests {
    let N = 10, H = 12  // N = B·T with B = 2, T = 5; H = 12 takes the vector loop and its tail

    /// silu(g) · u in Double with libm's exp.
    static func reference(gate g: Double, up u: Double) -> Double { g / (1 + exp(-g)) * u }

    /// gateup (N, 2H) with each row [gate | up], gates over [-20, 20] so both tails of the sigmoid
    /// are exercised.
    func gateup(_ gates: [Float], _ ups: [Float]) -> Tensor {
        precondition(gates.count == N * H && ups.count == N * H)
        let t = Tensor(count: N * 2 * H)
        for n in 0..<N {
            for i in 0..<H {
                t[n * 2 * H + i] = gates[n * H + i]
                t[n * 2 * H + H + i] = ups[n * H + i]
            }
        }
        return t
    }

    @Test func forwardIsSiluOfGateTimesUp() {
        var rng = TestRNG(seed: 1)
        let gates = (0..<(N * H)).map { Float($0) / Float(N * H - 1) * 40 - 20 }
        let ups = (0..<(N * H)).map { _ in rng.uniform(-2...2) }
        let inp = gateup(gates, ups), out = Tensor(count: N * H)
        swigluForward(out.pointer, inp.const, N: N, H: H)
        for i in 0..<(N * H) {
            let expected = Self.reference(gate: Double(gates[i]), up: Double(ups[i]))
            // silu's relative error (< 2e-7, measured) and one rounding; no absolute floor, so the far
            // negative side, where silu is ~1e-8, is held to relative accuracy too.
            #expect(abs(Double(out[i]) - expected) <= 1e-6 * abs(expected),
                    "swiglu(\(gates[i]), \(ups[i])) = \(out[i]), expected \(expected)")
        }
    }

    /// sigmoid(x) + sigmoid(−x) = 1, so silu(x) − silu(−x) = x; with up = 1 the output is silu.
    @Test func siluOfXMinusSiluOfMinusXIsX() {
        let xs = (0..<(N * H)).map { Float($0) / Float(N * H - 1) * 24 - 12 }
        let ones = [Float](repeating: 1, count: N * H)
        let plusIn = gateup(xs, ones), minusIn = gateup(xs.map { -$0 }, ones)
        let plus = Tensor(count: N * H), minus = Tensor(count: N * H)
        swigluForward(plus.pointer, plusIn.const, N: N, H: H)
        swigluForward(minus.pointer, minusIn.const, N: N, H: H)
        for i in 0..<(N * H) {
            #expect(abs(plus[i] - minus[i] - xs[i]) <= 1e-6 * max(1, abs(xs[i])),
                    "silu(\(xs[i])) − silu(\(-xs[i])) = \(plus[i] - minus[i])")
        }
    }

    @Test func backwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 2)
        let inp = Tensor(count: N * 2 * H, in: -4...4, rng: &rng), w = Tensor(count: N * H, in: -1...1, rng: &rng)
        let out = Tensor(count: N * H)
        func loss() -> Double {
            swigluForward(out.pointer, inp.const, N: N, H: H)
            return weightedSum(out.const, w)
        }
        // dgateup starts as garbage: backward overwrites it.
        let dgateup = Tensor(count: N * 2 * H, repeating: 7)
        swigluBackward(dgateup.pointer, w.const, inp.const, N: N, H: H)
        expectGradient("dgateup", of: inp, analytic: dgateup, loss: loss)
    }
}
