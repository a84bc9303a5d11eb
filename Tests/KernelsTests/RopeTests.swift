import Foundation
import Kernels
import Testing

@Suite struct RopeTests {
    let B = 2, T = 5, NH = 4, HS = 8

    /// Floats per token of the fused layout [q (NH·HS) | k (NKV·HS) | v (NKV·HS)].
    func row(_ NKV: Int) -> Int { (NH + 2 * NKV) * HS }

    /// Hugging Face's apply_rotary_pos_emb on one head in Double, in its own form: cos and sin
    /// repeated to full width, x·cos + rotate_half(x)·sin with rotate_half(x) = [−x2 | x1].
    static func rotateHalfReference(_ x: [Double], position: Int, theta: Double) -> [Double] {
        let HS = x.count, half = HS / 2
        let frequencies = (0..<half).map { exp(-Double(2 * $0) / Double(HS) * log(theta)) }
        let angles = frequencies + frequencies
        let rotated = x[half...].map { -$0 } + x[..<half]
        return (0..<HS).map { x[$0] * cos(Double(position) * angles[$0]) + rotated[$0] * sin(Double(position) * angles[$0]) }
    }

    @Test(arguments: [10_000.0, 500_000.0])
    func forwardMatchesRotateHalfOnQAndKAndLeavesV(theta: Double) {
        let NKV = 2, position0 = 3
        var rng = TestRNG(seed: 1)
        let qkv = Tensor(count: B * T * row(NKV), in: -2...2, rng: &rng), original = qkv.values
        let table = RopeTable(HS: HS, positions: position0 + T, theta: theta)
        ropeForward(qkv.pointer, table, B: B, T: T, NH: NH, NKV: NKV, HS: HS, position0: position0)
        var worst = 0.0
        for token in 0..<(B * T) {
            let base = token * row(NKV)
            for head in 0..<(NH + NKV) {
                let start = base + head * HS
                let x = original[start..<(start + HS)].map(Double.init)
                let expected = Self.rotateHalfReference(x, position: position0 + token % T, theta: theta)
                for i in 0..<HS { worst = max(worst, abs(Double(qkv[start + i]) - expected[i])) }
            }
            let v = (base + (NH + NKV) * HS)..<(base + row(NKV))
            #expect(Array(qkv.values[v]) == Array(original[v]), "v of token \(token) changed")
        }
        #expect(worst < 1e-6, "largest difference from rotate_half: \(worst)")
        #expect(maxAbsDifference(qkv.values, original) > 0.1)  // position 3 onwards: every pair turns
    }

    /// RoPE's point: after rotation q·k depends on positions only through their difference.
    @Test func scoresDependOnlyOnRelativePosition() {
        let positions = 64, HS = 16
        var rng = TestRNG(seed: 2)
        let q = (0..<HS).map { _ in rng.uniform(-1...1) }, k = (0..<HS).map { _ in rng.uniform(-1...1) }
        // One sequence, one q head and one kv head, the same q and k at every position.
        let qkv = Tensor(count: positions * 3 * HS)
        for t in 0..<positions {
            for i in 0..<HS { (qkv[t * 3 * HS + i], qkv[t * 3 * HS + HS + i]) = (q[i], k[i]) }
        }
        ropeForward(qkv.pointer, RopeTable(HS: HS, positions: positions), B: 1, T: positions, NH: 1, NKV: 1, HS: HS)
        func score(_ m: Int, _ n: Int) -> Double {
            (0..<HS).map { Double(qkv[m * 3 * HS + $0]) * Double(qkv[n * 3 * HS + HS + $0]) }.reduce(0, +)
        }
        var worst = 0.0, spread = 0.0
        for distance in 0..<8 {
            let first = score(distance, 0)
            for n in 1..<(positions - distance) {
                worst = max(worst, abs(score(n + distance, n) - first))
                spread = max(spread, abs(score(n + distance, n) - score(n, n + distance)))
            }
        }
        #expect(worst < 1e-5, "q·k at a fixed distance varies by \(worst)")
        #expect(spread > 0.1, "scores do not depend on the distance's sign: is anything rotated?")
    }

    /// A KV-cache step: rotating tokens position0..<position0+T alone gives the same bits as those
    /// rows of the whole sequence rotated from 0.
    @Test func offsetRotatesLikeTheTailOfTheWholeSequence() {
        let NKV = 1, prefix = 6, total = prefix + 3
        var rng = TestRNG(seed: 3)
        let whole = Tensor(count: total * row(NKV), in: -2...2, rng: &rng)
        let tail = Tensor(Array(whole.values[(prefix * row(NKV))...]))
        let table = RopeTable(HS: HS, positions: 32)
        ropeForward(whole.pointer, table, B: 1, T: total, NH: NH, NKV: NKV, HS: HS)
        ropeForward(tail.pointer, table, B: 1, T: total - prefix, NH: NH, NKV: NKV, HS: HS, position0: prefix)
        #expect(tail.values == Array(whole.values[(prefix * row(NKV))...]))
    }

    @Test(arguments: [1, 2, 4])
    func backwardMatchesFiniteDifferences(NKV: Int) {
        let position0 = 7
        var rng = TestRNG(seed: UInt64(10 + NKV))
        let qkv = Tensor(count: B * T * row(NKV), in: -2...2, rng: &rng)
        let w = Tensor(count: B * T * row(NKV), in: -1...1, rng: &rng)
        let table = RopeTable(HS: HS, positions: position0 + T)
        let rotated = Tensor(count: qkv.count)
        func loss() -> Double {
            for i in 0..<qkv.count { rotated[i] = qkv[i] }
            ropeForward(rotated.pointer, table, B: B, T: T, NH: NH, NKV: NKV, HS: HS, position0: position0)
            return weightedSum(rotated.const, w)
        }
        let dqkv = Tensor(w.values)
        ropeBackward(dqkv.pointer, table, B: B, T: T, NH: NH, NKV: NKV, HS: HS, position0: position0)
        expectGradient("dqkv (NKV = \(NKV))", of: qkv, analytic: dqkv, loss: loss)
        for token in 0..<(B * T) {  // v's gradient passes through, bit for bit
            let v = (token * row(NKV) + (NH + NKV) * HS)..<((token + 1) * row(NKV))
            #expect(Array(dqkv.values[v]) == Array(w.values[v]))
        }
    }

    @Test func oddHeadSizeIsRejectedByPrecondition() async {
        await #expect(processExitsWith: .failure) {
            _ = RopeTable(HS: 7, positions: 4)
        }
    }
}
