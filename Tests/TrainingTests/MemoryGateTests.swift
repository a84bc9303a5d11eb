import Checkpoint
import Config
import Model
@testable import Training
import Testing

/// The memory gate refuses only what cannot fit: its figure stays below what a rank allocates.
struct MemoryGateTests {
    static let shapes: [GPTDimensions] = [
        GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 16, vocabSize: 65),
        GPTDimensions(nLayer: 12, nHead: 12, nEmbd: 768, blockSize: 1024, vocabSize: 50257),
        GPTDimensions(nLayer: 4, nHead: 4, nEmbd: 64, blockSize: 32, vocabSize: 100,
                      experts: ExpertSettings(count: 4, topK: 2, capacityFactor: 1.25, auxLossCoefficient: 0.01)),
    ]

    /// Weights, gradients and two moments in fp32, and one microbatch's saved activations, on one rank.
    static func allocated(_ dims: GPTDimensions, batch: Int) -> Double {
        let parameters = dims.parameterSpecs().reduce(0) { $0 + $1.globalCount }
        let activations = GPTActivations.floatCount(dims: dims, partition: .whole(dims), B: batch, T: dims.blockSize)
        return 4 * Double(4 * parameters + activations)
    }

    @Test(arguments: shapes)
    func theGateIsALowerBoundOfWhatOneRankAllocates(_ dims: GPTDimensions) {
        let gate = MemoryGate(training: dims, tp: 1, pp: 1, dp: 1, ep: 1, zero: false, microbatchSize: 4)
        let allocated = Self.allocated(dims, batch: 4)
        #expect(gate.bytes <= allocated && gate.bytes >= allocated / 4, "gate \(gate.bytes), allocated \(allocated)")
    }

    @Test func aModelLargerThanTheNodeIsRefusedNamingTheFigures() throws {
        let gpt2 = Self.shapes[1]
        let gate = MemoryGate(training: gpt2, tp: 1, pp: 1, dp: 2, ep: 1, zero: false, microbatchSize: 4)
        try gate.check(ranksOnNode: 2, available: 64 * 0x1p30)
        let error = try #require(throws: SetupError.self) { try gate.check(ranksOnNode: 2, available: 2 * 0x1p30) }
        #expect(error.description.contains("per rank") && error.description.contains("2 rank(s)")
                && error.description.contains("2.0 GiB of memory"), "\(error)")
    }

    /// ZeRO-1 shares the moments, tensor and pipeline parallelism the weights: the gate follows.
    @Test func shardingLowersTheGate() {
        let gpt2 = Self.shapes[1]
        let one = MemoryGate(training: gpt2, tp: 1, pp: 1, dp: 4, ep: 1, zero: false, microbatchSize: 4).bytes
        #expect(MemoryGate(training: gpt2, tp: 1, pp: 1, dp: 4, ep: 1, zero: true, microbatchSize: 4).bytes < one)
        #expect(MemoryGate(training: gpt2, tp: 2, pp: 2, dp: 1, ep: 1, zero: false, microbatchSize: 4).bytes < one / 3)
    }

    /// The config's step limit and the checkpoint folders' eight digits are one rule.
    @Test func theStepLimitIsTheLargestFolderStep() {
        #expect(Limits.steps == CheckpointFolder.largestStep)
        #expect(CheckpointFolder.name(step: Limits.steps).count == "step_00000000".count)
    }
}
