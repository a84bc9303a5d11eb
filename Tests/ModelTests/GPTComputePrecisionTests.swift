import Foundation
import Kernels
@testable import Model
import Testing

/// The whole model under bf16 compute against fp32 on the same parameters and batch: bf16 rounds
/// the linear layers' operands (inputs, weights, output gradients) and the tensors the backward
/// pass reads back (qkv, attention probabilities, pre-GELU values, the residual stream), so the
/// loss and the gradients move a little, and really do move (a backward that ignored the saved
/// qkv, probabilities and pre-GELU values failed here). Measured (parameters at GPTGradientTests'
/// large scale): loss 5e-5 to 3e-4 relative, gradients 0.7-1.5% of their norm; with experts 3e-3
/// and 3.6% (LLaMA's parts with SwiGLU experts: 1.9e-3 and 3.2%), where a token's routing can
/// differ between the two. Bounds: 1e-2 and 5e-2.
@Suite struct GPTComputePrecisionTests {
    typealias Support = GPTGradientTests
    static let dense = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 11)
    static let experts = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 11,
                                       experts: ExpertSettings(count: 4, topK: 2, capacityFactor: 2, auxLossCoefficient: 0.01))
    static let llama = GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 16, blockSize: 8, vocabSize: 11, parts: DecoderParts(
        norm: .rmsNorm, normEps: 1e-5, position: .rotary(theta: 10_000), kvHeads: 2, mlp: .swiglu, ffnHidden: 40,
        bias: false, tiedEmbeddings: false))
    /// LLaMA's parts with SwiGLU experts without biases.
    static let llamaExperts = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 11,
                                            experts: ExpertSettings(count: 4, topK: 2, capacityFactor: 2, auxLossCoefficient: 0.01),
                                            parts: DecoderParts(norm: .rmsNorm, normEps: 1e-5, position: .rotary(theta: 100),
                                                                kvHeads: 1, mlp: .swiglu, ffnHidden: 32, bias: false,
                                                                tiedEmbeddings: false))

    /// Loss and gradients (dloss = 1) of one model in `compute`, its parameters redrawn from each of
    /// `draws` in turn.
    static func lossAndGradients(_ dims: GPTDimensions, _ compute: ComputeType, draws: [UInt64],
                                 batch: Support.Batch) throws -> [(loss: Double, grads: [Float])] {
        let model = GPT(dims: dims, partition: .whole(dims), compute: compute, seed: 1)
        let acts = model.makeActivations(batch: Support.B)
        return try draws.map { draw in
            var rng = Support.SplitMix64(state: draw)
            Support.randomize(model, rng: &rng)
            model.parametersChanged()
            model.store.zeroGrads()
            let loss = try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
            try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1)
            return (loss, Array(UnsafeBufferPointer(start: model.store.grads, count: model.store.count)))
        }
    }

    /// Two parameter draws in a row on one model: the second forward must see the second draw, so
    /// the bf16 weights are refreshed after `parametersChanged`.
    @Test(arguments: [dense, experts, llama, llamaExperts])
    func bf16TracksFp32OnEveryParameterDraw(dims: GPTDimensions) throws {
        var rng = Support.SplitMix64(state: 5)
        let batch = Support.Batch(B: Support.B, T: dims.blockSize, V: dims.vocabSize, rng: &rng)
        let fp32 = try Self.lossAndGradients(dims, .fp32, draws: [7, 8], batch: batch)
        let bf16 = try Self.lossAndGradients(dims, .bf16, draws: [7, 8], batch: batch)
        for (draw, (f, b)) in zip(fp32, bf16).enumerated() {
            let lossError = abs(b.loss - f.loss) / abs(f.loss)
            #expect(lossError < 1e-2 && lossError > 0, "draw \(draw): loss \(b.loss) vs fp32 \(f.loss)")
            let difference = zip(b.grads, f.grads).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            let norm = f.grads.reduce(0.0) { $0 + Double($1 * $1) }
            let gradientError = (difference / norm).squareRoot()
            #expect(gradientError < 5e-2 && gradientError > 0, "draw \(draw): gradients off by \(gradientError) of their norm")
        }
    }

    /// bf16 keeps every saved tensor but the stage's input and output, the LayerNorm statistics and
    /// the head's input gradient and losses in half the bytes: the linear layers' inputs (both
    /// LayerNorm outputs, the attention output, the GELU output, the final norm's output), qkv, the
    /// attention probabilities, the pre-GELU values and the residual stream inside the stage; and
    /// says so without allocating.
    @Test func bf16HalvesTheSavedTensors() {
        let dims = Self.dense, B = 3, T = dims.blockSize, BT = B * T, C = dims.nEmbd
        let fp32 = GPT(dims: dims, seed: 1).makeActivations(batch: B).byteCount
        let bf16 = GPT(dims: dims, partition: .whole(dims), compute: .bf16, seed: 1).makeActivations(batch: B).byteCount
        let linearInputs = BT * C + BT * C + BT * C + BT * 4 * C
        let others = BT * 3 * C + B * dims.nHead * T * T + BT * 4 * C
        let residuals = dims.nLayer * BT * C + (dims.nLayer - 1) * BT * C
        let halved = dims.nLayer * (linearInputs + others) + residuals + BT * C
        #expect(fp32 - bf16 == 2 * halved, "fp32 \(fp32) bytes, bf16 \(bf16)")
        let kept = BT * C + dims.nLayer * 4 * BT + BT * C + BT * C + 4 * BT
        #expect(fp32 == 4 * (halved + kept), "fp32 \(fp32) bytes")
        #expect(bf16 == 4 * GPTActivations.floatCount(dims: dims, partition: .whole(dims), B: B, T: T, compute: .bf16))
    }
}

/// The buffers the microbatches share are what `GPT.workspaceFloats` predicts, in both compute
/// precisions and with experts (whose ln2 stays fp32), so memory reports and the planner count them.
@Suite struct GPTWorkspaceTests {
    @Test(arguments: [(GPTComputePrecisionTests.dense, ComputeType.fp32), (GPTComputePrecisionTests.dense, .bf16),
                      (GPTComputePrecisionTests.experts, .bf16), (GPTComputePrecisionTests.llama, .bf16),
                      (GPTComputePrecisionTests.llamaExperts, .bf16)])
    func workspaceIsWhatTrainingAllocates(dims: GPTDimensions, compute: ComputeType) throws {
        typealias Support = GPTGradientTests
        var rng = Support.SplitMix64(state: 3)
        let batch = Support.Batch(B: Support.B, T: dims.blockSize, V: dims.vocabSize, rng: &rng)
        let model = GPT(dims: dims, partition: .whole(dims), compute: compute, seed: 1)
        let acts = model.makeActivations(batch: Support.B)
        try model.forward(acts, tokens: batch.tokens, targets: batch.targets)
        try model.backward(acts, tokens: batch.tokens, targets: batch.targets, dloss: 1)
        let predicted = GPT.workspaceFloats(dims: dims, partition: .whole(dims), B: Support.B, compute: compute)
        #expect(model.workspaceFloatsHeld == predicted)
        let head = GPT.headWorkspaceFloats(dims: dims, partition: .whole(dims), B: Support.B)
        let branch = Support.B * dims.blockSize * dims.nEmbd
        #expect((predicted > head + branch) == (compute == .bf16), "\(predicted) floats, head \(head)")
    }
}
