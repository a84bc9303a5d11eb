import Foundation

/// One `alarm` row of metrics.jsonl: `{"step": S, "alarm": METRIC, "when": ..., "value": V, "action": ...}`.
public struct AlarmEvent: Equatable, Sendable {
    public let step: Int
    public let metric: String
    public let when: String
    /// The metric's value that fired it; nil when the row has none (or it was not finite: null).
    public let value: Double?
    public let action: String

    public init(step: Int, metric: String, when: String, value: Double?, action: String) {
        (self.step, self.metric, self.when, self.value, self.action) = (step, metric, when, value, action)
    }
}

/// The series of a run's metrics.jsonl, read as a resumed run leaves it: a later row for a step
/// replaces the earlier row's values of the same fields (a run that crashed after its checkpoint
/// logs those steps again), so each field holds one value per step. Train, eval and alarm rows
/// of one step stand side by side. `null` (a non-finite value) reads as NaN. Lines that are not a
/// JSON object with an integer `step` (a line cut short by a crash) are counted and skipped.
public struct MetricsHistory: Sendable {
    /// field → step → value, for every numeric field but `step`.
    public private(set) var series: [String: [Int: Double]] = [:]
    /// In step order; one per (step, metric, when): a later row replaces an earlier one.
    public private(set) var alarms: [AlarmEvent] = []
    public private(set) var skippedLines = 0

    public init(jsonl text: String) {
        var alarmsByKey: [String: AlarmEvent] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.allSatisfy(\.isWhitespace) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = object["step"] as? Int else {
                skippedLines += 1
                continue
            }
            if let metric = object["alarm"] as? String {
                let event = AlarmEvent(step: step, metric: metric, when: object["when"] as? String ?? "",
                                       value: object["value"] as? Double, action: object["action"] as? String ?? "")
                alarmsByKey["\(step)\u{0}\(metric)\u{0}\(event.when)"] = event
                continue
            }
            for (key, value) in object where key != "step" {
                if value is NSNull {
                    series[key, default: [:]][step] = .nan
                } else if let number = value as? Double {
                    series[key, default: [:]][step] = number
                }
            }
        }
        alarms = alarmsByKey.values.sorted { ($0.step, $0.metric, $0.when) < ($1.step, $1.metric, $1.when) }
    }

    /// Reads `path`; throws a one-line `ReportError` for a missing or unreadable file.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw ReportError("'\(path)' does not exist") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportError("cannot read '\(path)'") }
        self.init(jsonl: String(decoding: data, as: UTF8.self))
    }

    /// A field's (step, value) pairs in step order.
    public func points(_ field: String) -> [(step: Int, value: Double)] {
        (series[field] ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Fields whose name starts with `prefix` (`val_loss/` for each eval entry), sorted.
    public func fields(prefix: String) -> [String] {
        series.keys.filter { $0.hasPrefix(prefix) }.sorted()
    }

    /// The largest step of any row.
    public var lastStep: Int? {
        (series.values.flatMap(\.keys) + alarms.map(\.step)).max()
    }
}

/// A problem with `tessera report`'s input: one line, printed after `error: `.
public struct ReportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
