
/// Where one rank sits in the dp × pp × tp grid: pure arithmetic, no communication.
///
/// Ranks are numbered with tp fastest, then dp, then pp (Megatron's order), so a tensor-parallel
/// group is a run of neighbouring ranks, usually on one node:
///
///     rank = pp_index · (dp · tp) + dp_index · tp + tp_index
///
/// Worked example, 8 ranks with tp = 2, pp = 2 (so dp = 2):
///
///     rank  pp dp tp     tp groups {0,1} {2,3} {4,5} {6,7}
///      0     0  0  0     dp groups {0,2} {1,3} {4,6} {5,7}
///      1     0  0  1     pp groups {0,4} {1,5} {2,6} {3,7}
///      2     0  1  0     embedding groups (first and last stage, which share wte) = pp groups
///      3     0  1  1
///      4     1  0  0     Expert parallelism (ep) is carved out of dp: dp index d belongs to expert
///      5     1  0  1     group d / ep at position d % ep; ep = 2 here would give expert groups
///      6     1  1  0     {0,2} {1,3} {4,6} {5,7} and expert-replica groups of single ranks.
///      7     1  1  1
public struct Layout: Sendable, Equatable {
    public let degrees: ParallelDegrees
    public let rank: Int

    public init(degrees: ParallelDegrees, rank: Int) {
        precondition(rank >= 0 && rank < degrees.worldSize, "rank \(rank) outside world of \(degrees.worldSize)")
        self.degrees = degrees
        self.rank = rank
    }

    public var tp: Int { degrees.tp }
    public var dp: Int { degrees.dp }
    public var pp: Int { degrees.pp }
    public var ep: Int { degrees.ep }

    public var tpIndex: Int { rank % tp }
    public var dpIndex: Int { (rank / tp) % dp }
    public var ppIndex: Int { rank / (tp * dp) }
    public var epIndex: Int { dpIndex % ep }
    /// Which expert-parallel group of the dp dimension this rank's replica belongs to.
    public var epGroupIndex: Int { dpIndex / ep }

    public var isFirstStage: Bool { ppIndex == 0 }
    public var isLastStage: Bool { ppIndex == pp - 1 }

    /// The rank at the given coordinates.
    public func rank(pp ppIndex: Int, dp dpIndex: Int, tp tpIndex: Int) -> Int {
        ppIndex * (dp * tp) + dpIndex * tp + tpIndex
    }

    /// Global sequence indices of the batch that this rank's replica computes each step.
    public var replicaSequences: Range<Int> {
        let per = degrees.batchPerReplica
        return (dpIndex * per)..<((dpIndex + 1) * per)
    }

    /// Layers of pipeline stage `stage`: as even as possible, earlier stages taking the remainder.
    public static func stageLayers(stage: Int, stages: Int, layers: Int) -> Range<Int> {
        let base = layers / stages, extra = layers % stages
        let start = stage * base + min(stage, extra)
        return start..<(start + base + (stage < extra ? 1 : 0))
    }
}
