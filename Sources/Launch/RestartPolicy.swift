/// What the launcher does when a job ends: `--restarts K` starts a failed job again (exit 1, a
/// rank killed by a signal, or mpirun's own failure such as a lost node) at most K times; exit 2
/// (bad input) and exit 3 (an alarm stopped it) are final, and so is any end after the launcher
/// was interrupted. Each decision
/// comes with the line the launcher logs, so the policy is tested as it reads.
public struct RestartPolicy: Sendable {
    public let restarts: Int
    /// Seconds to wait before each restart.
    public let delay: Int

    public init(restarts: Int, delay: Int) {
        self.restarts = restarts
        self.delay = delay
    }

    public enum Decision: Equatable, Sendable {
        /// Stop here, logging `note` when there is one, with the job's status.
        case finish(note: String?)
        /// Start restart number `attempt`.
        case restart(attempt: Int, note: String)
    }

    /// - Parameters:
    ///   - attempt: restarts made so far.
    ///   - resumePoint: where the restarted job continues, in words (asked only for a restart).
    public func decide(after status: JobStatus, attempt: Int, interrupted: Bool,
                       resumePoint: () -> String) -> Decision {
        if status.code == 0 { return .finish(note: nil) }
        if interrupted { return .finish(note: "interrupted: the job ended with \(status.description)") }
        if restarts == 0 {
            // Exit 1, 2 and 3: tessera has said why on its own line.
            return .finish(note: status.code == 1 || status.isBadInput || status.isMonitoredStop ? nil
                                 : "the job failed: \(status.description)")
        }
        if status.isBadInput {
            return .finish(note: "not restarting: exit 2 means bad usage, config or input, which a restart cannot fix")
        }
        if status.isMonitoredStop {
            return .finish(note: "not restarting: exit 3 means an alarm stopped the job on purpose, and it would fire again")
        }
        if attempt >= restarts {
            let plural = restarts == 1 ? "" : "s"
            return .finish(note: "giving up: the job failed again with \(status.description) after \(restarts) "
                + "restart\(plural) (--restarts \(restarts) used up)")
        }
        let wait = delay > 0 ? " in \(delay) s" : ""
        return .restart(attempt: attempt + 1, note: "restart \(attempt + 1)/\(restarts)\(wait) after "
            + "\(status.description); resuming from \(resumePoint())")
    }
}
