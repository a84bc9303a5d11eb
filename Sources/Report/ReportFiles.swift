import FileSystem
import Foundation

/// `RUN_DIR/report.png` and `RUN_DIR/report.md` from `RUN_DIR/metrics.jsonl`, each replaced
/// atomically, so a sweep or a person reading them while a rerun writes never sees half a file.
public enum ReportFiles {
    public static let figureName = "report.png"
    public static let summaryName = "report.md"

    /// Writes both files; `settings` and `settingsNote` go to the summary (`RunSummary`).
    /// Throws `ReportError` for a run directory without metrics.jsonl.
    public static func write(runDirectory: String, settings: [(String, String)], settingsNote: String?) throws {
        let history = try MetricsHistory(path: runDirectory + "/metrics.jsonl")
        let steps = history.lastStep.map { "step \($0)" } ?? "no rows"
        let canvas = RunFigure.make(history, title: "\(runDirectory) (\(steps))").render()
        try replace(runDirectory + "/" + figureName, with: PNGFile.encode(canvas))
        let summary = RunSummary.markdown(history, title: runDirectory, figure: figureName, settings: settings, settingsNote: settingsNote)
        try replace(runDirectory + "/" + summaryName, with: Array(summary.utf8))
    }

    private static func replace(_ path: String, with bytes: [UInt8]) throws {
        try replaceAtomically(path) { temporary in
            guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
                throw ReportError("cannot write '\(temporary)'")
            }
        }
    }
}
