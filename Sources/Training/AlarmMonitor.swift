import Config
import Foundation
import MPI

/// The run's `[[alarm]]` rules at work (docs/config.md, "Alarms").
///
/// Rank 0 judges: it sees every metrics row (a train row every step, logged or not, and every eval
/// row), and a watcher thread of its own checks the `stalled` rules twice a second, so a run that
/// stops making progress is reported while it is stuck. Each firing is written to metrics.jsonl
/// (`record`), printed on standard error, and for `exec` starts its command.
///
/// A `stop` must end every rank at the same step, so when a rule can stop the run, every rank takes
/// rank 0's verdict in one broadcast at the end of every step (`agreedStop`): one 4-byte collective,
/// none at all for a config without `stop` rules. A non-finite loss needs none either: the loss is
/// all-reduced, and every rank stops on it alike (`Trainer`).
final class AlarmMonitor: @unchecked Sendable {
    /// What the loop does when a `stop` rule fired.
    struct Stop {
        /// The firing, on rank 0 (nil elsewhere).
        let firing: AlarmFiring?
        /// A checkpoint is saved unless the value that fired is not finite: the weights behind a NaN
        /// may be NaN themselves, and resuming from them would only repeat it, so the newest
        /// checkpoint saved before stays the one to resume from.
        let savesCheckpoint: Bool
    }

    /// The rule every run has unless its config writes it: a non-finite loss stops the run.
    static let nonFiniteLoss = AlarmRule(metric: "loss", when: .nonfinite, action: .stop)

    private let world: Communicator
    private let runDirectory: String
    /// Writes an alarm row where metrics rows go.
    private let record: @Sendable (AlarmFiring) -> Void
    /// Whether any rule can stop the run, so the ranks agree at every step.
    private let agrees: Bool
    private let lock = NSLock()
    /// Rank 0's rules; none elsewhere.
    private var triggers: [AlarmTrigger]
    private let commands = AlarmCommands()
    private var pendingStop: AlarmFiring?
    /// The step of the latest row, for `stalled` firings.
    private var step = 0
    private var watching = false
    private let watcherExited = DispatchSemaphore(value: 0)

    init(rules configured: [AlarmRule], world: Communicator, runDirectory: String,
         record: @escaping @Sendable (AlarmFiring) -> Void) {
        self.world = world
        self.runDirectory = runDirectory
        self.record = record
        agrees = configured.contains { $0.action == .stop }
        let rules = configured.contains(Self.nonFiniteLoss) ? configured : configured + [Self.nonFiniteLoss]
        let now = Self.now()
        triggers = world.rank == 0 ? rules.map { AlarmTrigger(rule: $0, startedAt: now) } : []
        if triggers.contains(where: { $0.rule.when == .stalled }) {
            watching = true
            let thread = Thread { [self] in watchStalls() }
            thread.name = "tessera.alarms"
            thread.start()
        }
    }

    /// A metrics row (rank 0; a no-op elsewhere): each rule on one of its fields judges the value.
    func observe(_ row: MetricsRow) {
        lock.withLock {
            guard !triggers.isEmpty else { return }
            let now = Self.now()
            step = MetricsLog.step(of: row)
            for (key, value) in row where key != "step" {
                for i in triggers.indices where triggers[i].rule.metric == key {
                    if triggers[i].observe(value.double, at: now) {
                        fire(AlarmFiring(step: step, rule: triggers[i].rule, value: value.double))
                    }
                }
            }
            commands.reap()
        }
    }

    /// Every rank, at the end of a step: whether a `stop` rule fired, as rank 0 saw it.
    func agreedStop() throws -> Stop? {
        guard agrees else { return nil }
        let firing = lock.withLock { pendingStop }
        var verdict: [Int32] = [firing == nil ? 0 : firing!.value.isFinite ? 1 : 2]
        try world.broadcast(&verdict, root: 0)
        return verdict[0] == 0 ? nil : Stop(firing: firing, savesCheckpoint: verdict[0] == 1)
    }

    /// The end of the run (or of this rank's part in it): the watcher stops, and the commands still
    /// running get a few seconds to finish.
    func finish() {
        let wasWatching = lock.withLock {
            defer { watching = false }
            return watching
        }
        if wasWatching { watcherExited.wait() }
        lock.withLock { commands.finish() }
    }

    /// Under `lock`.
    private func fire(_ firing: AlarmFiring) {
        record(firing)
        progress(firing.line)
        switch firing.rule.action {
        case .log: break
        case .exec: commands.start(firing.rule.command, input: firing.commandInput(runDirectory: runDirectory))
        case .stop: if pendingStop == nil { pendingStop = firing }
        }
    }

    /// Seconds on the monotonic clock: no MPI call, so the watcher may outlive MPI on a failed run.
    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private func watchStalls() {
        defer { watcherExited.signal() }
        while true {
            Thread.sleep(forTimeInterval: 0.5)
            let stillWatching = lock.withLock {
                guard watching else { return false }
                let now = Self.now()
                for i in triggers.indices where triggers[i].checkStall(at: now) {
                    fire(AlarmFiring(step: step, rule: triggers[i].rule, value: triggers[i].silence(at: now)))
                }
                return true
            }
            if !stillWatching { return }
        }
    }
}
