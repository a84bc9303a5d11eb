import Kernels
import Random
import Testing

@Suite struct DropoutTests {
    let mask = DropoutMask(probability: 0.1, rng: CounterRNG(seed: 1234, label: "dropout"))

    @Test func keptFractionIsOneMinusPAndKeptValuesAreScaled() {
        let N = 200_000
        let ones = Tensor(count: N, repeating: 1), out = Tensor(count: N)
        mask.apply(out.pointer, ones.const, N: N, counterBase: 77)
        let kept = out.values.filter { $0 != 0 }
        // Binomial standard deviation √(p(1−p)/N) ≈ 6.7e-4; allow 6σ.
        #expect(abs(Double(kept.count) / Double(N) - 0.9) < 4e-3)
        #expect(kept.allSatisfy { $0 == 1 / (1 - Float(0.1)) })
    }

    @Test func sameCounterBaseGivesTheSameMask() {
        let N = 1000
        var rng = TestRNG(seed: 1)
        let x = Tensor(count: N, in: 0.5...1.5, rng: &rng)
        let first = Tensor(count: N), second = Tensor(count: N), shifted = Tensor(count: N)
        mask.apply(first.pointer, x.const, N: N, counterBase: 5000)
        mask.apply(second.pointer, x.const, N: N, counterBase: 5000)
        mask.apply(shifted.pointer, x.const, N: N, counterBase: 6000)
        #expect(first.values == second.values)
        #expect(first.values != shifted.values)
        // Element i's mask depends only on counterBase + i: a window starting later is a shifted view.
        let tail = Tensor(count: N - 10)
        mask.apply(tail.pointer, x.const + 10, N: N - 10, counterBase: 5010)
        #expect(tail.values == Array(first.values[10...]))
    }

    /// The backward is the same mask applied to dout: applying it twice drops the same elements again.
    @Test func backwardIsTheMaskAppliedToTheOutputGradient() {
        let N = 80
        var rng = TestRNG(seed: 2)
        let x = Tensor(count: N, in: -1...1, rng: &rng), w = Tensor(count: N, in: -1...1, rng: &rng)
        let out = Tensor(count: N)
        func loss() -> Double {
            mask.apply(out.pointer, x.const, N: N, counterBase: 321)
            return weightedSum(out.const, w)
        }
        let dx = Tensor(count: N)
        mask.apply(dx.pointer, w.const, N: N, counterBase: 321)
        expectGradient("dinp", of: x, analytic: dx, loss: loss)

        let once = Tensor(count: N), twice = Tensor(count: N)
        mask.apply(once.pointer, x.const, N: N, counterBase: 321)
        mask.apply(twice.pointer, once.const, N: N, counterBase: 321)
        let keepScale = 1 / (1 - Float(0.1))
        for i in 0..<N {
            #expect(twice[i] == (once[i] == 0 ? 0 : once[i] * keepScale))
        }
        #expect(once.values.contains(0), "80 draws at p = 0.1 should drop something")
    }

    @Test func applyWorksInPlace() {
        let N = 500
        var rng = TestRNG(seed: 3)
        let x = Tensor(count: N, in: -1...1, rng: &rng)
        let separate = Tensor(count: N), inPlace = Tensor(x.values)
        mask.apply(separate.pointer, x.const, N: N, counterBase: 9)
        mask.apply(inPlace.pointer, inPlace.const, N: N, counterBase: 9)
        #expect(inPlace.values == separate.values)
    }

    @Test func zeroProbabilityIsTheIdentity() {
        let N = 500
        var rng = TestRNG(seed: 4)
        let x = Tensor(count: N, in: -1...1, rng: &rng), out = Tensor(count: N)
        DropoutMask(probability: 0, rng: CounterRNG(seed: 1)).apply(out.pointer, x.const, N: N, counterBase: 0)
        #expect(out.values == x.values)
    }
}
