/// How a world of ranks is divided: world = dp · pp · tp, with ep carved out of dp.
///
/// Worked example: world 8, tp 2, pp 2 → dp 2; batch_size 12 → 6 sequences per replica;
/// microbatches 3 → microbatches of 2 sequences.
public struct ParallelDegrees: Sendable, Equatable {
    public let worldSize: Int
    public let dp: Int
    public let tp: Int
    public let pp: Int
    public let ep: Int
    public let microbatches: Int
    /// Sequences one data-parallel replica handles per optimizer step: batch_size / dp.
    public let batchPerReplica: Int
    /// Sequences per microbatch: batchPerReplica / microbatches.
    public let microbatchSize: Int

    public init(worldSize: Int, dp: Int, tp: Int, pp: Int, ep: Int, microbatches: Int, batchPerReplica: Int,
                microbatchSize: Int) {
        (self.worldSize, self.dp, self.tp, self.pp, self.ep) = (worldSize, dp, tp, pp, ep)
        (self.microbatches, self.batchPerReplica, self.microbatchSize) = (microbatches, batchPerReplica, microbatchSize)
    }
}
