import Config
import Parallel

/// One way to run a config on a number of ranks: the parallel degrees and the choices that change
/// what a step costs but not what it computes.
public struct PlannedLayout: Sendable, Equatable {
    public let degrees: ParallelDegrees
    public let schedule: PipelineSchedule
    /// Gradient wire format (fp16 costs what bf16 does, so the planner offers bf16).
    public let wire: WireType
    /// ZeRO-1: optimizer state sharded across the data-parallel replicas.
    public let zero: Bool

    public var tp: Int { degrees.tp }
    public var pp: Int { degrees.pp }
    public var dp: Int { degrees.dp }
    public var ep: Int { degrees.ep }
    public var microbatches: Int { degrees.microbatches }

    /// The `--set` flags that run this layout.
    public var overrides: [String] {
        ["parallel.tp=\(tp)", "parallel.pp=\(pp)", "parallel.ep=\(ep)", "parallel.microbatches=\(microbatches)",
         "parallel.schedule=\(schedule.rawValue)", "parallel.zero=\(zero ? 1 : 0)", "precision.grad_allreduce=\(wire.rawValue)"]
    }

    /// A short label: `dp2 tp1 pp2 ep1 m4 1f1b fp32 zero0`.
    public var label: String {
        "dp\(dp) tp\(tp) pp\(pp) ep\(ep) m\(microbatches) \(schedule.rawValue) \(wire.rawValue) zero\(zero ? 1 : 0)"
    }
}

/// Every layout the trainer accepts for a config on a number of ranks.
public enum LayoutSpace {
    /// Tried: tp and pp over the divisors of the world, ep over the divisors of dp (with experts),
    /// microbatches over the divisors of the per-replica batch, both schedules when pp > 1, fp32
    /// and bf16 gradients and ZeRO 0 and 1 when dp > 1. Each is kept only when the trainer's own
    /// check, `validateLayout(worldSize:)`, accepts it.
    public static func validLayouts(of config: TesseraConfig, ranks: Int) -> [PlannedLayout] {
        guard ranks >= 1 else { return [] }
        var layouts: [PlannedLayout] = []
        for tp in divisors(ranks) {
            for pp in divisors(ranks / tp) {
                let dp = ranks / (tp * pp)
                let eps = config.model.nExperts > 0 ? divisors(dp) : [1]
                let schedules: [PipelineSchedule] = pp > 1 ? [.oneFOneB, .gpipe] : [.oneFOneB]
                let wires: [WireType] = dp > 1 ? [.fp32, .bf16] : [.fp32]
                let zeros = dp > 1 ? [false, true] : [false]
                for ep in eps {
                    for microbatches in divisors(max(1, config.train.batchSize / dp)) {
                        var candidate = config
                        (candidate.parallel.tp, candidate.parallel.pp) = (tp, pp)
                        (candidate.parallel.ep, candidate.parallel.microbatches) = (ep, microbatches)
                        guard let degrees = try? candidate.validateLayout(worldSize: ranks) else { continue }
                        for schedule in schedules {
                            for wire in wires {
                                for zero in zeros {
                                    layouts.append(PlannedLayout(degrees: degrees, schedule: schedule, wire: wire, zero: zero))
                                }
                            }
                        }
                    }
                }
            }
        }
        return layouts
    }

    static func divisors(_ n: Int) -> [Int] { (1...max(1, n)).filter { n % $0 == 0 } }
}
