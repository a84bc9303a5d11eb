import Foundation
import Testing

/// `launch/sweep`: successive halving stops the worst trials at their rung; a sweep killed midway
/// and rerun launches no decided trial again and ends where an uninterrupted one does; bad input is
/// refused before any training; and the trainer property halving rests on (a run stopped early
/// continues on the full budget's schedule).
@Suite(.serialized)
struct SweepTests {
    static let sweep = packageRoot.appendingPathComponent("launch/sweep").path
    static let environment = ["TESSERA_BIN": Tessera.executable.path, "TESSERA_SKIP_INSTALL": "1"]

    /// A tiny model: 16 steps in full, evaluated and checkpointed every 4.
    static func baseConfig(in dir: URL) throws -> URL {
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        let text = """
        [data]
        path = "\(data)"
        [model]
        n_layer = 1
        n_head = 2
        n_embd = 16
        block_size = 16
        [train]
        batch_size = 8
        steps = 16
        log_every = 4
        eval_every = 4
        eval_steps = 2
        warmup_steps = 2
        [checkpoint]
        every = 4
        """
        let file = dir.appendingPathComponent("base.toml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// 4 trials with halving at eta 2: rungs of 4, 8 and 16 steps.
    static func halvingArguments(config: URL, out: URL) -> [String] {
        [sweep, "--config", config.path, "--param", "train.lr=1e-3,1e-2", "--param", "model.n_embd=16,32",
         "--halving", "--eta", "2", "--out", out.path]
    }

    /// results.csv as rows of column → value, without the columns that differ between two sweeps
    /// of the same trials (wall time, folder).
    static func results(_ out: URL) throws -> [[String: String]] {
        let lines = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = try #require(lines.first)
        return lines.dropFirst().map { values in
            Dictionary(uniqueKeysWithValues: zip(header, values).filter { $0.0 != "wall_s" && $0.0 != "dir" })
        }
    }

    static func trialFiles(_ out: URL, _ trial: String) -> (log: String, metrics: String) {
        let dir = out.appendingPathComponent("trials/\(trial)")
        return ((try? String(contentsOf: dir.appendingPathComponent("train.log"), encoding: .utf8)) ?? "",
                (try? String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "")
    }

    static func status(_ out: URL, _ trial: String) -> String? {
        let file = out.appendingPathComponent("trials/\(trial)/trial.json")
        guard let data = try? Data(contentsOf: file),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["status"] as? String
    }

    static let trials = (0..<4).map { String(format: "trial-%03d", $0) }

    @Test func halvingStopsTheWorstAndAKilledSweepResumesToTheSameResults() throws {
        let dir = Tessera.temporaryDirectory("sweep")
        let config = try Self.baseConfig(in: dir)

        let clean = dir.appendingPathComponent("clean")
        let run = runCommand(Self.halvingArguments(config: config, out: clean), environment: Self.environment, timeout: 300)
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try Self.results(clean)
        #expect(rows.count == 4)
        // 4 trials to 4 steps, the best 2 to 8, the best of those to 16.
        #expect(rows.map { "\($0["status"]!) \($0["steps"]!)" }.sorted() == ["finished 16", "stopped 4", "stopped 4", "stopped 8"],
                "\(rows)")
        for row in rows {
            let metrics = Self.trialFiles(clean, row["trial"]!).metrics
            let lastStep = metrics.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["step"] as? Int
            }.max()
            #expect(lastStep == Int(row["steps"]!), "\(row["trial"]!) trained to \(lastStep ?? 0), not \(row["steps"]!)")
        }
        let finished = try #require(rows.first { $0["status"] == "finished" })
        #expect(run.stdout.contains("best: \(finished["trial"]!)"), "\(run.stdout)")
        #expect(run.stdout.contains("--set train.lr=\(finished["train.lr"]!) --set model.n_embd=\(finished["model.n_embd"]!)"))
        try Self.expectRankedMarkdown(clean)
        let png = try Data(contentsOf: clean.appendingPathComponent("val_loss.png"))
        #expect(png.count > 1000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        #expect(try String(contentsOf: clean.appendingPathComponent("best.toml"), encoding: .utf8).contains("steps = 16"))

        // Killed (SIGKILL) once the first rung's losers are stopped, then rerun.
        let killed = dir.appendingPathComponent("killed")
        var stoppedAtKill: [String: (log: String, metrics: String)] = [:]
        let first = runCommand(Self.halvingArguments(config: config, out: killed), environment: Self.environment,
                               timeout: 300) {
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline && !Self.trials.contains(where: { Self.status(killed, $0) == "stopped" }) {
                Thread.sleep(forTimeInterval: 0.05)
            }
            for pid in FailureTests.processes({ $0.contains("launch/sweep") && $0.contains(killed.path) }) { kill(pid, SIGKILL) }
            for trial in Self.trials where Self.status(killed, trial) == "stopped" { stoppedAtKill[trial] = Self.trialFiles(killed, trial) }
        }
        #expect(first.status == 128 + SIGKILL, "\(first.stderr)")
        #expect(!stoppedAtKill.isEmpty)
        let second = runCommand(Self.halvingArguments(config: config, out: killed), environment: Self.environment, timeout: 300)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resuming the sweep"), "\(second.stderr)")
        for (trial, files) in stoppedAtKill {
            let now = Self.trialFiles(killed, trial)
            #expect(now.log == files.log && now.metrics == files.metrics, "\(trial) was run again")
        }
        #expect(try Self.results(killed) == rows, "the resumed sweep ends where the uninterrupted one does")

        // A finished sweep rerun launches nothing.
        let logs = Self.trials.map { Self.trialFiles(killed, $0) }
        let third = runCommand(Self.halvingArguments(config: config, out: killed), environment: Self.environment, timeout: 120)
        #expect(third.status == 0 && !third.stderr.contains("rung "), "\(third.stderr)")
        #expect(Self.trials.map { Self.trialFiles(killed, $0).log } == logs.map(\.log))
    }

    /// results.md: finished trials first by validation loss, then stopped ones by steps (more first)
    /// and validation loss.
    static func expectRankedMarkdown(_ out: URL) throws {
        let lines = try String(contentsOf: out.appendingPathComponent("results.md"), encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        let status = try #require(header.firstIndex(of: "status")), steps = try #require(header.firstIndex(of: "steps"))
        let loss = try #require(header.firstIndex(of: "val_loss"))
        let keys = lines.dropFirst(2).map { line in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return (cells[status] == "finished" ? 0 : 1, -(Int(cells[steps]) ?? 0), Double(cells[loss]) ?? .infinity)
        }
        #expect(keys.count == 4)
        for (a, b) in zip(keys, keys.dropFirst()) {
            #expect(a <= b, "results.md is not ranked: \(lines.joined(separator: "\n"))")
        }
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let mentions: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let badInputs = [
        Bad(arguments: ["--param", "train.lrr=1e-3,1e-2"], mentions: "train.lrr"),
        Bad(arguments: ["--param", "model.n_layer=1,two"], mentions: "model.n_layer"),
        Bad(arguments: ["--param", "train.lr="], mentions: "train.lr"),
        Bad(arguments: ["--param", "train.lr=1e-3,,1e-2"], mentions: "empty value"),
        Bad(arguments: ["--param", "train.lr"], mentions: "KEY=V1,V2"),
        Bad(arguments: ["--param", "train.lr=1e-3", "--config", "/nonexistent/base.toml"], mentions: "/nonexistent/base.toml"),
        Bad(arguments: ["--param", "model.n_head=2,3"], mentions: "n_head"),
    ]

    @Test(arguments: badInputs)
    func badInputExitsTwoWithOneLineBeforeTraining(_ bad: Bad) throws {
        let dir = Tessera.temporaryDirectory("sweep-bad")
        let out = dir.appendingPathComponent("out")
        let run = runCommand([Self.sweep, "--config", try Self.baseConfig(in: dir).path, "--out", out.path] + bad.arguments,
                             environment: Self.environment, timeout: 120)
        let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(run.status == 2, "\(run.stderr)")
        #expect(errors.count == 1 && errors[0].contains(bad.mentions), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("trials").path), "a trial started")
    }

    /// What halving rests on: a run stopped at 6 of 12 steps (`train.lr_decay_steps = 12`) and
    /// resumed with `train.steps = 12` follows the uninterrupted 12-step run's curve exactly.
    @Test func raisingStepsOnResumeContinuesTheFullBudgetCurve() {
        let full = Tessera.train(np: 1, overrides: ["train.steps=12"], label: "decay-full")
        #expect(full.status == 0, "\(full.stderr)")
        let stopped = Tessera.train(np: 1, overrides: ["train.steps=6", "train.lr_decay_steps=12"], label: "decay-stop")
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let resumed = Tessera.train(np: 1, overrides: ["train.steps=12", "train.lr_decay_steps=12"], label: "decay-stop",
                                    runDir: stopped.runDir)
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming from"), "\(resumed.stderr)")
        #expect(resumed.losses == full.losses && resumed.rows(key: "lr") == full.rows(key: "lr"),
                "\(resumed.losses) vs \(full.losses)")
    }
}
