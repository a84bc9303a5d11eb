import Foundation
import Kernels
import Testing

@Suite struct CrossEntropyTests {
    let BT = 10  // B = 2, T = 5

    /// logits (BT, ld) with V valid columns; padding columns hold a huge value that must be ignored.
    func inputs(seed: UInt64, V: Int, ld: Int) -> (logits: Tensor, targets: Buffer<Int32>) {
        var rng = TestRNG(seed: seed)
        let logits = Tensor(count: BT * ld, repeating: 1000)
        for r in 0..<BT {
            for j in 0..<V { logits[r * ld + j] = rng.uniform(-3...3) }
        }
        return (logits, Buffer((0..<BT).map { _ in Int32(rng.below(V)) }))
    }

    @Test(arguments: [9, 12])
    func forwardIsLogSumExpMinusTargetLogit(ld: Int) {
        let V = 9
        let (logits, targets) = inputs(seed: 1, V: V, ld: ld)
        let losses = Tensor(count: BT), lse = Tensor(count: BT)
        crossEntropyForward(losses.pointer, lse.pointer, logits.const, targets.const, BT: BT, V: V, ld: ld)
        for r in 0..<BT {
            let row = (0..<V).map { Double(logits[r * ld + $0]) }
            let expectedLSE = log(row.map { exp($0) }.reduce(0, +))
            #expect(abs(Double(lse[r]) - expectedLSE) < 1e-5)
            #expect(abs(Double(losses[r]) - (expectedLSE - row[Int(targets[r])])) < 1e-5)
        }
    }

    /// Gradient of dloss · Σ losses, over every column including the padding (which gets 0).
    @Test(arguments: [9, 12])
    func backwardMatchesFiniteDifferences(ld: Int) {
        let V = 9, dloss: Float = 0.7
        let (logits, targets) = inputs(seed: 2, V: V, ld: ld)
        for r in 0..<BT {
            for j in V..<ld { logits[r * ld + j] = 3 }  // moderate, so h-steps stay exact there too
        }
        let losses = Tensor(count: BT), lse = Tensor(count: BT)
        func loss() -> Double {
            crossEntropyForward(losses.pointer, lse.pointer, logits.const, targets.const, BT: BT, V: V, ld: ld)
            return Double(dloss) * losses.values.reduce(0) { $0 + Double($1) }
        }
        _ = loss()
        let dlogits = Tensor(logits.values)
        crossEntropyBackward(dlogits.pointer, lse.const, targets.const, dloss: dloss, BT: BT, V: V, ld: ld)
        for r in 0..<BT {
            #expect((V..<ld).allSatisfy { dlogits[r * ld + $0] == 0 }, "padding columns must get zero")
        }
        expectGradient("dlogits", of: logits, analytic: dlogits, loss: loss)
    }

    /// Vocabulary halves [0, 5) and [5, 10), each with its own ld: combining max, then sum of
    /// exponentials against the global max, then the target logit gives the single-shard loss, and each
    /// half's backward with the combined lse gives its columns of the single-shard gradient.
    @Test func twoVocabularyHalvesCombineToTheSingleShardLoss() {
        let V = 10, half = 5, ld = 7
        let (whole, targets) = inputs(seed: 3, V: V, ld: V)
        let halves = (0..<2).map { k in
            let shard = Tensor(count: BT * ld, repeating: 1000)
            for r in 0..<BT {
                for j in 0..<half { shard[r * ld + j] = whole[r * V + k * half + j] }
            }
            return shard
        }
        let losses = Tensor(count: BT), lse = Tensor(count: BT)
        crossEntropyForward(losses.pointer, lse.pointer, whole.const, targets.const, BT: BT, V: V, ld: V)

        let maxima = halves.map { shard in
            let m = Tensor(count: BT)
            logitRowMax(m.pointer, shard.const, BT: BT, V: half, ld: ld)
            return m
        }
        let globalMax = Tensor((0..<BT).map { max(maxima[0][$0], maxima[1][$0]) })
        let sums = halves.map { shard in
            let s = Tensor(count: BT)
            logitRowSumExp(s.pointer, shard.const, globalMax.const, BT: BT, V: half, ld: ld)
            return s
        }
        let picked = halves.enumerated().map { k, shard in
            let v = Tensor(count: BT, repeating: 99)
            logitsAtTargets(v.pointer, shard.const, targets.const, BT: BT, V: half, ld: ld, vocabStart: k * half)
            return v
        }
        let combinedLSE = Tensor((0..<BT).map { globalMax[$0] + log(sums[0][$0] + sums[1][$0]) })
        for r in 0..<BT {
            let owner = Int(targets[r]) / half
            #expect(picked[1 - owner][r] == 0, "a target outside the slice must read as 0")
            #expect(picked[owner][r] == whole[r * V + Int(targets[r])])
            let combined = combinedLSE[r] - (picked[0][r] + picked[1][r])
            #expect(abs(combined - losses[r]) < 1e-5)
            #expect(abs(combinedLSE[r] - lse[r]) < 1e-5)
        }

        crossEntropyBackward(whole.pointer, lse.const, targets.const, dloss: 0.5, BT: BT, V: V, ld: V)
        for (k, shard) in halves.enumerated() {
            crossEntropyBackward(shard.pointer, combinedLSE.const, targets.const, dloss: 0.5, BT: BT, V: half,
                                 ld: ld, vocabStart: k * half)
            for r in 0..<BT {
                for j in 0..<half { #expect(abs(shard[r * ld + j] - whole[r * V + k * half + j]) < 1e-6) }
                for j in half..<ld { #expect(shard[r * ld + j] == 0) }
            }
        }
    }

    @Test func largeLogitsDoNotOverflow() {
        let V = 4, ld = 4
        let logits = Tensor([500, 499, -500, 0, -300, -301, -299, -300]), targets = Buffer<Int32>([1, 2])
        let losses = Tensor(count: 2), lse = Tensor(count: 2)
        crossEntropyForward(losses.pointer, lse.pointer, logits.const, targets.const, BT: 2, V: V, ld: ld)
        let expected = [log(1 + exp(-1.0) + exp(-1000.0) + exp(-500.0)) + 1,
                        log(exp(-1.0) + exp(-2.0) + 1 + exp(-1.0))]
        #expect(abs(Double(losses[0]) - expected[0]) < 1e-4)
        #expect(abs(Double(losses[1]) - expected[1]) < 1e-4)
    }
}
