import Foundation
import Kernels
import Testing

@Suite struct OptimizerTests {
    /// PyTorch's torch.optim.AdamW (amsgrad off), written out in Double:
    /// p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
    /// p ← p − lr / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps).
    struct ReferenceAdamW {
        var p: [Double], m: [Double], v: [Double]
        let lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double

        mutating func step(_ g: [Double], t: Int) {
            let bias1 = 1 - pow(beta1, Double(t)), bias2 = 1 - pow(beta2, Double(t))
            for i in p.indices {
                p[i] *= 1 - lr * weightDecay
                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                p[i] -= lr / bias1 * m[i] / (v[i].squareRoot() / bias2.squareRoot() + eps)
            }
        }
    }

    @Test func adamWMatchesPyTorchsFormulaOverThreeSteps() {
        let N = 16
        let lr: Float = 1e-2, beta1: Float = 0.9, beta2: Float = 0.99, eps: Float = 1e-8, wd: Float = 0.1
        var rng = TestRNG(seed: 1)
        let params = Tensor(count: N, in: -1...1, rng: &rng), m = Tensor(count: N), v = Tensor(count: N)
        var reference = ReferenceAdamW(p: params.values.map(Double.init), m: Array(repeating: 0, count: N),
                                       v: Array(repeating: 0, count: N), lr: Double(lr), beta1: Double(beta1),
                                       beta2: Double(beta2), eps: Double(eps), weightDecay: Double(wd))
        for t in 1...3 {
            let grads = Tensor(count: N, in: -2...2, rng: &rng)
            grads[0] = 0  // a parameter with no gradient still decays
            grads[1] = 1e-6  // tiny gradients: eps matters
            let gradScale: Float = t == 2 ? 0.25 : 1  // clipping's factor is applied on the way in
            reference.step(grads.values.map { Double($0 * gradScale) }, t: t)
            adamWUpdate(params.pointer, m.pointer, v.pointer, grads.pointer, N: N, gradScale: gradScale, lr: lr,
                        beta1: beta1, beta2: beta2, eps: eps, weightDecay: wd, step: t)
            #expect(grads.values.allSatisfy { $0 == 0 }, "the update consumes the gradients")
            for i in 0..<N {
                #expect(abs(Double(params[i]) - reference.p[i]) < 1e-6, "step \(t) parameter \(i)")
                #expect(relativeError(Double(m[i]), reference.m[i], floor: 1e-12) < 1e-5, "step \(t) m[\(i)]")
                #expect(relativeError(Double(v[i]), reference.v[i], floor: 1e-20) < 1e-5, "step \(t) v[\(i)]")
            }
        }
    }

    @Test func sumOfSquaresMatchesDoubleAcrossBlockBoundaries() {
        for N in [0, 1, 1023, 1024, 1025, 5000] {
            var rng = TestRNG(seed: UInt64(N))
            let x = Tensor(count: N, in: -3...3, rng: &rng)
            let expected = x.values.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(relativeError(sumOfSquares(x.const, N: N), expected, floor: 1e-30) < 1e-6, "N = \(N)")
        }
    }
}
