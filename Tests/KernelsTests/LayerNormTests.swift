import Kernels
import Testing

@Suite struct LayerNormTests {
    let N = 10, C = 8  // N = B·T with B = 2, T = 5

    /// inp (N, C) with a per-row offset and spread, weight and bias (C), output weights w (N, C).
    func inputs(seed: UInt64) -> (inp: Tensor, weight: Tensor, bias: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        let inp = Tensor(count: N * C, in: -1...1, rng: &rng)
        for n in 0..<N {
            let offset = rng.uniform(-2...2), spread = rng.uniform(0.5...2)
            for c in 0..<C { inp[n * C + c] = offset + spread * inp[n * C + c] }
        }
        return (inp, Tensor(count: C, in: 0.5...1.5, rng: &rng), Tensor(count: C, in: -0.5...0.5, rng: &rng),
                Tensor(count: N * C, in: -1...1, rng: &rng))
    }

    @Test func unitWeightGivesRowsOfMeanZeroAndVarianceOne() {
        let (inp, _, _, _) = inputs(seed: 1)
        let out = Tensor(count: N * C), mean = Tensor(count: N), rstd = Tensor(count: N)
        let ones = Tensor(count: C, repeating: 1), zeros = Tensor(count: C)
        layerNormForward(out.pointer, mean.pointer, rstd.pointer, inp.const, ones.const, zeros.const, N: N, C: C)
        for n in 0..<N {
            let row = (0..<C).map { Double(out[n * C + $0]) }
            let m = row.reduce(0, +) / Double(C)
            let variance = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(C)
            #expect(abs(m) < 1e-6)
            #expect(abs(variance - 1) < 1e-3)  // eps = 1e-5 against row variances ≥ 0.05
            // The saved statistics are the input row's mean and 1 / sqrt(variance + eps).
            let x = (0..<C).map { Double(inp[n * C + $0]) }
            let xm = x.reduce(0, +) / Double(C)
            let xv = x.map { ($0 - xm) * ($0 - xm) }.reduce(0, +) / Double(C)
            #expect(abs(Double(mean[n]) - xm) < 1e-6)
            #expect(relativeError(Double(rstd[n]), 1 / (xv + 1e-5).squareRoot()) < 1e-6)
        }
    }

    @Test func forwardAppliesWeightAndBias() {
        let (inp, weight, bias, _) = inputs(seed: 2)
        let out = Tensor(count: N * C), mean = Tensor(count: N), rstd = Tensor(count: N)
        layerNormForward(out.pointer, mean.pointer, rstd.pointer, inp.const, weight.const, bias.const, N: N, C: C)
        for n in 0..<N {
            let x = (0..<C).map { Double(inp[n * C + $0]) }
            let m = x.reduce(0, +) / Double(C)
            let s = 1 / (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(C) + 1e-5).squareRoot()
            for c in 0..<C {
                let expected = (x[c] - m) * s * Double(weight[c]) + Double(bias[c])
                #expect(abs(Double(out[n * C + c]) - expected) < 1e-5)
            }
        }
    }

    @Test func backwardMatchesFiniteDifferencesForInputWeightAndBias() {
        let (inp, weight, bias, w) = inputs(seed: 3)
        let out = Tensor(count: N * C), mean = Tensor(count: N), rstd = Tensor(count: N)
        func loss() -> Double {
            layerNormForward(out.pointer, mean.pointer, rstd.pointer, inp.const, weight.const, bias.const,
                             N: N, C: C)
            return weightedSum(out.const, w)
        }
        _ = loss()
        let dinp = Tensor(count: N * C), dweight = Tensor(count: C), dbias = Tensor(count: C)
        layerNormBackward(dinp.pointer, dweight.pointer, dbias.pointer, w.const, inp.const, weight.const,
                          mean.const, rstd.const, N: N, C: C)
        expectGradient("dinp", of: inp, analytic: dinp, loss: loss)
        expectGradient("dweight", of: weight, analytic: dweight, loss: loss)
        expectGradient("dbias", of: bias, analytic: dbias, loss: loss)
    }

    /// dinp is the residual stream's gradient: backward adds to it; weight gradients accumulate.
    @Test func everyGradientIsAddedNotOverwritten() {
        let (inp, weight, bias, w) = inputs(seed: 4)
        let out = Tensor(count: N * C), mean = Tensor(count: N), rstd = Tensor(count: N)
        layerNormForward(out.pointer, mean.pointer, rstd.pointer, inp.const, weight.const, bias.const, N: N, C: C)
        let once = (dinp: Tensor(count: N * C), dweight: Tensor(count: C), dbias: Tensor(count: C))
        layerNormBackward(once.dinp.pointer, once.dweight.pointer, once.dbias.pointer, w.const, inp.const,
                          weight.const, mean.const, rstd.const, N: N, C: C)
        var rng = TestRNG(seed: 5)
        let start = Tensor(count: N * C, in: -1...1, rng: &rng)
        let twice = (dinp: Tensor(start.values), dweight: Tensor(count: C), dbias: Tensor(count: C))
        for _ in 0..<2 {
            layerNormBackward(twice.dinp.pointer, twice.dweight.pointer, twice.dbias.pointer, w.const, inp.const,
                              weight.const, mean.const, rstd.const, N: N, C: C)
        }
        let expectedDinp = (0..<(N * C)).map { start[$0] + 2 * once.dinp[$0] }
        #expect(maxAbsDifference(twice.dinp.values, expectedDinp) < 1e-5)
        #expect(maxAbsDifference(twice.dweight.values, once.dweight.values.map { 2 * $0 }) < 1e-5)
        #expect(maxAbsDifference(twice.dbias.values, once.dbias.values.map { 2 * $0 }) < 1e-5)
    }
}
