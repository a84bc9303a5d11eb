import Foundation
import Kernels
import Testing

@Suite struct GeGLUTests {
    let N = 10, H = 12  // N = B·T with B = 2, T = 5; H = 12 takes the vector loop and its tail

    /// transformers' gelu_new, 0.5·g·(1 + tanh(√(2/π)·(g + 0.044715·g³))), times u, in Double with
    /// libm's tanh.
    static func reference(gate g: Double, up u: Double) -> Double {
        0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g))) * u
    }

    /// gateup (N, 2H) with each row [gate | up].
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

    /// Gates over [-12, 12], past both of tanh's saturations.
    @Test func forwardIsGeluNewOfGateTimesUp() {
        var rng = TestRNG(seed: 1)
        let gates = (0..<(N * H)).map { Float($0) / Float(N * H - 1) * 24 - 12 }
        let ups = (0..<(N * H)).map { _ in rng.uniform(-2...2) }
        let inp = gateup(gates, ups), out = Tensor(count: N * H)
        gegluForward(out.pointer, inp.const, N: N, H: H)
        for i in 0..<(N * H) {
            let expected = Self.reference(gate: Double(gates[i]), up: Double(ups[i]))
            // tanh's absolute error (< 4e-7) scaled by 0.5·|g·u|, and a few roundings.
            let bound = 3e-7 * abs(Double(gates[i]) * Double(ups[i])) + 1e-6 * abs(expected)
            #expect(abs(Double(out[i]) - expected) <= bound, "geglu(\(gates[i]), \(ups[i])) = \(out[i]), expected \(expected)")
        }
    }

    /// With every up 1, GeGLU is GELU, bit for bit (one shared C function), forward and backward.
    @Test func withUnitUpIsGELU() {
        var rng = TestRNG(seed: 2)
        let gates = (0..<(N * H)).map { _ in rng.uniform(-6...6) }, d = (0..<(N * H)).map { _ in rng.uniform(-1...1) }
        let inp = gateup(gates, [Float](repeating: 1, count: N * H)), g = Tensor(gates), dout = Tensor(d)
        let geglu = Tensor(count: N * H), gelu = Tensor(count: N * H)
        gegluForward(geglu.pointer, inp.const, N: N, H: H)
        geluForward(gelu.pointer, g.const, N: N * H)
        #expect(geglu.values == gelu.values)
        let dgateup = Tensor(count: N * 2 * H), dgelu = Tensor(count: N * H)
        gegluBackward(dgateup.pointer, dout.const, inp.const, N: N, H: H)
        geluBackward(dgelu.pointer, dout.const, g.const, N: N * H)
        for n in 0..<N {
            #expect((0..<H).allSatisfy { dgateup[n * 2 * H + $0] == dgelu[n * H + $0] }, "dgate of row \(n)")
            // ∂/∂up = dout · gelu(gate).
            #expect((0..<H).allSatisfy { dgateup[n * 2 * H + H + $0] == d[n * H + $0] * gelu[n * H + $0] }, "dup of row \(n)")
        }
    }

    @Test func backwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 3)
        let inp = Tensor(count: N * 2 * H, in: -4...4, rng: &rng), w = Tensor(count: N * H, in: -1...1, rng: &rng)
        let out = Tensor(count: N * H)
        func loss() -> Double {
            gegluForward(out.pointer, inp.const, N: N, H: H)
            return weightedSum(out.const, w)
        }
        // dgateup starts as garbage: backward overwrites it.
        let dgateup = Tensor(count: N * 2 * H, repeating: 7)
        gegluBackward(dgateup.pointer, w.const, inp.const, N: N, H: H)
        expectGradient("dgateup", of: inp, analytic: dgateup, loss: loss)
    }
}
