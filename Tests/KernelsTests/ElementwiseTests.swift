import Foundation
import Kernels
import Testing

@Suite struct ElementwiseTests {
    let N = 80  // B = 2, T = 5, C = 8

    @Test func residualAddsElementwise() {
        var rng = TestRNG(seed: 1)
        let a = Tensor(count: N, in: -1...1, rng: &rng), b = Tensor(count: N, in: -1...1, rng: &rng)
        let out = Tensor(count: N)
        residualForward(out.pointer, a.const, b.const, N: N)
        #expect(out.values == zip(a.values, b.values).map { $0 + $1 })
    }

    /// GPT-2's GELU: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in Double with libm's tanh.
    static func referenceGELU(_ x: Double) -> Double {
        0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }

    @Test func geluForwardMatchesTheTanhFormula() {
        let xs = stride(from: Float(-12), through: 12, by: 0.01).map { $0 }
        let inp = Tensor(xs), out = Tensor(count: xs.count)
        geluForward(out.pointer, inp.const, N: xs.count)
        for (i, x) in xs.enumerated() {
            let expected = Self.referenceGELU(Double(x))
            // The kernel's tanh (via its exp) is accurate to ~1e-7 absolute; 0.5·|x| scales that.
            #expect(abs(Double(out[i]) - expected) <= 2e-7 * max(1, abs(Double(x))),
                    "gelu(\(x)) = \(out[i]), expected \(expected)")
        }
    }

    @Test func geluBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 2)
        let inp = Tensor(count: N, in: -4...4, rng: &rng), w = Tensor(count: N, in: -1...1, rng: &rng)
        inp[0] = 0
        let out = Tensor(count: N)
        func loss() -> Double {
            geluForward(out.pointer, inp.const, N: N)
            return weightedSum(out.const, w)
        }
        let dinp = Tensor(count: N)
        geluBackward(dinp.pointer, w.const, inp.const, N: N)
        expectGradient("dinp", of: inp, analytic: dinp, loss: loss)
    }

    @Test func geluBackwardInPlaceEqualsOutOfPlace() {
        var rng = TestRNG(seed: 3)
        let inp = Tensor(count: N, in: -4...4, rng: &rng), dout = Tensor(count: N, in: -1...1, rng: &rng)
        let separate = Tensor(count: N), inPlace = Tensor(dout.values)
        geluBackward(separate.pointer, dout.const, inp.const, N: N)
        geluBackward(inPlace.pointer, inPlace.const, inp.const, N: N)
        #expect(inPlace.values == separate.values)
    }
}
