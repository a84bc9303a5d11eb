/// A row of metrics as RunReport logs it: `step` first, then the row's fields in order.
public typealias MetricsRow = [(key: String, value: MetricValue)]

/// Where metrics rows go: RUN_DIR/metrics.jsonl always, TensorBoard event files with
/// `run.tensorboard`, RUN_DIR/metrics.prom with `run.prometheus`. RunReport hands every row to
/// every sink in one place; only the logging rank has sinks.
public protocol MetricsSink: AnyObject {
    /// Records one row (train or eval) and makes it visible to readers before returning.
    func write(_ row: MetricsRow) throws
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
