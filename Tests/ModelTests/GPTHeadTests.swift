import Foundation
@testable import Model
import Testing

/// The head runs in blocks of rows and never keeps the (B·T, V) logits. Blocks must not change
/// the loss or the gradients, and the two ways its backward runs (inside a forward given the
/// dloss, or recomputing the logits in backward) must agree exactly.
@Suite struct GPTHeadTests {
    typealias Support = GPTGradientTests
    static let dims = GPTDimensions(nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8, vocabSize: 37)
    static let B = 3

    struct Result: Equatable {
        let loss: Double
        let losses: [Float]
        let grads: [Float]
    }

    /// One forward and backward of a fixed batch; `fused`: the forward gets the dloss.
    static func run(blockRows: Int?, fused: Bool, weighted: Bool = false) throws -> Result {
        var rng = Support.SplitMix64(state: 11)
        let model = GPT(dims: dims, seed: 1)
        model.headBlockRows = blockRows
        Support.randomize(model, rng: &rng)
        let batch = Support.Batch(B: B, T: dims.blockSize, V: dims.vocabSize, rng: &rng)
        let weights = (0..<batch.count).map { Float($0 % 5) - 1.5 }
        let acts = model.makeActivations(batch: B)
        model.store.zeroGrads()
        let dloss: Float = 0.25
        let loss = try model.forward(acts, tokens: batch.tokens, targets: batch.targets, dloss: fused ? dloss : nil)
        let losses = Array(UnsafeBufferPointer(start: model.tokenLosses(acts), count: batch.count))
        try weights.withUnsafeBufferPointer {
            try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: dloss,
                               tokenWeights: weighted ? $0.baseAddress : nil)
        }
        return Result(loss: loss, losses: losses,
                      grads: Array(UnsafeBufferPointer(start: model.store.grads, count: model.store.count)))
    }

    static func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.reduce(0) { max($0, abs(Double($1))) }
        return zip(a, b).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) } / scale
    }

    /// 24 rows in blocks of 5 (the last of 4) against one block, each backward path.
    @Test(arguments: [(fused: true, weighted: false), (false, false), (false, true)])
    func blocksGiveTheSameLossAndGradients(_ path: (fused: Bool, weighted: Bool)) throws {
        let whole = try Self.run(blockRows: nil, fused: path.fused, weighted: path.weighted)
        let blocked = try Self.run(blockRows: 5, fused: path.fused, weighted: path.weighted)
        #expect(abs(blocked.loss - whole.loss) <= 1e-6 * abs(whole.loss))
        #expect(Self.relativeDifference(blocked.losses, whole.losses) <= 1e-6)
        let error = Self.relativeDifference(blocked.grads, whole.grads)
        #expect(error <= 1e-6, "gradients differ by \(error) of their largest")
    }

    /// The head's backward inside the forward does the same arithmetic as in the backward.
    @Test func backwardInTheForwardMatchesRecomputation() throws {
        let fused = try Self.run(blockRows: 5, fused: true)
        let recomputed = try Self.run(blockRows: 5, fused: false)
        #expect(fused == recomputed)
    }

    /// What a microbatch keeps does not grow with the vocabulary (no logits are saved); the head's
    /// block buffer, shared by the microbatches, is 256 rows of the vocabulary at GPT-2's.
    @Test func activationsDoNotHoldTheLogits() {
        func floats(vocab: Int) -> Int {
            let dims = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 64, vocabSize: vocab)
            return GPTActivations.floatCount(dims: dims, partition: .whole(dims), B: 8, T: 64)
        }
        #expect(floats(vocab: 50_257) == floats(vocab: 11))
        let gpt2 = GPTDimensions(nLayer: 12, nHead: 12, nEmbd: 768, blockSize: 256, vocabSize: 50_304)
        #expect(GPT.headWorkspaceFloats(dims: gpt2, partition: .whole(gpt2), B: 4) == 256 * 50_304 + 2 * 256)
        let small = GPTDimensions(nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 64, vocabSize: 65)
        #expect(GPT.headRows(dims: small, partition: .whole(small), rows: 768) == 768)
    }
}
