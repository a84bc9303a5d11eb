import Foundation
import Testing

/// Sharded checkpoints under real mpirun: resuming continues the uninterrupted curve (bit for bit on
/// the same layout, within 3e-4 on another), a crash mid-save leaves the previous checkpoint in
/// force, and damaged or foreign checkpoints are refused.
@Suite(.serialized)
struct CheckpointResumeTests {
    static let twentySteps = ["train.steps=20", "checkpoint.every=10"]

    /// A fresh run directory holding only `source`'s checkpoint of `step`, named by `latest`, and
    /// its metrics up to that step: the state a run interrupted right after that save leaves.
    static func interrupted(_ source: TesseraRun, at step: Int, label: String) throws -> URL {
        let dir = Tessera.temporaryDirectory(label)
        let checkpoints = dir.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        let name = String(format: "step_%08d", step)
        try FileManager.default.copyItem(at: source.runDir.appendingPathComponent("checkpoints/\(name)"),
                                         to: checkpoints.appendingPathComponent(name))
        try (name + "\n").write(to: checkpoints.appendingPathComponent("latest"), atomically: true, encoding: .utf8)
        // All of the source's metrics: rows after the checkpoint are dropped on resume, as rows a
        // crashed run logged after its last save would be.
        try FileManager.default.copyItem(at: source.runDir.appendingPathComponent("metrics.jsonl"),
                                         to: dir.appendingPathComponent("metrics.jsonl"))
        return dir
    }

    static func resume(np: Int, from dir: URL, overrides: [String], label: String) -> TesseraRun {
        Tessera.train(np: np, overrides: twentySteps + overrides, label: label, runDir: dir)
    }

    @Test func sameLayoutResumeIsBitIdentical() throws {
        let full = Tessera.train(np: 2, overrides: Self.twentySteps, label: "ckpt-full")
        #expect(full.status == 0, "\(full.stderr)")
        let resumed = Self.resume(np: 2, from: try Self.interrupted(full, at: 10, label: "ckpt-same"), overrides: [],
                                  label: "ckpt-same-run")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming from"), "\(resumed.stderr)")
        for step in 11...20 {
            #expect(resumed.losses[step] == full.losses[step], "step \(step): \(resumed.losses[step] ?? .nan) vs \(full.losses[step] ?? .nan)")
        }
        let steps = (try? String(contentsOf: resumed.runDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8))?
            .split(separator: "\n").filter { $0.contains("\"loss\"") }.count
        #expect(steps == 20, "metrics keep steps 1–10 once and add 11–20")
    }

    struct Change: CustomTestStringConvertible, Sendable {
        let saved: (ranks: Int, overrides: [String])
        let resumed: (ranks: Int, overrides: [String])
        var testDescription: String {
            "saved \(saved.ranks) \(saved.overrides.joined(separator: " ")) → resumed \(resumed.ranks) \(resumed.overrides.joined(separator: " "))"
        }
    }

    @Test(arguments: [
        Change(saved: (2, ["parallel.tp=2"]), resumed: (2, ["parallel.pp=2", "parallel.microbatches=2"])),
        Change(saved: (2, ["parallel.tp=2"]), resumed: (2, [])),
        Change(saved: (2, ["parallel.tp=2"]), resumed: (1, [])),
        Change(saved: (2, ["model.n_experts=4", "parallel.ep=2"]), resumed: (1, ["model.n_experts=4"])),
        Change(saved: (4, ["parallel.zero=1", "parallel.tp=2"]), resumed: (2, ["parallel.pp=2", "parallel.microbatches=2"])),
        // llama parts: two kv heads copied on four tensor ranks, resumed split on two, and back.
        Change(saved: (4, ["model.family=llama", "model.n_kv_head=2", "parallel.tp=4"]),
               resumed: (2, ["model.family=llama", "model.n_kv_head=2", "parallel.tp=2"])),
        Change(saved: (2, ["model.family=llama", "model.n_kv_head=1", "parallel.pp=2", "parallel.microbatches=2"]),
               resumed: (4, ["model.family=llama", "model.n_kv_head=1", "parallel.tp=4"])),
    ])
    func anotherLayoutContinuesTheCurve(_ change: Change) throws {
        let full = Tessera.train(np: change.saved.ranks, overrides: Self.twentySteps + change.saved.overrides,
                                 label: "ckpt-layout-full")
        #expect(full.status == 0, "\(full.stderr)")
        let resumed = Self.resume(np: change.resumed.ranks, from: try Self.interrupted(full, at: 10, label: "ckpt-layout"),
                                  overrides: change.resumed.overrides, label: "ckpt-layout-run")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        for step in 11...20 {
            let (a, b) = (resumed.losses[step] ?? .nan, full.losses[step] ?? .nan)
            #expect(abs(a - b) <= 3e-4 * abs(b), "step \(step): \(a) vs uninterrupted \(b)")
        }
    }

    /// Rank 1 is killed while saving step 10: the job fails, `latest` still names step 5, and
    /// resuming from it reproduces the uninterrupted run.
    @Test func aRankKilledMidSaveLeavesThePreviousCheckpoint() throws {
        let every5 = ["train.steps=20", "checkpoint.every=5"]
        let reference = Tessera.train(np: 2, overrides: every5, label: "ckpt-kill-ref")
        let crashed = Tessera.train(np: 2, overrides: every5, label: "ckpt-kill",
                                    environment: ["TESSERA_KILL_IN_SAVE": "10:1"], timeout: 120)
        #expect(crashed.status != 0)
        let latest = try String(contentsOf: crashed.runDir.appendingPathComponent("checkpoints/latest"), encoding: .utf8)
        #expect(latest.trimmingCharacters(in: .whitespacesAndNewlines) == "step_00000005")
        let resumed = Tessera.train(np: 2, overrides: every5, label: "ckpt-kill-resume", runDir: crashed.runDir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("step_00000005"), "\(resumed.stderr)")
        for step in 6...20 { #expect(resumed.losses[step] == reference.losses[step], "step \(step)") }
    }

    /// One flipped byte: `ckpt verify` exits 1 naming the shard; resuming refuses with exit 1.
    @Test func aFlippedByteIsFoundByVerifyAndRefusedOnResume() throws {
        let run = Tessera.train(np: 2, overrides: ["train.steps=4"], label: "ckpt-flip")
        let folder = run.runDir.appendingPathComponent("checkpoints/step_00000004")
        let shard = folder.appendingPathComponent("shard_00001.h5")
        var bytes = try Data(contentsOf: shard)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: shard)
        let verify = runMPI(np: 1, executable: Tessera.executable, arguments: ["ckpt", "verify", folder.path], timeout: 60)
        #expect(verify.status == 1)
        #expect(verify.stderr.contains("shard_00001.h5"), "\(verify.stderr)")
        let resumed = Tessera.train(np: 2, overrides: ["train.steps=8"], label: "ckpt-flip-resume", runDir: run.runDir)
        #expect(resumed.status == 1, "\(resumed.stderr)")
        #expect(resumed.errorLines.count == 1 && resumed.errorLines[0].contains("shard_00001.h5"), "\(resumed.stderr)")
        #expect(resumed.losses.keys.allSatisfy { $0 <= 4 }, "no step may run")
    }

    /// A checkpoint of another model shape, or of an unknown format version: exit 2 naming it.
    @Test func foreignCheckpointsAreRefusedBeforeTraining() throws {
        let run = Tessera.train(np: 1, overrides: ["train.steps=2"], label: "ckpt-foreign")
        let wider = Tessera.train(np: 2, overrides: ["train.steps=4", "model.n_embd=64"], label: "ckpt-foreign-shape",
                                  runDir: run.runDir)
        #expect(wider.status == 2)
        #expect(wider.errorLines.count == 1 && wider.errorLines[0].contains("manifest.json"), "\(wider.stderr)")
        let manifest = run.runDir.appendingPathComponent("checkpoints/step_00000002/manifest.json")
        let text = try String(contentsOf: manifest, encoding: .utf8)
            .replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 99")
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        let future = Tessera.train(np: 2, overrides: ["train.steps=4"], label: "ckpt-foreign-version", runDir: run.runDir)
        #expect(future.status == 2)
        #expect(future.errorLines.count == 1 && future.errorLines[0].contains("format_version 99"), "\(future.stderr)")
    }

    /// `sample` and `ckpt inspect` read a checkpoint folder.
    @Test func sampleAndInspectReadACheckpoint() throws {
        let run = Tessera.train(np: 2, overrides: ["train.steps=3", "parallel.tp=2"], label: "ckpt-sample")
        let folder = run.runDir.appendingPathComponent("checkpoints/step_00000003").path
        let sample = runMPI(np: 1, executable: Tessera.executable,
                            arguments: ["sample", "--checkpoint", folder, "--tokens", "20", "--prompt", "ROMEO:"], timeout: 60)
        #expect(sample.status == 0, "\(sample.stderr)")
        #expect(sample.stdout.hasPrefix("ROMEO:") && sample.stdout.count > 20, "\(sample.stdout)")
        let inspect = runMPI(np: 1, executable: Tessera.executable, arguments: ["ckpt", "inspect", "--json", folder], timeout: 60)
        let object = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(object?["step"] as? Int == 3)
        #expect((object?["layout"] as? [String: Int])?["tp"] == 2)
        #expect((object?["tensors"] as? [[String: Any]])?.count == 28)
    }

    /// model.h5 read by h5dump alone: the same dataset names and shapes from tp = 2 as from one rank.
    @Test func modelFileHeadersMatchAcrossLayoutsInH5dump() throws {
        let single = Tessera.train(np: 1, overrides: ["train.steps=2"], label: "h5dump-1")
        let tensor = Tessera.train(np: 2, overrides: ["train.steps=2", "parallel.tp=2"], label: "h5dump-tp")
        func header(_ run: TesseraRun) -> [String] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["h5dump", "-H", run.runDir.appendingPathComponent("checkpoints/step_00000002/model.h5").path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try? process.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            // DATASET "name" and DATASPACE lines, without the file name.
            return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.hasPrefix("DATASET") || $0.hasPrefix("DATASPACE") }
        }
        let expected = header(single)
        #expect(expected.filter { $0.hasPrefix("DATASET ") }.count == 28, "\(expected)")
        #expect(header(tensor) == expected)
    }
}
