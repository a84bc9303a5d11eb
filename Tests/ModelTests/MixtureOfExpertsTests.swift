import Foundation
@testable import Model
import Testing

/// The mixture-of-experts model against finite differences, router included. Routing is discrete:
/// a perturbation that changes any token's experts or what capacity drops has no derivative, so
/// such samples are skipped (and must be rare), the rest held to GPTGradientTests' standard.
@Suite struct MixtureOfExpertsTests {
    typealias Support = GPTGradientTests
    /// Capacity 2 per expert and sequence for 8 picks over 4 experts: some picks are dropped.
    static let settings = ExpertSettings(count: 4, topK: 2, capacityFactor: 1.0, auxLossCoefficient: 0.5)
    static let dims = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 8, blockSize: 4, vocabSize: 11, experts: settings)

    /// Every layer's (choices, kept), to tell whether a perturbation changed the routing.
    static func routing(_ acts: GPTActivations) -> [[Int]] {
        acts.blocks.map { block in block.routing!.choices + block.routing!.kept.map { $0 ? 1 : 0 } }
    }

    @Test func backwardMatchesFiniteDifferencesIncludingTheRouter() throws {
        // A draw whose routing reaches every expert of both layers (many draws favour two).
        var rng = Support.SplitMix64(state: 43)
        let model = GPT(dims: Self.dims, seed: 1)
        Support.randomize(model, rng: &rng)
        let B = Support.B, T = Self.dims.blockSize
        let batch = Support.Batch(B: B, T: T, V: Self.dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: B)
        let store = model.store
        // dloss = 1/(B·T) as in training, so the balancing loss enters with weight coef / B.
        let dloss = 1 / Float(B * T)
        func objective() throws -> Double {
            let lm = try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
            let aux = acts.blocks.reduce(0) { $0 + $1.routing!.auxSum }
            return Double(dloss) * lm + Self.settings.auxLossCoefficient / Double(B) * aux
        }
        _ = try objective()
        let base = Self.routing(acts)
        #expect(acts.blocks.contains { $0.routing!.dropped > 0 }, "capacity must drop something")
        store.zeroGrads()
        try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: dloss)

        /// Central difference with step h, or nil when either side routes differently.
        func difference(_ j: Int, _ h: Float) throws -> Double? {
            let original = store.values[j]
            let (up, down) = (original + h, original - h)
            store.values[j] = up
            let lossUp = try objective()
            let routedUp = Self.routing(acts)
            store.values[j] = down
            let lossDown = try objective()
            let routedDown = Self.routing(acts)
            store.values[j] = original
            guard routedUp == base && routedDown == base else { return nil }
            return (lossUp - lossDown) / (Double(up) - Double(down))
        }
        var skipped = 0, checked = 0
        for (i, spec) in store.specs.enumerated() {
            var indices = Array(store.range(of: i))
            for k in 0..<min(Support.samplesPerTensor, indices.count) { indices.swapAt(k, k + rng.below(indices.count - k)) }
            var largest = 0.0
            for j in indices.prefix(Support.samplesPerTensor) {
                guard let half = try difference(j, Support.h / 2), let full = try difference(j, Support.h) else {
                    skipped += 1
                    continue
                }
                checked += 1
                let numeric = (4 * half - full) / 3, analytic = Double(store.grads[j])
                // The objective here is a mean (≈ 1/8 of GPTGradientTests' sum): scale the floor alike.
                let error = abs(analytic - numeric) / max(abs(analytic) + abs(numeric), Support.floor / 8)
                #expect(error <= Support.tolerance,
                        "\(spec.name)[\(j - store.range(of: i).lowerBound)]: analytic \(analytic), numeric \(numeric)")
                largest = max(largest, abs(numeric))
            }
            #expect(largest > 1e-4, "\(spec.name): every sampled gradient is ~0, the check proves nothing")
        }
        #expect(skipped * 5 < checked, "routing changed for \(skipped) of \(skipped + checked) samples")
    }

    /// Top-k gates are the picked probabilities renormalised; capacity is per sequence.
    @Test func gatesSumToOneAndCapacityHolds() throws {
        var rng = Support.SplitMix64(state: 31)
        let model = GPT(dims: Self.dims, seed: 2)
        Support.randomize(model, rng: &rng)
        let B = Support.B, T = Self.dims.blockSize, k = Self.settings.topK
        let batch = Support.Batch(B: B, T: T, V: Self.dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: B)
        try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
        let capacity = Self.settings.capacity(tokens: T)
        #expect(capacity == 2)
        for block in acts.blocks {
            let r = block.routing!
            for t in 0..<(B * T) {
                let sum = (0..<k).reduce(Float(0)) { $0 + r.gates[t * k + $1] }
                #expect(abs(sum - 1) < 1e-6)
                #expect(Set(r.choices[(t * k)..<(t * k + k)]).count == k, "distinct experts per token")
            }
            for b in 0..<B {
                for e in 0..<Self.settings.count {
                    let kept = (0..<(T * k)).filter { r.kept[b * T * k + $0] && r.choices[b * T * k + $0] == e }.count
                    #expect(kept <= capacity)
                }
            }
            #expect(r.loads.reduce(0, +) + r.dropped == B * T * k)
        }
    }
}
