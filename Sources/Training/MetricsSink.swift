import Foundation

/// A row of metrics as RunReport logs it: `step` first, then the row's fields in order.
public typealias MetricsRow = [(key: String, value: MetricValue)]

/// Where metrics rows go: RUN_DIR/metrics.jsonl always, TensorBoard event files with
/// `run.tensorboard`, RUN_DIR/metrics.prom with `run.prometheus`. RunReport hands every row to
/// every sink in one place; only the logging rank has sinks.
public protocol MetricsSink: AnyObject {
    /// Records one row (train or eval) and makes it visible to readers before returning.
    func write(_ row: MetricsRow) throws
    /// Records an alarm's firing, given as its JSON row. metrics.jsonl keeps it; the dashboards,
    /// which chart numeric series by name, leave it out (the default).
    func writeAlarm(_ json: String) throws
}

extension MetricsSink {
    public func writeAlarm(_ json: String) throws {}
}

/// Rank 0's sinks behind one lock: train and eval rows come from the training thread, alarm rows
/// also from the alarms' watcher thread, and no two rows may interleave in a file.
final class MetricsSinks: @unchecked Sendable {
    private let sinks: [MetricsSink]
    private let lock = NSLock()

    init(_ sinks: [MetricsSink]) { self.sinks = sinks }

    func write(_ row: MetricsRow) throws {
        try lock.withLock { for sink in sinks { try sink.write(row) } }
    }

    /// An alarm row; a sink that cannot write it says so on standard error (the alarm's own line
    /// is printed regardless), since the watcher thread has no one to throw to.
    func writeAlarm(_ firing: AlarmFiring) {
        lock.withLock {
            for sink in sinks {
                do { try sink.writeAlarm(firing.json) } catch { progress("tessera: cannot record an alarm: \(describe(error))") }
            }
        }
    }
}

extension MetricsSink {
    /// The row's `step` (every row RunReport writes has one).
    static func step(of row: MetricsRow) -> Int {
        guard case .int(let step)? = row.first(where: { $0.key == "step" })?.value else {
            preconditionFailure("a metrics row without an integer step: \(row.map(\.key))")
        }
        return step
    }
}

extension MetricValue {
    /// The value as a double (integers exactly up to 2^53).
    var double: Double {
        switch self {
        case .int(let i): Double(i)
        case .number(let x): x
        }
    }
}
