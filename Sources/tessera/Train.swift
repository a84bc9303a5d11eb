import ArgumentParser
import Foundation
import MPI
import Parallel
import Checkpoint
import FileSystem
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model from a TOML config.")

    @Option(help: "The TOML config file.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one config key.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(help: "auto: continue from RUN_DIR/checkpoints/latest when it exists; never; or a checkpoint path.")
    var resume: String = "auto"

    @Flag(help: "Run every check a run makes before its first step (config, layout, data, checkpoints), print the effective config as TOML, and exit.")
    var check = false

    func run() throws {
        MPIEnvironment.initialize()
        try execute(Communicator.world)
        try MPIEnvironment.finalize()
    }

    /// One training run on `world` (MPI already started): `tessera train`, and each stage of
    /// `tessera pipeline`.
    func execute(_ world: Communicator) throws {
        var setup: TrainingSetup?
        var failure: String?
        do {
            setup = try TrainingSetup.load(configPath: config, overrides: overrides, worldSize: world.size)
        } catch {
            failure = describe(error)
        }
        try agreeOrExit(world, failure)

        // Rank 0 makes and locks the run directory before reading its checkpoints, so that a second
        // run on the same folder stops here (`--check` creates nothing: it only looks for a holder).
        var runDirectory: RunDirectory?
        if world.rank == 0 {
            do {
                if check {
                    try RunDirectory.checkFree(setup!.config.run.dir)
                } else {
                    runDirectory = try RunDirectory(path: setup!.config.run.dir, command: "tessera train")
                }
            } catch {
                failure = describe(error)
            }
        }
        try agreeOrExit(world, failure)
        defer { withExtendedLifetime(runDirectory) {} }

        // The checkpoint to resume: found and checked against this model by rank 0, its manifest
        // then shared, so that a bad one stops every rank before any work.
        let resumed = try agreedCheckpoint(world, setup: setup!) { try resumePoint($0) }
        // `train.init_from` gives the starting weights (for DPO also its frozen reference).
        let initial = setup!.config.train.initFrom.isEmpty ? nil
            : try agreedCheckpoint(world, setup: setup!) { try CheckpointFolder.resolve($0.config.train.initFrom) }
        if check {
            if world.rank == 0 { print(setup!.config.tomlText(), terminator: "") }
            return
        }

        do {
            let layout = Layout(degrees: setup!.degrees, rank: world.rank)
            let groups = try ProcessGroups(layout: layout, world: world)
            let trainer = try Trainer(setup: setup!, groups: groups)
            if let initial {
                failure = nil
                do {
                    try trainer.loadCheckpoint(folder: initial.folder, manifest: initial.manifest, parametersOnly: true)
                } catch let error as CheckpointError {
                    failure = "train.init_from: \(error)"
                }
                try agreeOrExit(world, failure, code: 1)
                try trainer.computeReferenceLogProbabilities()  // DPO only
            }
            if let resumed {
                failure = nil
                let started = MPIEnvironment.wallTime()
                do {
                    try trainer.loadCheckpoint(folder: resumed.folder, manifest: resumed.manifest)
                } catch let error as CheckpointError {
                    failure = "\(error)"
                }
                // A damaged checkpoint found while resuming is a failure of the run: exit 1.
                try agreeOrExit(world, failure, code: 1)
                try world.barrier()
                if world.rank == 0 {
                    let seconds = MPIEnvironment.wallTime() - started
                    let megabytes = Double(resumed.manifest.shards.reduce(0) { $0 + $1.bytes }) / 1e6
                    FileHandle.standardError.write(Data(("tessera: resuming from \(resumed.folder) (step \(resumed.manifest.step)), "
                        + "loaded in \(String(format: "%.2f", seconds)) s (\(String(format: "%.1f", megabytes)) MB of shards, "
                        + "\(String(format: "%.0f", megabytes / seconds)) MB/s)\n").utf8))
                }
            }
            try trainer.run()
        } catch {
            abortJob(world, error)
        }
    }

    /// The checkpoint folder `--resume` asks for: none (`never`, or `auto` without one), the run's
    /// newest complete checkpoint (`auto`), or PATH, a checkpoint folder or a run directory whose
    /// newest is meant. Refused when the run's own folder holds a checkpoint newer than where this
    /// run starts, which it would overwrite, or when the checkpoint is past train.steps.
    func resumePoint(_ setup: TrainingSetup) throws -> String? {
        let own = CheckpointFolder(runDirectory: setup.config.run.dir)
        var folder: String?
        switch resume {
        case "never":
            break
        case "auto":
            if let (newest, note) = try own.newest() {
                if let note { FileHandle.standardError.write(Data("tessera: \(note); resuming from it\n".utf8)) }
                folder = newest
            }
        default:
            guard FileKind.of(resume).isFolder else {
                throw CheckpointError.invalid(resume, FileKind.of(resume) == .missing ? "does not exist (--resume)" : "is not a folder (--resume)")
            }
            folder = try CheckpointFolder.resolve(resume)
        }
        let start = try folder.map { try CheckpointFolder.manifest(in: $0).step } ?? 0
        if let newer = try own.completeSteps().last, newer > start {
            throw SetupError("run.dir '\(setup.config.run.dir)' holds checkpoint \(CheckpointFolder.name(step: newer)), newer than "
                + "this run's start at step \(start), and would overwrite it; resume it (--resume auto), or move it away")
        }
        guard start <= setup.config.train.steps else {
            throw SetupError("the checkpoint \(folder!) is at step \(start), past train.steps = \(setup.config.train.steps); "
                + "raise train.steps to continue it")
        }
        return folder
    }

    /// The checkpoint `find` names, found and checked against this model by rank 0 and its manifest
    /// shared, so that a bad one stops every rank before any work (exit 2; 1 when damaged).
    func agreedCheckpoint(_ world: Communicator, setup: TrainingSetup,
                          _ find: (TrainingSetup) throws -> String?) throws -> (folder: String, manifest: CheckpointManifest)? {
        var found: (folder: String, manifest: CheckpointManifest)?
        var failure: String?
        var code: Int32 = 2
        if world.rank == 0 {
            do {
                if let folder = try find(setup) {
                    found = (folder, try Trainer.compatibleManifest(folder: folder, dims: setup.dims))
                }
            } catch {
                if case CheckpointError.corrupt = error { code = 1 }
                failure = describe(error)
            }
        }
        try agreeOrExit(world, failure, code: code)
        let shared = try world.broadcast(string: found.map { "\($0.folder)\n" + String(decoding: try $0.manifest.encoded(), as: UTF8.self) } ?? "",
                                         root: 0)
        guard let newline = shared.firstIndex(of: "\n") else { return nil }
        return (String(shared[..<newline]),
                try CheckpointManifest.decode(Data(shared[shared.index(after: newline)...].utf8), path: "manifest"))
    }
}
