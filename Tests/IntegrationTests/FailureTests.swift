import Foundation
import Testing

/// No hangs: a rank killed ends the job within seconds, and `launch/tessera-run --restarts` finishes
/// the run from the newest checkpoint; a stopped rank is named by the watchdog.
@Suite(.serialized)
struct FailureTests {
    /// Slow enough (a few seconds) to be hit mid-run, checkpointing often.
    static let longRun = ["train.steps=300", "checkpoint.every=20", "train.log_every=1", "model.n_embd=64",
                          "model.block_size=32"]

    static func arguments(_ runDir: URL, _ overrides: [String]) -> [String] {
        let config = runDir.appendingPathComponent("empty.toml")
        _ = FileManager.default.createFile(atPath: config.path, contents: Data())
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        return ["train", "--config", config.path, "--set", "run.dir=\(runDir.path)", "--set", "data.path=\(data)"]
            + (Tessera.tinyModel + overrides).flatMap { ["--set", $0] }
    }

    /// Waits (up to 2 minutes) until the run in `runDir` has logged `step` rows.
    static func waitForStep(_ step: Int, in runDir: URL) -> Bool {
        let metrics = runDir.appendingPathComponent("metrics.jsonl")
        let start = Date()
        while Date().timeIntervalSince(start) < 120 {
            let rows = (try? String(contentsOf: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0
            if rows >= step { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// Pids of the processes whose command line satisfies `matches`.
    static func processes(_ matches: (Substring) -> Bool) -> [Int32] {
        let ps = Process()
        ps.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ps.arguments = ["ps", "-eo", "pid=,args="]
        let pipe = Pipe()
        ps.standardOutput = pipe
        try? ps.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ps.waitUntilExit()
        return listing.split(separator: "\n").filter(matches)
            .compactMap { Int32($0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) }
    }

    /// Waits until the run has logged `step`, then sends `signal` to the rank process of `runDir`
    /// with the highest pid (not rank 0's, in practice); returns its pid and when it was signalled.
    static func signalRank(of runDir: URL, afterStep step: Int, _ signal: Int32) -> (pid: Int32, at: Date)? {
        _ = waitForStep(step, in: runDir)
        let ranks = processes {
            $0.contains("/tessera train") && $0.contains("run.dir=\(runDir.path)") && !$0.contains("mpirun")
        }
        guard let victim = ranks.max() else { return nil }
        kill(victim, signal)
        return (victim, Date())
    }

    @Test func aKilledRankEndsTheJobAndRestartsFinishTheRun() throws {
        let reference = Tessera.train(np: 2, overrides: Self.longRun, label: "kill-ref")
        #expect(reference.status == 0, "\(reference.stderr)")

        // Without restarts: the job ends within 30 s of the kill, with a failure status.
        let alone = Tessera.temporaryDirectory("kill-alone")
        var killed: (pid: Int32, at: Date)?
        let ended = runMPI(np: 2, executable: Tessera.executable, arguments: Self.arguments(alone, Self.longRun), timeout: 180) {
            killed = Self.signalRank(of: alone, afterStep: 30, SIGKILL)
        }
        let seconds = Date().timeIntervalSince(try #require(killed).at)
        #expect(ended.status != 0)
        #expect(seconds < 30, "the job took \(seconds) s to end after a rank was killed")

        // With --restarts 2 the launcher starts the job again from the newest checkpoint.
        let restarted = Tessera.temporaryDirectory("kill-restart")
        let launcher = packageRoot.appendingPathComponent("launch/tessera-run").path
        let run = runCommand([launcher, "-np", "2", "--restarts", "2"] + Self.arguments(restarted, Self.longRun),
                             environment: ["TESSERA_BIN": Tessera.executable.path, "TESSERA_SKIP_INSTALL": "1"],
                             timeout: 300) {
            _ = Self.signalRank(of: restarted, afterStep: 50, SIGKILL)
        }
        #expect(run.status == 0, "\(run.stderr)")
        let final = TesseraRun(status: run.status, stdout: run.stdout, stderr: run.stderr, runDir: restarted)
        let (a, b) = (final.losses[300] ?? .nan, reference.losses[300] ?? .nan)
        #expect(abs(a - b) <= 3e-4 * abs(b), "final loss \(a) vs uninterrupted \(b)")
        #expect(run.stderr.contains("resuming from"), "the restart resumed from a checkpoint: \(run.stderr)")
    }

    /// A rank stopped with SIGSTOP: the watchdog (deadline 3 s here) names it and the job ends.
    @Test func theWatchdogNamesAStoppedRank() throws {
        let dir = Tessera.temporaryDirectory("watchdog")
        var stopped: (pid: Int32, at: Date)?
        let run = runMPI(np: 2, executable: Tessera.executable, arguments: Self.arguments(dir, Self.longRun),
                         environment: ["TESSERA_WATCHDOG_SECONDS": "3"], timeout: 120) {
            stopped = Self.signalRank(of: dir, afterStep: 20, SIGSTOP)
        }
        if let pid = stopped?.pid { kill(pid, SIGCONT); kill(pid, SIGKILL) }
        let seconds = Date().timeIntervalSince(try #require(stopped).at)
        #expect(run.status != 0)
        #expect(seconds < 30, "ended \(seconds) s after the stop")
        let report = run.stderr.split(separator: "\n").first { $0.contains("watchdog:") }.map(String.init) ?? ""
        #expect(report.contains("has not completed within 3 s") && report.contains("did not arrive: rank 1"), "\(run.stderr)")
    }
}
