import Foundation
import Testing

/// A run never writes over checkpoints it did not make in this attempt: a run directory whose
/// `latest` is missing or damaged continues from its newest complete checkpoint, a start that
/// would overwrite newer checkpoints is refused, and two runs never share one run directory.
@Suite(.serialized)
struct RunDirectoryTests {
    /// A finished 2-rank run with checkpoints at steps 5 and 10, every step logged.
    static let finished: TesseraRun = Tessera.train(np: 2, overrides: ["train.steps=10", "checkpoint.every=5"],
                                                    label: "rundir-finished")

    /// A copy of the finished run's directory to damage.
    static func copyOfFinished(_ label: String) throws -> URL {
        try #require(finished.status == 0, "\(finished.stderr)")
        let dir = Tessera.temporaryDirectory(label).appendingPathComponent("run")
        try FileManager.default.copyItem(at: finished.runDir, to: dir)
        return dir
    }

    /// Every file under the checkpoint folders, by relative path.
    static func checkpointFiles(_ dir: URL) throws -> [String: Data] {
        let root = dir.appendingPathComponent("checkpoints")
        var files: [String: Data] = [:]
        for folder in ["step_00000005", "step_00000010"] {
            let path = root.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: path.path) {
                files[folder + "/" + name] = try Data(contentsOf: path.appendingPathComponent(name))
            }
        }
        return files
    }

    struct Damage: CustomTestStringConvertible, Sendable {
        let name: String
        let apply: @Sendable (URL) throws -> Void
        var testDescription: String { name }
    }

    static let damagedLatest: [Damage] = [
        Damage(name: "latest deleted") { try FileManager.default.removeItem(at: $0) },
        Damage(name: "latest a dangling symbolic link") {
            try FileManager.default.removeItem(at: $0)
            try FileManager.default.createSymbolicLink(atPath: $0.path, withDestinationPath: "/nonexistent/step_00000010")
        },
        Damage(name: "latest naming a missing folder") { try "step_00000099\n".write(to: $0, atomically: true, encoding: .utf8) },
        Damage(name: "latest holding garbage") { try Data([0xFF, 0x00, 0x2F, 0x2E]).write(to: $0) },
        Damage(name: "latest a step behind (crash between manifest and latest)") {
            try "step_00000005\n".write(to: $0, atomically: true, encoding: .utf8)
        },
    ]

    /// Before: a missing or dangling `latest` restarted at step 1 over intact checkpoints (exit 0),
    /// one naming a missing folder was refused, garbage exited 1.
    @Test(arguments: damagedLatest)
    func aDamagedLatestContinuesFromTheNewestCompleteCheckpoint(_ damage: Damage) throws {
        let dir = try Self.copyOfFinished("rundir-latest")
        let before = try Self.checkpointFiles(dir)
        try damage.apply(dir.appendingPathComponent("checkpoints/latest"))
        let run = Tessera.train(np: 2, overrides: ["train.steps=12", "checkpoint.every=5"], label: "rundir-latest-run",
                                runDir: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("newest complete checkpoint is step_00000010"), "\(run.stderr)")
        #expect(run.stderr.contains("resuming from"), "\(run.stderr)")
        for step in 1...10 {
            #expect(run.losses[step] == Self.finished.losses[step], "step \(step) was trained again")
        }
        #expect(run.losses.count == 12)
        #expect(try Self.checkpointFiles(dir) == before, "the earlier checkpoints were rewritten")
        let latest = try String(contentsOf: dir.appendingPathComponent("checkpoints/latest"), encoding: .utf8)
        #expect(latest == "step_00000012\n")
    }

    /// Before: `--resume never` started over and overwrote both checkpoints and model.h5, exit 0.
    @Test func startingOverAboveNewerCheckpointsIsRefused() throws {
        let dir = try Self.copyOfFinished("rundir-never")
        let before = try Self.checkpointFiles(dir)
        let run = Tessera.train(np: 2, overrides: ["train.steps=12", "checkpoint.every=5"], label: "rundir-never-run",
                                runDir: dir, extraArguments: ["--resume", "never"])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("step_00000010"), "\(run.stderr)")
        #expect(try Self.checkpointFiles(dir) == before)
        #expect(run.losses == Self.finished.losses, "metrics.jsonl was rewritten")
    }

    /// Before: resuming step 10 with train.steps = 3 exited 0 and labelled the step-10 weights as step 3.
    @Test func aCheckpointPastTrainStepsIsRefused() throws {
        let dir = try Self.copyOfFinished("rundir-past")
        let run = Tessera.train(np: 2, overrides: ["train.steps=3"], label: "rundir-past-run", runDir: dir)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("train.steps = 3"), "\(run.stderr)")
    }

    /// A `latest` left with no complete checkpoint beside it means the checkpoints were removed:
    /// refused rather than started over. Before: exit 2 or 1 depending on what `latest` held.
    @Test func aLatestWithoutCheckpointsIsRefused() throws {
        let dir = try Self.copyOfFinished("rundir-orphan")
        for folder in ["step_00000005", "step_00000010"] {
            try FileManager.default.removeItem(at: dir.appendingPathComponent("checkpoints/\(folder)/manifest.json"))
        }
        let run = Tessera.train(np: 2, overrides: ["train.steps=12"], label: "rundir-orphan-run", runDir: dir)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("no complete checkpoint"), "\(run.stderr)")
    }

    /// Before: a folder at `latest` printed a Foundation error dump.
    @Test func aFolderAtLatestIsRefusedInOneLine() throws {
        let dir = try Self.copyOfFinished("rundir-latestdir")
        let latest = dir.appendingPathComponent("checkpoints/latest")
        try FileManager.default.removeItem(at: latest)
        try FileManager.default.createDirectory(at: latest, withIntermediateDirectories: false)
        let run = Tessera.train(np: 2, overrides: ["train.steps=12"], label: "rundir-latestdir-run", runDir: dir)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("latest is a folder"), "\(run.stderr)")
        #expect(!run.stderr.contains("NSCocoaErrorDomain"))
    }

    /// Before: a file at run.dir, or at its checkpoints folder, exited 1 with a Foundation dump.
    @Test(arguments: ["", "checkpoints"])
    func aFileWhereAFolderBelongsIsRefusedBeforeTraining(_ inside: String) throws {
        let dir = Tessera.temporaryDirectory("rundir-file").appendingPathComponent("run")
        let file = inside.isEmpty ? dir : dir.appendingPathComponent(inside)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: file)
        // `--check` finds it too, creating nothing.
        for extra in [[], ["--check"]] {
            let run = Tessera.train(np: 2, label: "rundir-file-run", runDir: dir, extraArguments: extra)
            #expect(run.status == 2, "\(extra): \(run.stderr)")
            #expect(run.errorLines.count == 1 && run.errorLines[0].contains("is a file, not a folder"), "\(run.stderr)")
            #expect(!run.stderr.contains("NSCocoaErrorDomain"))
        }
    }

    /// Before: a second run on the same run.dir trained too, both exited 0 and their files mixed.
    /// The second is refused naming the first (and so is `--check`); once the first is killed, its
    /// lock goes with it and a third run starts (a stale lock file blocks nothing).
    @Test func aSecondRunOnALockedRunDirectoryIsRefusedAndALockDiesWithItsHolder() throws {
        let dir = Tessera.temporaryDirectory("rundir-lock").appendingPathComponent("run")
        let lock = dir.appendingPathComponent("tessera.lock")
        var second: TesseraRun?, checked: TesseraRun?
        var holder = ""
        let first = Tessera.train(np: 2, overrides: ["train.steps=99999999"], label: "rundir-lock-first", runDir: dir,
                                  timeout: 300) {
            // Wait until the first run is training (it has logged a step), then start the second.
            let metrics = dir.appendingPathComponent("metrics.jsonl")
            let deadline = Date().addingTimeInterval(240)
            while Date() < deadline, ((try? Data(contentsOf: metrics))?.count ?? 0) == 0 { usleep(100_000) }
            holder = (try? String(contentsOf: lock, encoding: .utf8)) ?? ""
            second = Tessera.train(np: 2, overrides: ["train.steps=3", "run.seed=7"], label: "rundir-lock-second", runDir: dir)
            checked = Tessera.train(np: 1, label: "rundir-lock-check", runDir: dir, extraArguments: ["--check"])
            // The holder's pid is the lock file's second word: kill it as a crash would.
            if let pid = holder.split(separator: " ").dropFirst().first.flatMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        #expect(first.status != 0 && first.status != 124, "the first run should die by the kill: \(first.status)")
        let refused = try #require(second)
        #expect(holder.hasPrefix("pid "), "lock file: \(holder)")
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.errorLines.count == 1 && refused.errorLines[0].contains("in use by another run")
                && refused.errorLines[0].contains(holder.split(separator: ",").first.map(String.init) ?? "?"),
                "\(refused.stderr)")
        // `--check` looks for a live holder too, creating nothing.
        let check = try #require(checked)
        #expect(check.status == 2 && check.errorLines.count == 1 && check.errorLines[0].contains("in use by another run"),
                "\(check.stderr)")
        let third = Tessera.train(np: 2, overrides: ["train.steps=3"], label: "rundir-lock-third", runDir: dir)
        #expect(third.status == 0, "\(third.stderr)")
    }
}
