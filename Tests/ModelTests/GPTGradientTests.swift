import Foundation
import Model
import Testing

/// The whole model against finite differences: backward's gradient of the summed token loss
/// (dloss = 1) for a sample of elements of every parameter tensor. Parameters are redrawn at
/// moderate scale first (the real initialisation is near-symmetric: zero biases, unit norms, tiny
/// weights), so every path carries a sizeable gradient.
///
/// Central differences use steps h = 0.05 and h/2, Richardson-extrapolated: (4·D(h/2) − D(h)) / 3
/// cancels the h² error (the h⁴ error left reaches 1% on some elements at h = 0.1, under 0.1% at 0.05).
/// What remains is the Float forward's rounding: the loss (≈ 20, summed over 8 tokens) moves by ~1e-6
/// between runs, which the step turns into ~3e-5 of gradient noise. So the metric is
/// |a − n| / max(|a| + |n|, 1e-2) ≤ 1e-2: 1% relative for gradients above 1e-2 (most are 0.01–5),
/// an absolute 1e-4 below. The kernel tests check each piece more tightly. Models with experts (GELU
/// or SwiGLU) are checked the same way in MixtureOfExpertsTests, which also skips the perturbations
/// that change the discrete routing.
@Suite struct GPTGradientTests {
    static let dims = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 8, blockSize: 4, vocabSize: 11)
    /// LLaMA's parts: RMSNorm, rotary positions, two query heads per kv head, SwiGLU, no biases,
    /// an untied head.
    static let llama = GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 16, blockSize: 4, vocabSize: 11, parts: DecoderParts(
        norm: .rmsNorm, normEps: 1e-5, position: .rotary(theta: 100), kvHeads: 2, mlp: .swiglu, ffnHidden: 24,
        bias: false, tiedEmbeddings: false))
    /// The parts mixed the other way: LayerNorm and biases (q, k and v apart, with theirs) beside
    /// rotary positions, multi-query attention and SwiGLU, and a tied head.
    static let mixed = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 8, blockSize: 4, vocabSize: 11, parts: DecoderParts(
        norm: .layerNorm, normEps: 1e-5, position: .rotary(theta: 10_000), kvHeads: 1, mlp: .swiglu, ffnHidden: 12,
        bias: true, tiedEmbeddings: true))
    static let B = 2
    static let h: Float = 0.05, floor = 1e-2, tolerance = 1e-2, samplesPerTensor = 30

    /// Tokens and targets (B, T), drawn from a fixed SplitMix64 stream.
    final class Batch {
        let tokens: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>
        let count: Int

        init(B: Int, T: Int, V: Int, rng: inout SplitMix64) {
            count = B * T
            tokens = .allocate(capacity: count)
            targets = .allocate(capacity: count)
            for i in 0..<count {
                tokens[i] = Int32(rng.below(V))
                targets[i] = Int32(rng.below(V))
            }
        }

        deinit {
            tokens.deallocate()
            targets.deallocate()
        }
    }

    struct SplitMix64 {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func uniform(_ range: ClosedRange<Float>) -> Float {
            range.lowerBound + Float(next() >> 40) / 16_777_216 * (range.upperBound - range.lowerBound)
        }

        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    }

    /// Norm weights 1 ± 0.3, everything else uniform in ±0.6.
    static func randomize(_ model: GPT, rng: inout SplitMix64) {
        let store = model.store
        for (i, spec) in store.specs.enumerated() {
            let isNormWeight = spec.name.hasSuffix(".weight") && spec.globalShape.count == 1
            for j in store.range(of: i) {
                store.values[j] = isNormWeight ? 1 + rng.uniform(-0.3...0.3) : rng.uniform(-0.6...0.6)
            }
        }
    }

    static func dropoutContext(_ p: Float) -> DropoutContext? {
        p == 0 ? nil : DropoutContext(probability: p, seed: 99, step: 3, firstSequence: 2, globalBatch: 8)
    }

    @Test(arguments: [(dims, 0), (dims, 0.1), (llama, 0), (llama, 0.1), (mixed, 0)] as [(GPTDimensions, Float)])
    func backwardMatchesFiniteDifferencesForEveryParameter(dims: GPTDimensions, dropout p: Float) throws {
        var rng = SplitMix64(state: 7)
        let model = GPT(dims: dims, seed: 1)
        Self.randomize(model, rng: &rng)
        let batch = Batch(B: Self.B, T: dims.blockSize, V: dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        let dropout = Self.dropoutContext(p)
        func loss() throws -> Double {
            try model.forward(acts, tokens: batch.tokens, targets: batch.targets, dropout: dropout)
        }
        _ = try loss()
        model.store.zeroGrads()
        try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1, dropout: dropout)

        try Self.expectGradientsMatchFiniteDifferences(model, rng: &rng, loss: loss)
    }

    /// Checks `model.store.grads` (the backward of `loss`, already run) against finite differences
    /// of `loss` for a sample of every parameter tensor's elements.
    static func expectGradientsMatchFiniteDifferences(_ model: GPT, rng: inout SplitMix64,
                                                      loss: () throws -> Double) throws {
        let store = model.store
        let rotary = if case .rotary = model.dims.parts.position { true } else { false }
        func difference(_ j: Int, _ step: Float) throws -> Double {
            let original = store.values[j]
            let up = original + step, down = original - step
            store.values[j] = up
            let lossUp = try loss()
            store.values[j] = down
            let lossDown = try loss()
            store.values[j] = original
            return (lossUp - lossDown) / (Double(up) - Double(down))
        }
        for (i, spec) in store.specs.enumerated() {
            let range = store.range(of: i)
            if spec.name.hasSuffix("attn.k.bias"), !rotary {
                // Adding one vector to every key shifts all of a query's scores alike, which
                // softmax ignores: without rotary positions (which turn it differently at every
                // position) a separate key bias has no gradient (finite differences see only noise
                // there), as keyBiasGetsNoGradient checks for the fused one.
                let largest = range.map { abs(store.grads[$0]) }.max()!
                #expect(largest < 1e-5, "\(spec.name): a key bias's gradient reaches \(largest)")
                continue
            }
            var indices = Array(range)
            if indices.count > samplesPerTensor {
                for k in 0..<samplesPerTensor { indices.swapAt(k, k + rng.below(indices.count - k)) }
                indices = Array(indices.prefix(samplesPerTensor))
            }
            var worst = (index: 0, analytic: 0.0, numeric: 0.0, error: -1.0)
            var largest = 0.0
            for j in indices {
                let analytic = Double(store.grads[j])
                func check(_ h: Float) throws -> (numeric: Double, error: Double) {
                    let numeric = (4 * (try difference(j, h / 2)) - (try difference(j, h))) / 3
                    return (numeric, abs(analytic - numeric) / max(abs(analytic) + abs(numeric), floor))
                }
                // Where the curvature is large (SwiGLU's products; an RMSNorm of a dropped-out
                // embedding row) the h⁴ error can pass the bound: then steps 2.5 and 6.25 times
                // smaller, whose truncation errors are 40 and 1600 times smaller, decide. A wrong
                // gradient stays wrong at every step.
                var (numeric, error) = try check(h)
                for step in [h / 2.5, h / 6.25] where error > tolerance {
                    let smaller = try check(step)
                    if smaller.error < error { (numeric, error) = smaller }
                }
                if error > worst.error { worst = (j - range.lowerBound, analytic, numeric, error) }
                largest = max(largest, abs(numeric))
            }
            #expect(worst.error <= tolerance,
                    "\(spec.name)[\(worst.index)]: analytic \(worst.analytic), numeric \(worst.numeric), relative error \(worst.error)")
            #expect(largest > 1e-3, "\(spec.name): every sampled gradient is ~0, the check proves nothing")
        }
    }

    /// Adding one vector to every key shifts all of a query's scores by the same amount, which softmax
    /// ignores: the key third of the QKV bias has zero gradient. (Finite differences see only noise
    /// there, so this is checked on its own, exactly.)
    @Test func keyBiasGetsNoGradient() throws {
        var rng = SplitMix64(state: 23)
        let model = GPT(dims: Self.dims, seed: 5)
        Self.randomize(model, rng: &rng)
        let batch = Batch(B: Self.B, T: Self.dims.blockSize, V: Self.dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
        model.store.zeroGrads()
        try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1)
        let C = Self.dims.nEmbd
        for layer in 0..<Self.dims.nLayer {
            let bias = model.store.grad(GPTParameterName.block(layer, .qkvBias))
            let query = (0..<C).map { abs(bias[$0]) }.max()!, key = (C..<(2 * C)).map { abs(bias[$0]) }.max()!
            #expect(key < 1e-6 && query > 1e-3, "layer \(layer): key bias gradient \(key), query \(query)")
        }
    }

    @Test func lossAtInitialisationIsLnVPerToken() throws {
        var rng = SplitMix64(state: 11)
        let model = GPT(dims: Self.dims, seed: 1337)
        let batch = Batch(B: Self.B, T: Self.dims.blockSize, V: Self.dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        let loss = try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
        let perToken = loss / Double(batch.count)
        #expect(abs(perToken - log(Double(Self.dims.vocabSize))) < 0.02, "loss per token \(perToken)")
    }

    /// blockDone(l) fires for l = L−1 down to 0, and when it fires block l's gradients are final.
    @Test func blockDoneFiresFromTheLastLayerDownWithFinishedGradients() throws {
        var rng = SplitMix64(state: 13)
        let model = GPT(dims: Self.dims, seed: 2)
        Self.randomize(model, rng: &rng)
        let batch = Batch(B: Self.B, T: Self.dims.blockSize, V: Self.dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
        model.store.zeroGrads()
        var order: [Int] = []
        var atCallback: [Int: [Float]] = [:]
        try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1) { layer in
            order.append(layer)
            atCallback[layer] = model.blockRange(layer).map { model.store.grads[$0] }
        }
        #expect(order == Array((0..<Self.dims.nLayer).reversed()))
        for layer in 0..<Self.dims.nLayer {
            #expect(atCallback[layer] == model.blockRange(layer).map { model.store.grads[$0] })
        }
    }

    /// Parameter gradients use +=: two forward/backward passes give twice one pass's gradient.
    @Test func gradientsAccumulateAcrossBackwardCalls() throws {
        var rng = SplitMix64(state: 17)
        let model = GPT(dims: Self.dims, seed: 3)
        Self.randomize(model, rng: &rng)
        let batch = Batch(B: Self.B, T: Self.dims.blockSize, V: Self.dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        let dropout = Self.dropoutContext(0.1)
        let store = model.store
        store.zeroGrads()
        var once: [Float] = []
        for pass in 0..<2 {
            try model.forward(acts, tokens: batch.tokens, targets: batch.targets, dropout: dropout)
            try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1, dropout: dropout)
            if pass == 0 { once = Array(UnsafeBufferPointer(start: store.grads, count: store.count)) }
        }
        let worst = (0..<store.count).map { abs(store.grads[$0] - 2 * once[$0]) / max(abs(once[$0]), 1) }.max()!
        #expect(worst < 1e-5)
    }

    /// The dropout mask is a function of the context: the same context gives the same loss, another
    /// step another one.
    @Test func dropoutIsDeterministicPerStep() throws {
        var rng = SplitMix64(state: 19)
        let model = GPT(dims: Self.dims, seed: 4)
        Self.randomize(model, rng: &rng)
        let batch = Batch(B: Self.B, T: Self.dims.blockSize, V: Self.dims.vocabSize, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        func loss(step: Int) throws -> Double {
            try model.forward(acts, tokens: batch.tokens, targets: batch.targets,
                          dropout: DropoutContext(probability: 0.1, seed: 99, step: step, firstSequence: 0, globalBatch: 2))
        }
        #expect(try loss(step: 1) == loss(step: 1))
        #expect(try loss(step: 1) != loss(step: 2))
        #expect(try loss(step: 1) != model.forward(acts, tokens: batch.tokens, targets: batch.targets))
    }
}
