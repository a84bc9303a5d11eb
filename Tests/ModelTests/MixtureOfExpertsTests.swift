import Foundation
@testable import Model
import Testing

/// The mixture-of-experts model against finite differences, router included. Routing is discrete:
/// a perturbation that changes any token's experts or what capacity drops has no derivative, so
/// such samples are skipped (and must be rare), the rest held to GPTGradientTests' standard.
/// Experts are built from the model's parts: GPT-2's GELU experts with biases, and LLaMA's
/// SwiGLU experts without (GPTGradientTests.llama's parts). Measured worst relative error 4.9e-3
/// (GELU, 27 of 1168 samples skipped) and 7.1e-3 (SwiGLU, 113 of 920 skipped).
@Suite struct MixtureOfExpertsTests {
    typealias Support = GPTGradientTests
    /// Capacity 2 per expert and sequence for 8 picks over 4 experts: some picks are dropped.
    static let settings = ExpertSettings(count: 4, topK: 2, capacityFactor: 1.0, auxLossCoefficient: 0.5)
    static let dims = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 8, blockSize: 4, vocabSize: 11, experts: settings)
    static let llama = Support.llama.withExperts(settings)

    /// Every layer's (choices, kept), to tell whether a perturbation changed the routing.
    static func routing(_ acts: GPTActivations) -> [[Int]] {
        acts.blocks.map { block in block.routing!.choices + block.routing!.kept.map { $0 ? 1 : 0 } }
    }

    /// `draw` seeds a draw whose routing reaches every expert of both layers (many draws favour two).
    @Test(arguments: [(dims, 43), (llama, 43)] as [(GPTDimensions, UInt64)])
    func backwardMatchesFiniteDifferencesIncludingTheRouter(dims: GPTDimensions, draw: UInt64) throws {
        var rng = Support.SplitMix64(state: draw)
        let model = GPT(dims: dims, seed: 1)
        Support.randomize(model, rng: &rng)
        let B = Support.B, T = dims.blockSize
        let batch = Support.Batch(B: B, T: T, V: dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: B)
        let store = model.store
        // dloss = 1/(B·T) as in training, so the balancing loss enters with weight coef / B.
        let dloss = 1 / Float(B * T)
        func objective() throws -> Double {
            let lm = try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
            let aux = acts.blocks.reduce(0) { $0 + $1.routing!.auxSum }
            return Double(dloss) * lm + dims.experts!.auxLossCoefficient / Double(B) * aux
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

    /// One expert that every token routes to (top-1 of 1, capacity T, gate 1) is the dense MLP of
    /// the same parts: with the dense MLP's weights it gives the dense model's loss and gradients,
    /// and the router, whose softmax over one expert is constant, gets none. Measured: equal to the
    /// last bit for both parts (the same products in the same order); bound 1e-6 relative.
    @Test(arguments: [GPTGradientTests.dims, GPTGradientTests.llama])
    func oneExpertTakingEveryTokenIsTheDenseMLP(dense: GPTDimensions) throws {
        let moe = dense.withExperts(ExpertSettings(count: 1, topK: 1, capacityFactor: 1, auxLossCoefficient: 0))
        var rng = Support.SplitMix64(state: 29)
        let denseModel = GPT(dims: dense, seed: 1), moeModel = GPT(dims: moe, seed: 1)
        Support.randomize(denseModel, rng: &rng)
        Support.randomize(moeModel, rng: &rng)  // the router's values, which must not matter
        /// The expert parameter `moe` holds where `dense` has `name`, or `name` itself.
        func moeName(_ name: String) -> String {
            for layer in 0..<dense.nLayer {
                for leaf in ExpertLeaf.allCases where name == "h.\(layer).mlp.\(leaf.rawValue)" {
                    return GPTParameterName.expert(layer, 0, leaf)
                }
            }
            return name
        }
        let (d, m) = (denseModel.store, moeModel.store)
        for (i, spec) in d.specs.enumerated() {
            let j = m.index(of: moeName(spec.name))
            #expect(m.specs[j].globalShape == spec.globalShape, "\(spec.name)")
            (m.values + m.offsets[j]).update(from: d.values + d.offsets[i], count: spec.localCount)
        }
        #expect(m.specs.count == d.specs.count + dense.nLayer, "the dense parameters, and a router per block")

        let B = Support.B
        let batch = Support.Batch(B: B, T: dense.blockSize, V: dense.vocabSize, rng: &rng)
        var results: [(loss: Double, model: GPT)] = []
        for model in [denseModel, moeModel] {
            let acts = model.makeActivations(batch: B)
            let loss = try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
            model.store.zeroGrads()
            try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1)
            results.append((loss, model))
        }
        #expect(abs(results[0].loss - results[1].loss) <= 1e-6 * abs(results[0].loss),
                "loss \(results[1].loss) vs dense \(results[0].loss)")
        for (i, spec) in d.specs.enumerated() {
            let j = m.index(of: moeName(spec.name))
            let (a, b) = (d.grads + d.offsets[i], m.grads + m.offsets[j])
            let worst = (0..<spec.localCount).map { abs(a[$0] - b[$0]) }.max()!
            let scale = (0..<spec.localCount).map { abs(a[$0]) }.max()!
            #expect(worst <= 1e-6 * scale, "\(spec.name): gradients differ by \(worst) of \(scale)")
        }
        for layer in 0..<dense.nLayer {
            let router = GPTParameterName.block(layer, .routerWeight), j = m.index(of: router)
            let largest = (0..<m.specs[j].localCount).map { abs(m.grads[m.offsets[j] + $0]) }.max()!
            #expect(largest == 0, "\(router): gradient \(largest)")
        }
    }
}

extension GPTDimensions {
    /// The same model with a mixture-of-experts MLP in every block.
    func withExperts(_ experts: ExpertSettings) -> GPTDimensions {
        GPTDimensions(nLayer: nLayer, nHead: nHead, nEmbd: nEmbd, blockSize: blockSize, vocabSize: vocabSize,
                      experts: experts, parts: parts)
    }
}
