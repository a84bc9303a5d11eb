import Config
import Data

/// One firing of an `[[alarm]]` rule: a row of metrics.jsonl, a line on standard error, and for
/// `exec` the JSON object its command reads.
struct AlarmFiring: Sendable {
    let step: Int
    let rule: AlarmRule
    /// The metric's value that fired it; for `stalled`, the seconds without a value.
    let value: Double

    /// The metrics.jsonl row: `{"step": S, "alarm": METRIC, "when": ..., "value": V, "action": ...}`
    /// (a non-finite value is null, as in every row).
    var json: String {
        "{\"step\": \(step), \"alarm\": \(JSONValue.string(rule.metric).compact), \"when\": \"\(rule.when)\", "
            + "\"value\": \(MetricValue.number(value).json), \"action\": \"\(rule.action)\"}"
    }

    /// What an `exec` command reads on its standard input: the row, and the rule's threshold and the
    /// run directory, so one script can serve several rules and runs.
    func commandInput(runDirectory: String) -> String {
        String(json.dropLast()) + ", \"threshold\": \(MetricValue.number(rule.value).json), "
            + "\"run_dir\": \(JSONValue.string(runDirectory).compact)}\n"
    }

    /// The line on standard error, e.g. `tessera: alarm at step 40: loss above 3.5 (value 4.21): stop`.
    var line: String {
        let condition = switch rule.when {
        case .nonfinite: "is not finite"
        case .above: "above \(rule.value)"
        case .below: "below \(rule.value)"
        case .jump: "jumped more than \(rule.value) over the median of its last \(rule.window) values"
        case .drop: "dropped more than \(rule.value) below its best"
        case .stalled: "has had no new value for \(Int(value.rounded())) s (limit \(rule.value) s)"
        }
        let shown = rule.when == .stalled ? "" : " (value \(MetricValue.number(value).json))"
        return "tessera: alarm at step \(step): \(rule.metric) \(condition)\(shown): \(rule.action)"
            + (rule.action == .exec ? " `\(rule.command)`" : "")
    }
}
