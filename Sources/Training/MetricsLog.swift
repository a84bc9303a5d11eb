import Foundation

/// RUN_DIR/metrics.jsonl: one JSON object a line, written by one rank, flushed every line so a
/// crash loses nothing already logged.
public final class MetricsLog: MetricsSink {
    private let handle: FileHandle

    /// Truncates on a fresh run. On resume from the checkpoint after step `resumedAfter`, keeps
    /// the rows up to that step (a crash may have logged later steps, which run again) and appends.
    public init(path: String, append: Bool, resumedAfter: Int? = nil) throws {
        let manager = FileManager.default
        if append, let step = resumedAfter, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let kept = text.split(separator: "\n").filter { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let rowStep = object["step"] as? Int else { return false }
                return rowStep <= step
            }
            try (kept.map { $0 + "\n" }.joined()).write(toFile: path, atomically: true, encoding: .utf8)
        }
        if !append || !manager.fileExists(atPath: path) {
            guard manager.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Writes `fields` in the given order; values are numbers (shortest round-trip form) or strings.
    public func write(_ fields: KeyValuePairs<String, MetricValue>) throws {
        try write(fields.map { ($0.key, $0.value) })
    }

    public func write(_ fields: MetricsRow) throws {
        let body = fields.map { "\"\($0.key)\": \($0.value.json)" }.joined(separator: ", ")
        try handle.write(contentsOf: Data("{\(body)}\n".utf8))
    }

    public func writeAlarm(_ json: String) throws {
        try handle.write(contentsOf: Data((json + "\n").utf8))
    }
}

public enum MetricValue: Sendable {
    case int(Int)
    case number(Double)

    var json: String {
        switch self {
        case .int(let i): return String(i)
        case .number(let x): return x.isFinite ? "\(x)" : "null"
        }
    }
}
