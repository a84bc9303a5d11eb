import ArgumentParser
import Checkpoint
import Config
import Foundation
import MPI
import Training

/// `tessera pipeline --config FILE`: the config's `[[stage]]` list in order, each stage a training
/// run of the base config with the stage's overrides, in `RUN_DIR/stages/N-NAME`, starting from
/// the previous stage's final checkpoint (`train.init_from`, unless the stage sets it). Rerun after
/// a failure, it skips finished stages and resumes the unfinished one from its newest checkpoint.
/// A list may repeat stages (pretrain / dpo rounds). Ends with a summary table.
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
            var previous: String?
            var summary: [String] = []
            for (i, stage) in base.stages.enumerated() {
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
                summary.append(Self.row(i + 1, stage.name, dir))
            }
            if world.rank == 0 {
                print("| stage | name | steps | final loss | last validation |")
                print("| --- | --- | --- | --- | --- |")
                for row in summary { print(row) }
            }
        }
        try MPIEnvironment.finalize()
    }

    /// The step of the newest complete checkpoint in run directory `dir`, if any.
    static func savedStep(_ dir: String) -> Int? {
        guard let folder = try? CheckpointFolder(runDirectory: dir).newest()?.folder,
              let manifest = try? CheckpointFolder.manifest(in: folder) else { return nil }
        return manifest.step
    }

    /// A summary row from the stage's metrics.jsonl.
    static func row(_ index: Int, _ name: String, _ dir: String) -> String {
        let lines = (try? String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8))?.split(separator: "\n") ?? []
        let rows = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let train = rows.last { $0["loss"] != nil }, validation = rows.last { $0["val_loss"] != nil }
        func figure(_ row: [String: Any]?, _ key: String) -> String {
            (row?[key] as? Double).map { String(format: "%.4f", $0) } ?? "-"
        }
        return "| \(index) | \(name) | \(train?["step"] as? Int ?? 0) | \(figure(train, "loss")) | \(figure(validation, "val_loss")) |"
    }
}
