import ArgumentParser
import Checkpoint
import Config
import Foundation
import Data
import MPI
import Report
import Training

/// `tessera pipeline --config FILE`: the config's `[[stage]]` list in order, each stage a training
/// run of the base config with the stage's overrides, in `RUN_DIR/stages/N-NAME`, starting from
/// the previous stage's final checkpoint (`train.init_from`, unless the stage sets it). Rerun after
/// a failure, it skips finished stages and resumes the unfinished one from its newest checkpoint.
/// A list may repeat stages (pretrain / dpo rounds). A stage with a `drift` table trains nothing: it
/// compares new data with the data the model knows (`tessera monitor drift`) and, over its
/// threshold, stops the pipeline with exit 3 before the stages after it. Each training stage gets
/// its report (`tessera report`); the summary table links them.
struct Pipeline: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the config's [[stage]] list in order, resumably.")

    @Option(help: "The TOML config file with [[stage]] tables.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one config key for every stage.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    func run() throws {
        MPIEnvironment.initialize()
        let world = Communicator.world
        stoppingOnFailure(world) {
            let base = try agreed(world) {
                let base = try TesseraConfig.load(path: config, overrides: overrides)
                if base.stages.isEmpty { throw SetupError("\(config) has no [[stage]] tables for tessera pipeline") }
                return base
            }
            var previous: String?, previousData = base.data.path
            var summary: [String] = []
            for (i, stage) in base.stages.enumerated() {
                if let gate = stage.drift {
                    let (row, stop) = try Self.gate(world, gate, index: i, name: stage.name, base: base,
                                                    data: previousData, checkpoint: previous)
                    summary.append(row)
                    if let stop {
                        if world.rank == 0 {
                            Self.printSummary(summary)
                            progress(stop)
                        }
                        try MPIEnvironment.finalize()
                        Foundation.exit(3)
                    }
                    continue
                }
                // Each stage is the base config with its own run directory, starting from the previous
                // stage's final checkpoint (unless it names one), and its overrides on top.
                var stageBase = base
                if let previous, stage.set["train.init_from"] == nil { stageBase.train.initFrom = previous }
                var stageConfig = try agreed(world) { try stageBase.applying(stage) }
                let dir = base.run.dir + "/stages/\(i + 1)-\(stage.name)"
                stageConfig.run.dir = dir
                // Finished when its newest checkpoint is its last step (rank 0 looks; all follow).
                let finished = world.rank == 0 ? (Self.savedStep(dir) == stageConfig.train.steps ? 1 : 0) : 0
                if try world.allReduce(Int64(finished), op: .max) == 1 {
                    if world.rank == 0 { progress("tessera pipeline: stage \(i + 1) '\(stage.name)' already finished") }
                } else {
                    if world.rank == 0 { progress("tessera pipeline: stage \(i + 1)/\(base.stages.count) '\(stage.name)' in \(dir)") }
                    try TrainingRun(config: stageConfig, resume: .auto).execute(world)
                }
                previous = dir
                previousData = stageConfig.data.path
                summary.append(Self.row(i + 1, stage.name, dir, report: world.rank == 0 ? Self.report(dir) : nil))
            }
            if world.rank == 0 { Self.printSummary(summary) }
        }
        try MPIEnvironment.finalize()
    }

    static func printSummary(_ rows: [String]) {
        print("| stage | name | steps | final loss | last validation | report |")
        print("| --- | --- | --- | --- | --- | --- |")
        for row in rows { print(row) }
    }

    /// Writes a finished stage's report; the path of its report.md, or nil (with a note) when it
    /// cannot be written, which does not stop the pipeline.
    static func report(_ dir: String) -> String? {
        do {
            try ReportCommand.write(dir)
            return dir + "/" + ReportFiles.summaryName
        } catch {
            progress("tessera pipeline: no report for \(dir): \(describe(error))")
            return nil
        }
    }

    /// A drift stage, measured on rank 0: its summary row, and the line to stop with when the
    /// metric is over the threshold. Bad input (missing data, different tokenizers) stops every
    /// rank with exit 2. `data` and `checkpoint` are the previous training stage's data and run
    /// directory: the gate's defaults for its reference and, for the loss metric, its model.
    static func gate(_ world: Communicator, _ gate: DriftGate, index: Int, name: String, base: TesseraConfig,
                     data: String, checkpoint: String?) throws -> (row: String, stop: String?) {
        let reference = gate.reference.isEmpty ? data : gate.reference
        // The previous stage's model only where it is needed: its char vocabulary would refuse new
        // characters, which the distributions rather count as drift.
        let model = gate.checkpoint.isEmpty ? (gate.metric == .loss ? checkpoint : nil) : gate.checkpoint
        let threshold = gate.threshold ?? gate.metric.defaultThreshold
        if world.rank == 0 { progress("tessera pipeline: stage \(index + 1)/\(base.stages.count) '\(name)': drift of \(gate.current) from \(reference)") }
        let measured: (over: Bool, verdict: String)? = try agreed(world) {
            guard world.rank == 0 else { return nil }
            // Text files on both sides, without a model: read with the config's tokenizer.
            let texts = model == nil && ![reference, gate.current].contains(where: Corpus.isPreparedFolder)
            let measurement = try DriftCheck.measure(reference: reference, current: gate.current, checkpoint: model,
                                                     textTokenizer: texts ? base.data.tokenizer : nil,
                                                     tokenizerModel: base.data.tokenizerModel, windows: 32)
            guard measurement.value(of: gate.metric) != nil else {
                throw SetupError("stage '\(name)': stage.drift.metric = \"loss\" needs a model, and no checkpoint is known")
            }
            return (measurement.value(of: gate.metric)! > threshold, MonitorDrift.verdict(measurement, metric: gate.metric, threshold: threshold))
        }
        // Rank 0 measured; every rank learns whether to stop.
        let over = try world.allReduce(Int64(measured?.over == true ? 1 : 0), op: .max) == 1
        let verdict = measured?.verdict ?? ""
        let row = "| \(index + 1) | \(name) | drift gate | \(verdict) | - | - |"
        let stop = over ? "tessera pipeline: stage \(index + 1) '\(name)': \(verdict) "
            + "(\(gate.current) against \(reference)); stopping before the stages after it (exit 3)" : nil
        return (row, stop)
    }

    /// The step of the newest complete checkpoint in run directory `dir`, if any.
    static func savedStep(_ dir: String) -> Int? {
        guard let folder = try? CheckpointFolder(runDirectory: dir).newest()?.folder,
              let manifest = try? CheckpointFolder.manifest(in: folder) else { return nil }
        return manifest.step
    }

    /// A summary row from the stage's metrics.jsonl, with its report.md.
    static func row(_ index: Int, _ name: String, _ dir: String, report: String?) -> String {
        let lines = (try? String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8))?.split(separator: "\n") ?? []
        let rows = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let train = rows.last { $0["loss"] != nil }, validation = rows.last { $0["val_loss"] != nil }
        func figure(_ row: [String: Any]?, _ key: String) -> String {
            (row?[key] as? Double).map { String(format: "%.4f", $0) } ?? "-"
        }
        return "| \(index) | \(name) | \(train?["step"] as? Int ?? 0) | \(figure(train, "loss")) | \(figure(validation, "val_loss")) | "
            + "\(report ?? "-") |"
    }
}
