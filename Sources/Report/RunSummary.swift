import Foundation

/// report.md: the run's settings, its final and best losses, median throughput, the alarms that
/// fired, and the figure, as a markdown page a person reads beside the PNG.
public enum RunSummary {
    /// `settings` are (name, value) rows from the run's config, given by the caller, which knows
    /// where the run keeps it; empty when it has none (`settingsNote` says why).
    public static func markdown(_ history: MetricsHistory, title: String, figure: String,
                                settings: [(String, String)], settingsNote: String? = nil) -> String {
        var lines = ["# Run report: \(title)", "", "![loss, validation loss, learning rate, throughput and alarms](\(figure))", ""]
        lines += ["## Configuration", ""]
        if settings.isEmpty {
            lines.append(settingsNote ?? "No config found.")
        } else {
            lines += ["| setting | value |", "| --- | --- |"] + settings.map { "| \($0.0) | \(cell($0.1)) |" }
            if let settingsNote { lines += ["", settingsNote] }
        }
        lines += ["", "## Results", "", "| metric | value | step |", "| --- | --- | --- |"]
        lines += results(history)
        if history.skippedLines > 0 {
            lines += ["", "\(history.skippedLines) line(s) of metrics.jsonl were not metrics rows and were skipped."]
        }
        lines += ["", "## Alarms", ""]
        if history.alarms.isEmpty {
            lines.append("No alarm fired.")
        } else {
            lines += ["\(history.alarms.count) alarm(s) fired (red dashed lines in the figure).", "",
                      "| step | metric | when | value | action |", "| --- | --- | --- | --- | --- |"]
            lines += history.alarms.map { "| \($0.step) | \(cell($0.metric)) | \(cell($0.when)) | \($0.value.map(number) ?? "-") | \(cell($0.action)) |" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Final and best of each loss, then the medians of throughput, step time and MFU.
    static func results(_ history: MetricsHistory) -> [String] {
        var rows: [String] = []
        let losses = [("loss", "training loss")] + (["val_loss"] + history.fields(prefix: "val_loss/")).map { ($0, $0 == "val_loss" ? "validation loss" : $0) }
        for (field, name) in losses {
            let points = history.points(field)
            guard let last = points.last else { continue }
            rows.append("| final \(name) | \(number(last.value)) | \(last.step) |")
            if let best = points.filter({ $0.value.isFinite }).min(by: { $0.value < $1.value }) {
                rows.append("| best \(name) | \(number(best.value)) | \(best.step) |")
            }
        }
        if rows.isEmpty { rows.append("| loss | no train or eval rows | - |") }
        for (field, name, unit, factor) in [("tokens_per_s", "throughput", " tokens/s", 1.0), ("step_ms", "step time", " ms", 1.0),
                                            ("mfu", "MFU", "%", 100.0)] {
            guard let (median, count) = steadyMedian(history.points(field).map(\.value)) else { continue }
            rows.append("| median \(name) | \(number(median * factor))\(unit) | \(count) logged steps |")
        }
        return rows
    }

    /// The median of finite `values` after the first (which pays for start-up) when there are
    /// more than one, and how many it is over.
    static func steadyMedian(_ values: [Double]) -> (Double, Int)? {
        let steady = (values.count > 1 ? Array(values.dropFirst()) : values).filter(\.isFinite).sorted()
        guard !steady.isEmpty else { return nil }
        let mid = steady.count / 2
        return (steady.count % 2 == 1 ? steady[mid] : (steady[mid - 1] + steady[mid]) / 2, steady.count)
    }

    /// Four significant decimals for losses, integers as integers, NaN for a non-finite value.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "+inf" : "-inf") }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
        if abs(value) >= 100 { return String(format: "%.1f", value) }
        if abs(value) < 0.01 { return String(format: "%.3g", value) }
        return String(format: "%.4f", value)
    }

    /// Text safe in a table cell: pipes escaped, one line.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
