import Kernels
import Testing

@Suite struct LinearTests {
    let BT = 10, C = 8, OC = 12  // B = 2, T = 5

    /// inp (BT, C), weight (OC, C), bias (OC), output weights w (BT, OC).
    func inputs(seed: UInt64) -> (inp: Tensor, weight: Tensor, bias: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        return (Tensor(count: BT * C, in: -1...1, rng: &rng), Tensor(count: OC * C, in: -1...1, rng: &rng),
                Tensor(count: OC, in: -1...1, rng: &rng), Tensor(count: BT * OC, in: -1...1, rng: &rng))
    }

    @Test func forwardIsInputTimesWeightTransposedPlusBias() {
        let (inp, weight, bias, _) = inputs(seed: 1)
        let out = Tensor(count: BT * OC, repeating: 99), noBias = Tensor(count: BT * OC, repeating: 99)
        linearForward(out.pointer, inp.const, weight.const, bias.const, BT: BT, C: C, OC: OC)
        linearForward(noBias.pointer, inp.const, weight.const, nil, BT: BT, C: C, OC: OC)
        for r in 0..<BT {
            for o in 0..<OC {
                var dot: Double = 0
                for c in 0..<C { dot += Double(inp[r * C + c]) * Double(weight[o * C + c]) }
                #expect(abs(Double(noBias[r * OC + o]) - dot) < 1e-5)
                #expect(abs(Double(out[r * OC + o]) - (dot + Double(bias[o]))) < 1e-5)
            }
        }
    }

    @Test func backwardMatchesFiniteDifferencesForInputWeightAndBias() {
        let (inp, weight, bias, w) = inputs(seed: 2)
        let out = Tensor(count: BT * OC)
        func loss() -> Double {
            linearForward(out.pointer, inp.const, weight.const, bias.const, BT: BT, C: C, OC: OC)
            return weightedSum(out.const, w)
        }
        // dinp starts as garbage: it is overwritten unless accumulateInput is set.
        let dinp = Tensor(count: BT * C, repeating: 7), dweight = Tensor(count: OC * C), dbias = Tensor(count: OC)
        linearBackward(dinp.pointer, dweight.pointer, dbias.pointer, w.const, inp.const, weight.const,
                       BT: BT, C: C, OC: OC)
        expectGradient("dinp", of: inp, analytic: dinp, loss: loss)
        expectGradient("dweight", of: weight, analytic: dweight, loss: loss)
        expectGradient("dbias", of: bias, analytic: dbias, loss: loss)
    }

    @Test func weightGradientsAccumulateAndInputGradientOnlyWhenAsked() {
        let (inp, weight, _, w) = inputs(seed: 3)
        let once = (dinp: Tensor(count: BT * C), dweight: Tensor(count: OC * C), dbias: Tensor(count: OC))
        let twice = (dinp: Tensor(count: BT * C), dweight: Tensor(count: OC * C), dbias: Tensor(count: OC))
        linearBackward(once.dinp.pointer, once.dweight.pointer, once.dbias.pointer, w.const, inp.const,
                       weight.const, BT: BT, C: C, OC: OC)
        for _ in 0..<2 {
            linearBackward(twice.dinp.pointer, twice.dweight.pointer, twice.dbias.pointer, w.const, inp.const,
                           weight.const, BT: BT, C: C, OC: OC, accumulateInput: true)
        }
        #expect(maxAbsDifference(twice.dweight.values, once.dweight.values.map { 2 * $0 }) < 1e-5)
        #expect(maxAbsDifference(twice.dbias.values, once.dbias.values.map { 2 * $0 }) < 1e-5)
        #expect(maxAbsDifference(twice.dinp.values, once.dinp.values.map { 2 * $0 }) < 1e-5)
        // Without accumulateInput, whatever dinp held is replaced.
        linearBackward(twice.dinp.pointer, twice.dweight.pointer, nil, w.const, inp.const, weight.const,
                       BT: BT, C: C, OC: OC)
        #expect(maxAbsDifference(twice.dinp.values, once.dinp.values) < 1e-6)
    }

    @Test func weightGradientWithoutInputGradientIsTheSame() {
        let (inp, weight, _, w) = inputs(seed: 4)
        let withInput = Tensor(count: OC * C), withoutInput = Tensor(count: OC * C)
        let dinp = Tensor(count: BT * C)
        linearBackward(dinp.pointer, withInput.pointer, nil, w.const, inp.const, weight.const, BT: BT, C: C, OC: OC)
        linearBackward(nil, withoutInput.pointer, nil, w.const, inp.const, weight.const, BT: BT, C: C, OC: OC)
        #expect(withInput.values == withoutInput.values)
    }
}
