import FileSystem
import Foundation

/// RUN_DIR/metrics.prom: the latest value of every metric in the Prometheus text exposition
/// format, for node_exporter's textfile collector (or any scraper of files). Every row updates the
/// values it carries and the whole file is replaced atomically, so a reader never sees half of it.
/// A metric is the gauge `tessera_<name>`, its name sanitised to [a-zA-Z0-9_:] by turning every
/// other character into `_` (`val_loss/wiki` → `tessera_val_loss_wiki`); the row's step is
/// `tessera_step`.
public final class PrometheusFile: MetricsSink {
    public let path: String
    /// Metrics in the order first seen; `step` first.
    private var names: [String] = []
    private var latest: [String: (source: String, value: MetricValue)] = [:]

    public init(path: String) {
        self.path = path
    }

    public func write(_ row: MetricsRow) throws {
        for (key, value) in row {
            let name = Self.metricName(key)
            if latest[name] == nil { names.append(name) }
            latest[name] = (key, value)
        }
        let text = exposition()
        try replaceAtomically(path) { temporary in
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        }
    }

    /// The file's text: HELP, TYPE and one sample per metric, ending in a newline.
    func exposition() -> String {
        names.map { name in
            let (source, value) = latest[name]!
            let help = source == "step" ? "the step of the latest metrics row"
                : "\(source), the latest value in metrics.jsonl"
            return "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(Self.sample(value))\n"
        }.joined()
    }

    static func metricName(_ key: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:")
        return "tessera_" + String(key.map { allowed.contains($0) ? $0 : "_" })
    }

    /// A sample value as the format spells it: Go float syntax, `NaN`, `+Inf`, `-Inf`.
    static func sample(_ value: MetricValue) -> String {
        switch value {
        case .int(let i): return String(i)
        case .number(let x):
            if x.isNaN { return "NaN" }
            if x.isInfinite { return x > 0 ? "+Inf" : "-Inf" }
            return "\(x)"
        }
    }
}
