import Checkpoint
import Config
import FileSystem
import Foundation
import Interop
import MPI
import Parallel

/// Where a run's starting state comes from (`tessera train --resume`).
public enum ResumeChoice: Sendable, Equatable {
    /// The run directory's newest complete checkpoint, when it has one.
    case auto
    /// Start at step 1 (refused over newer checkpoints of the same run directory).
    case never
    /// A checkpoint folder, or a run directory whose newest checkpoint is meant.
    case path(String)

    public init(_ text: String) {
        self = switch text {
        case "auto": .auto
        case "never": .never
        default: .path(text)
        }
    }
}

/// One training run from a validated config to its last step: every check a run makes before its
/// first step, agreed across ranks (a problem is a RunStop on every rank), then the trainer built,
/// its starting weights loaded (`train.init_from`, then the checkpoint resumed) and the loop run.
/// `tessera train` runs one; `tessera pipeline` one per stage.
public struct TrainingRun {
    public let config: TesseraConfig
    public let resume: ResumeChoice

    public init(config: TesseraConfig, resume: ResumeChoice) {
        self.config = config
        self.resume = resume
    }

    /// Makes every check a run makes before its first step (layout, data, memory, the run
    /// directory and its lock, the checkpoints to load) without creating or training anything.
    public func check(_ world: Communicator) throws {
        _ = try prepare(world, checkOnly: true)
    }

    /// Trains to `train.steps`; throws a RunStop for a problem found before the first step, any
    /// other error for a failure of the run.
    public func execute(_ world: Communicator) throws {
        let start = try prepare(world, checkOnly: false)
        defer { withExtendedLifetime(start.runDirectory) {} }
        let groups = try ProcessGroups(layout: Layout(degrees: start.setup.degrees, rank: world.rank), world: world)
        let trainer = try Trainer(setup: start.setup, groups: groups)
        // `train.init_from` gives the starting weights (for DPO also its frozen reference).
        switch start.initial {
        case let .checkpoint(folder, manifest)?:
            try agree(world, loadFailure { try trainer.loadCheckpoint(folder: folder, manifest: manifest,
                                                                      parametersOnly: true) }.map { "train.init_from: \($0)" },
                      code: 1)
        case let .huggingFace(folder)?:
            // Every rank reads the full tensors and keeps its slices, as from a checkpoint; a file
            // that changed since rank 0 checked it is still bad input.
            var failure: String?
            do {
                let hf = try HFCheckpoint(folder: folder)
                try hf.check(against: start.setup.dims)
                try trainer.loadParameters { try hf.tensor($0.name, shape: $0.globalShape) }
            } catch let error as InteropError {
                failure = "train.init_from: \(error)"
            }
            try agree(world, failure)
        case nil:
            break
        }
        try trainer.prepareObjective()
        if let resumed = start.resumed {
            let started = MPIEnvironment.wallTime()
            // A damaged checkpoint found while resuming is a failure of the run: exit 1.
            try agree(world, loadFailure { try trainer.loadCheckpoint(folder: resumed.folder, manifest: resumed.manifest) },
                      code: 1)
            try world.barrier()
            if world.rank == 0 {
                let seconds = MPIEnvironment.wallTime() - started
                let megabytes = Double(resumed.manifest.shards.reduce(0) { $0 + $1.bytes }) / 1e6
                progress("tessera: resuming from \(resumed.folder) (step \(resumed.manifest.step)), "
                    + "loaded in \(String(format: "%.2f", seconds)) s (\(String(format: "%.1f", megabytes)) MB of shards, "
                    + "\(String(format: "%.0f", megabytes / seconds)) MB/s)")
            }
        }
        try trainer.run()
    }

    /// The description of a CheckpointError `load` throws, nil when it succeeds.
    private func loadFailure(_ load: () throws -> Void) throws -> String? {
        do {
            try load()
            return nil
        } catch let error as CheckpointError {
            return "\(error)"
        }
    }

    private struct Start {
        let setup: TrainingSetup
        let runDirectory: RunDirectory?
        let resumed: (folder: String, manifest: CheckpointManifest)?
        let initial: InitialWeights?
    }

    /// Where `train.init_from`'s weights come from.
    enum InitialWeights {
        /// A Tessera checkpoint (or run directory's newest), its manifest checked against the model.
        case checkpoint(folder: String, manifest: CheckpointManifest)
        /// A Hugging Face folder (it holds config.json) of this model's family and sizes.
        case huggingFace(folder: String)
    }

    private func prepare(_ world: Communicator, checkOnly: Bool) throws -> Start {
        let setup = try agreed(world) { try TrainingSetup(config: config, worldSize: world.size) }
        // Rank 0 makes and locks the run directory before reading its checkpoints, so that a second
        // run on the same folder stops here (a check creates nothing: it only looks for a holder).
        var runDirectory: RunDirectory?
        var failure: String?
        if world.rank == 0 {
            do {
                if checkOnly {
                    try RunDirectory.checkFree(config.run.dir)
                } else {
                    runDirectory = try RunDirectory(path: config.run.dir, command: "tessera train")
                }
            } catch {
                failure = describe(error)
            }
        }
        try agree(world, failure)
        let resumed = try agreedCheckpoint(world, setup: setup) { try resumePoint() }
        let initial = config.train.initFrom.isEmpty ? nil : try agreedInitialWeights(world, setup: setup)
        return Start(setup: setup, runDirectory: runDirectory, resumed: resumed, initial: initial)
    }

    /// The checkpoint folder `resume` asks for: none (`never`, or `auto` without one), the run's
    /// newest complete checkpoint (`auto`), or a checkpoint folder or a run directory whose newest
    /// is meant. Refused when the run's own folder holds a checkpoint newer than where this run
    /// starts, which it would overwrite, or when the checkpoint is past train.steps.
    func resumePoint() throws -> String? {
        let own = CheckpointFolder(runDirectory: config.run.dir)
        var folder: String?
        switch resume {
        case .never:
            break
        case .auto:
            if let (newest, note) = try own.newest() {
                if let note { progress("tessera: \(note); resuming from it") }
                folder = newest
            }
        case .path(let path):
            guard FileKind.of(path).isFolder else {
                throw CheckpointError.invalid(path, FileKind.of(path) == .missing ? "does not exist (--resume)" : "is not a folder (--resume)")
            }
            folder = try CheckpointFolder.resolve(path)
        }
        let start = try folder.map { try CheckpointFolder.manifest(in: $0).step } ?? 0
        if let newer = try own.completeSteps().last, newer > start {
            throw SetupError("run.dir '\(config.run.dir)' holds checkpoint \(CheckpointFolder.name(step: newer)), newer than "
                + "this run's start at step \(start), and would overwrite it; resume it (--resume auto), or move it away")
        }
        guard start <= config.train.steps else {
            throw SetupError("the checkpoint \(folder!) is at step \(start), past train.steps = \(config.train.steps); "
                + "raise train.steps to continue it")
        }
        return folder
    }

    /// `train.init_from`, as rank 0 finds it: a folder holding config.json is a Hugging Face model,
    /// checked against the run's model (family, settings, every tensor's shape, the sizes equal to
    /// the model keys); anything else is a checkpoint or run directory (`agreedCheckpoint`).
    func agreedInitialWeights(_ world: Communicator, setup: TrainingSetup) throws -> InitialWeights? {
        let path = config.train.initFrom
        var huggingFace = false, failure: String?
        if world.rank == 0, HFCheckpoint.holdsConfig(path) {
            huggingFace = true
            do {
                try HFCheckpoint(folder: path).check(against: setup.dims)
            } catch {
                failure = "train.init_from: \(error)"
            }
        }
        try agree(world, failure)
        if try world.broadcast(string: huggingFace ? "hf" : "", root: 0) == "hf" { return .huggingFace(folder: path) }
        return try agreedCheckpoint(world, setup: setup) { try CheckpointFolder.resolve(path) }
            .map { .checkpoint(folder: $0.folder, manifest: $0.manifest) }
    }

    /// The checkpoint `find` names, found and checked against this model by rank 0 and its manifest
    /// shared, so that a bad one stops every rank before any work (exit 2; 1 when damaged).
    func agreedCheckpoint(_ world: Communicator, setup: TrainingSetup,
                          _ find: () throws -> String?) throws -> (folder: String, manifest: CheckpointManifest)? {
        var found: (folder: String, manifest: CheckpointManifest)?
        var failure: String?
        var code: Int32 = 2
        if world.rank == 0 {
            do {
                if let folder = try find() {
                    found = (folder, try Trainer.compatibleManifest(folder: folder, dims: setup.dims))
                }
            } catch {
                if case CheckpointError.corrupt = error { code = 1 }
                failure = describe(error)
            }
        }
        try agree(world, failure, code: code)
        let shared = try world.broadcast(string: found.map { "\($0.folder)\n" + String(decoding: try $0.manifest.encoded(), as: UTF8.self) } ?? "",
                                         root: 0)
        guard let newline = shared.firstIndex(of: "\n") else { return nil }
        return (String(shared[..<newline]),
                try CheckpointManifest.decode(Data(shared[shared.index(after: newline)...].utf8), path: "manifest"))
    }
}
