import Kernels
import Testing

@Suite struct RMSNormTests {
    let N = 10, C = 12  // N = B·T with B = 2, T = 5; C = 12 takes the 8-lane loop and its tail

    /// inp (N, C) with a per-row offset and spread, weight (C), output weights w (N, C).
    func inputs(seed: UInt64) -> (inp: Tensor, weight: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        let inp = Tensor(count: N * C, in: -1...1, rng: &rng)
        for n in 0..<N {
            let offset = rng.uniform(-1...1), spread = rng.uniform(0.5...2)
            for c in 0..<C { inp[n * C + c] = offset + spread * inp[n * C + c] }
        }
        return (inp, Tensor(count: C, in: 0.5...1.5, rng: &rng), Tensor(count: N * C, in: -1...1, rng: &rng))
    }

    /// Hugging Face's LlamaRMSNorm in Double: weight · (x · 1/sqrt(mean(x²) + eps)).
    func reference(_ inp: Tensor, _ weight: Tensor, eps: Double) -> (out: [Double], rstd: [Double]) {
        var out = [Double](), rstd = [Double]()
        for n in 0..<N {
            let x = (0..<C).map { Double(inp[n * C + $0]) }
            let s = 1 / (x.map { $0 * $0 }.reduce(0, +) / Double(C) + eps).squareRoot()
            out += (0..<C).map { Double(weight[$0]) * (x[$0] * s) }
            rstd.append(s)
        }
        return (out, rstd)
    }

    @Test func forwardMatchesLlamaRMSNormAndSavesRstd() {
        let (inp, weight, _) = inputs(seed: 1)
        let out = Tensor(count: N * C), rstd = Tensor(count: N)
        for eps: Float in [1e-6, 1e-5] {
            rmsNormForward(out.pointer, rstd.pointer, inp.const, weight.const, N: N, C: C, eps: eps)
            let expected = reference(inp, weight, eps: Double(eps))
            for i in 0..<(N * C) {
                #expect(abs(Double(out[i]) - expected.out[i]) < 2e-6, "out[\(i)] = \(out[i]), eps \(eps)")
            }
            for n in 0..<N {
                #expect(relativeError(Double(rstd[n]), expected.rstd[n]) < 1e-6, "rstd[\(n)], eps \(eps)")
            }
        }
    }

    /// With a unit weight every row comes out with mean square 1 (less eps's share), whatever its scale.
    @Test func unitWeightGivesRowsOfMeanSquareOne() {
        let (inp, _, _) = inputs(seed: 2)
        let out = Tensor(count: N * C), rstd = Tensor(count: N), ones = Tensor(count: C, repeating: 1)
        rmsNormForward(out.pointer, rstd.pointer, inp.const, ones.const, N: N, C: C)
        for n in 0..<N {
            let meanSquare = (0..<C).map { Double(out[n * C + $0]) * Double(out[n * C + $0]) }.reduce(0, +) / Double(C)
            #expect(abs(meanSquare - 1) < 1e-5, "row \(n): mean square \(meanSquare)")  // eps / mean(x²) ≤ 1e-5
        }
    }

    /// RMSNorm ignores the scale of its input: rows multiplied by any α > 0 normalise alike.
    @Test func outputIsInvariantToScalingTheInput() {
        let (inp, weight, _) = inputs(seed: 3)
        let out = Tensor(count: N * C), scaledOut = Tensor(count: N * C), rstd = Tensor(count: N)
        rmsNormForward(out.pointer, rstd.pointer, inp.const, weight.const, N: N, C: C, eps: 0)
        for alpha: Float in [0.01, 3, 250] {
            let scaled = Tensor(inp.values.map { $0 * alpha })
            rmsNormForward(scaledOut.pointer, rstd.pointer, scaled.const, weight.const, N: N, C: C, eps: 0)
            #expect(maxAbsDifference(out.values, scaledOut.values) < 2e-6, "α = \(alpha)")
        }
    }

    @Test func backwardMatchesFiniteDifferencesForInputAndWeight() {
        let (inp, weight, w) = inputs(seed: 4)
        let out = Tensor(count: N * C), rstd = Tensor(count: N)
        func loss() -> Double {
            rmsNormForward(out.pointer, rstd.pointer, inp.const, weight.const, N: N, C: C)
            return weightedSum(out.const, w)
        }
        _ = loss()
        let dinp = Tensor(count: N * C), dweight = Tensor(count: C)
        rmsNormBackward(dinp.pointer, dweight.pointer, w.const, inp.const, weight.const, rstd.const, N: N, C: C)
        expectGradient("dinp", of: inp, analytic: dinp, loss: loss)
        expectGradient("dweight", of: weight, analytic: dweight, loss: loss)
    }

    /// dinp is the residual stream's gradient: backward adds to it; the weight gradient accumulates.
    @Test func everyGradientIsAddedNotOverwritten() {
        let (inp, weight, w) = inputs(seed: 5)
        let out = Tensor(count: N * C), rstd = Tensor(count: N)
        rmsNormForward(out.pointer, rstd.pointer, inp.const, weight.const, N: N, C: C)
        let once = (dinp: Tensor(count: N * C), dweight: Tensor(count: C))
        rmsNormBackward(once.dinp.pointer, once.dweight.pointer, w.const, inp.const, weight.const, rstd.const,
                        N: N, C: C)
        var rng = TestRNG(seed: 6)
        let start = Tensor(count: N * C, in: -1...1, rng: &rng)
        let twice = (dinp: Tensor(start.values), dweight: Tensor(count: C))
        for _ in 0..<2 {
            rmsNormBackward(twice.dinp.pointer, twice.dweight.pointer, w.const, inp.const, weight.const, rstd.const,
                            N: N, C: C)
        }
        let expectedDinp = (0..<(N * C)).map { start[$0] + 2 * once.dinp[$0] }
        #expect(maxAbsDifference(twice.dinp.values, expectedDinp) < 1e-5)
        #expect(maxAbsDifference(twice.dweight.values, once.dweight.values.map { 2 * $0 }) < 1e-5)
        #expect(once.dweight.values.contains { abs($0) > 1e-2 } && once.dinp.values.contains { abs($0) > 1e-2 })
    }
}
