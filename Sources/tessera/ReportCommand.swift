import ArgumentParser
import Checkpoint
import Config
import FileSystem
import Foundation
import Report
import Training

/// `tessera report RUN_DIR`: RUN_DIR/report.png (loss and validation loss, learning rate,
/// throughput, gradient norm, alarms) and RUN_DIR/report.md (settings, final and best losses,
/// median throughput, alarms) from RUN_DIR/metrics.jsonl (docs/monitoring.md). One process.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write RUN_DIR/report.png and RUN_DIR/report.md from RUN_DIR/metrics.jsonl.")

    @Argument(help: "A run directory holding metrics.jsonl.")
    var runDirectory: String

    func run() throws {
        do {
            try Self.write(runDirectory)
        } catch {
            printError(describe(error))
            throw ExitCode(2)
        }
        print(runDirectory + "/" + ReportFiles.figureName)
        print(runDirectory + "/" + ReportFiles.summaryName)
    }

    /// Writes both files, with the settings of the run's newest checkpoint (its config and layout)
    /// or, without one, of its model.h5.
    static func write(_ runDirectory: String) throws {
        guard FileKind.of(runDirectory).isFolder else {
            throw ReportError("run directory '\(runDirectory)' \(FileKind.of(runDirectory) == .missing ? "does not exist" : "is not a folder")")
        }
        let (settings, note) = Self.settings(runDirectory)
        try ReportFiles.write(runDirectory: runDirectory, settings: settings, settingsNote: note)
    }

    /// The settings rows, and a note saying where they come from or why there are none.
    static func settings(_ runDirectory: String) -> ([(String, String)], String) {
        do {
            if let (folder, _) = try CheckpointFolder(runDirectory: runDirectory).newest() {
                let manifest = try CheckpointFolder.manifest(in: folder)
                let config = try TesseraConfig.parse(toml: manifest.config, source: folder)
                let l = manifest.layout
                let layout = "\(l.worldSize) rank\(l.worldSize == 1 ? "" : "s"): dp \(l.dp), tp \(l.tp), pp \(l.pp), ep \(l.ep), "
                    + "zero \(l.zero), \(l.microbatches) microbatch\(l.microbatches == 1 ? "" : "es")"
                return (rows(config) + [("layout", layout)],
                        "From the newest checkpoint, \((folder as NSString).lastPathComponent) (step \(manifest.step)).")
            }
            let modelFile = runDirectory + "/model.h5"
            if FileKind.of(modelFile) == .regular {
                let reader = try ModelFileReader(path: modelFile)
                let config = try TesseraConfig.parse(toml: reader.attributes.config, source: modelFile)
                try reader.file.close()
                return (rows(config), "From model.h5 (step \(reader.attributes.step)).")
            }
            return ([], "No checkpoint and no model.h5 in \(runDirectory): its settings are not known.")
        } catch {
            return ([], "The run's settings could not be read: \(describe(error)).")
        }
    }

    /// The settings a reader of the report needs to place the curves.
    static func rows(_ config: TesseraConfig) -> [(String, String)] {
        let m = config.model, t = config.train
        let shape = m.family == .t5
            ? "\(m.effectiveEncoderLayers) encoder + \(m.effectiveDecoderLayers) decoder layers, \(m.nHead) heads, "
                + "\(m.nEmbd) channels, inputs \(m.effectiveEncoderBlockSize), targets \(m.blockSize)"
            : "\(m.nLayer) layers, \(m.nHead) heads, \(m.nEmbd) channels, block \(m.blockSize)"
        var model = "\(m.family.rawValue): " + shape
        if m.nExperts > 0 { model += ", \(m.nExperts) experts (top \(m.topK))" }
        let tokenizer = config.data.tokenizer.rawValue
        return [
            ("model", model),
            ("data", "\(config.data.path) (\(tokenizer) tokenizer)"),
            ("objective", t.objective.rawValue),
            ("batch", "\(t.batchSize) sequences × \(m.blockSize) tokens = \(t.batchSize * m.blockSize) tokens/step"),
            ("steps", "\(t.steps)"),
            ("learning rate", "\(t.lr) → \(t.minLR), warmup \(t.warmupSteps) steps"),
            ("precision", "compute \(config.precision.compute.rawValue), gradients \(config.precision.gradAllreduce.rawValue)"),
            ("seed", "\(config.run.seed)"),
        ]
    }
}
