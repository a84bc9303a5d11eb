import Foundation
import Model
import Testing

/// The encoder-decoder (T5's parts) against finite differences, as GPTGradientTests checks the
/// decoder: every parameter tensor, including both stacks' relative position bias tables, the
/// encoder's final norm and the cross-attention's weights, with padded inputs (one sequence shorter
/// than S) and ignored target positions.
@Suite struct EncoderDecoderGradientTests {
    typealias SplitMix64 = GPTGradientTests.SplitMix64
    /// 2 encoder and 2 decoder layers, S = 5 inputs, T = 4 targets, 4 heads of 4, 6 buckets.
    static let t5 = GPTDimensions(nLayer: 4, nHead: 4, nEmbd: 16, blockSize: 4, vocabSize: 13,
                                  parts: .t5(nHead: 4, ffnHidden: 20, buckets: 6, maxDistance: 8),
                                  encoder: EncoderShape(layers: 2, blockSize: 5))
    /// The same with LayerNorm, biases everywhere and a tied head: every optional leaf present.
    static let t5WithBiases: GPTDimensions = {
        var parts = DecoderParts.t5(nHead: 2, ffnHidden: 12, buckets: 4, maxDistance: 6)
        parts.norm = .layerNorm
        parts.bias = true
        parts.tiedEmbeddings = true
        return GPTDimensions(nLayer: 3, nHead: 2, nEmbd: 8, blockSize: 3, vocabSize: 11, parts: parts,
                             encoder: EncoderShape(layers: 1, blockSize: 4))
    }()
    static let B = 2

    /// One microbatch as `GPT.inputCount` lays it out, with the second sequence's input padded
    /// after 3 tokens and the first sequence's last target ignored.
    final class Batch {
        let tokens: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>
        let dims: GPTDimensions

        init(_ dims: GPTDimensions, B: Int, rng: inout SplitMix64) {
            self.dims = dims
            let S = dims.encoderBlockSize, T = dims.blockSize, V = dims.vocabSize
            tokens = .allocate(capacity: B * (S + T + 1))
            targets = .allocate(capacity: B * T)
            for i in 0..<B * (S + T) { tokens[i] = Int32(rng.below(V)) }
            for i in 0..<B * T { targets[i] = Int32(rng.below(V)) }
            let lengths = tokens + B * (S + T)
            for b in 0..<B { lengths[b] = Int32(b == 1 ? 3 : S) }
            targets[T - 1] = -1
        }

        deinit {
            tokens.deallocate()
            targets.deallocate()
        }
    }

    @Test(arguments: [(t5, 0), (t5, 0.1), (t5WithBiases, 0)] as [(GPTDimensions, Float)])
    func backwardMatchesFiniteDifferencesForEveryParameter(dims: GPTDimensions, dropout p: Float) throws {
        var rng = SplitMix64(state: 7)
        let model = GPT(dims: dims, seed: 1)
        GPTGradientTests.randomize(model, rng: &rng)
        let batch = Batch(dims, B: Self.B, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        let dropout = GPTGradientTests.dropoutContext(p)
        func loss() throws -> Double {
            try model.forward(acts, tokens: batch.tokens, targets: batch.targets, dropout: dropout)
        }
        _ = try loss()
        model.store.zeroGrads()
        try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1, dropout: dropout)
        try GPTGradientTests.expectGradientsMatchFiniteDifferences(model, rng: &rng, loss: loss)
    }

    /// What lies past an input's length changes nothing: neither the loss nor any gradient.
    @Test func paddedInputsChangeNothing() throws {
        var rng = SplitMix64(state: 37)
        let dims = Self.t5
        let model = GPT(dims: dims, seed: 2)
        GPTGradientTests.randomize(model, rng: &rng)
        let batch = Batch(dims, B: Self.B, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        func run() throws -> (Double, [Float]) {
            let loss = try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
            model.store.zeroGrads()
            try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1)
            return (loss, Array(UnsafeBufferPointer(start: model.store.grads, count: model.store.count)))
        }
        let (loss, grads) = try run()
        let S = dims.encoderBlockSize
        for t in 3..<S { batch.tokens[S + t] = Int32((Int(batch.tokens[S + t]) + 5) % dims.vocabSize) }
        let (paddedLoss, paddedGrads) = try run()
        #expect(loss == paddedLoss)
        #expect(grads == paddedGrads)
    }

    /// An ignored target (−1) adds nothing: the loss equals the sum over the other positions, and
    /// flipping the ignored position's target to a real id raises it.
    @Test func ignoredTargetsAddNoLoss() throws {
        var rng = SplitMix64(state: 41)
        let dims = Self.t5
        let model = GPT(dims: dims, seed: 3)
        let batch = Batch(dims, B: Self.B, rng: &rng)
        let acts = model.makeActivations(batch: Self.B)
        let loss = try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
        let losses = model.tokenLosses(acts)
        #expect(losses[dims.blockSize - 1] == 0)
        let sum = (0..<Self.B * dims.blockSize).reduce(0.0) { $0 + Double(losses[$1]) }
        #expect(abs(sum - loss) < 1e-9 * abs(loss))
        batch.targets[dims.blockSize - 1] = 0
        #expect(try model.forward(acts, tokens: batch.tokens, targets: batch.targets) > loss)
    }

    /// The decoder is causal: changing the last decoder input changes only the last position's loss.
    @Test func theDecoderIsCausalAndTheEncoderIsNot() throws {
        var rng = SplitMix64(state: 43)
        let dims = Self.t5
        let model = GPT(dims: dims, seed: 4)
        GPTGradientTests.randomize(model, rng: &rng)
        let batch = Batch(dims, B: 1, rng: &rng)  // one unpadded sequence
        batch.targets[dims.blockSize - 1] = 1
        let acts = model.makeActivations(batch: 1)
        let T = dims.blockSize, S = dims.encoderBlockSize
        func losses() throws -> [Float] {
            try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
            return Array(UnsafeBufferPointer(start: model.tokenLosses(acts), count: T))
        }
        let before = try losses()
        batch.tokens[S + T - 1] = (batch.tokens[S + T - 1] + 1) % Int32(dims.vocabSize)
        let decoderChanged = try losses()
        #expect(Array(decoderChanged.prefix(T - 1)) == Array(before.prefix(T - 1)))
        #expect(decoderChanged[T - 1] != before[T - 1])
        // The last input reaches every target position through the bidirectional encoder.
        batch.tokens[S - 1] = (batch.tokens[S - 1] + 1) % Int32(dims.vocabSize)
        let inputChanged = try losses()
        #expect(zip(inputChanged, decoderChanged).allSatisfy { $0 != $1 })
    }
}
