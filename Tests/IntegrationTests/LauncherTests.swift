import Foundation
import Testing

/// `launch/tessera-run` itself: bad input is refused before anything starts (exit 2, one line), and
/// a TERM to the launcher stops every rank and leaves the last complete checkpoint in force.
@Suite(.serialized)
struct LauncherTests {
    static let launcher = packageRoot.appendingPathComponent("launch/tessera-run").path
    static let environment = ["TESSERA_BIN": Tessera.executable.path, "TESSERA_SKIP_INSTALL": "1"]

    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let arguments: [String]
        let hostfile: String?
        let mentions: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        Bad(name: "unknown host", arguments: ["-H", "no-such-host.invalid:2"], hostfile: nil, mentions: "no-such-host.invalid"),
        Bad(name: "hostfile syntax error", arguments: [], hostfile: "localhost slots=2\nlocalhost slotz=x\n", mentions: "line 2"),
        Bad(name: "more ranks than slots", arguments: ["-np", "5", "-H", "localhost:2"], hostfile: nil, mentions: "slots"),
        Bad(name: "missing config", arguments: [], hostfile: nil, mentions: "/nonexistent/config.toml"),
        // Before: a 20-digit -np wrapped in bash's arithmetic and mpirun segfaulted; -np "" ran one rank.
        Bad(name: "-np past 64 bits", arguments: ["-np", "99999999999999999999"], hostfile: nil, mentions: "-np"),
        Bad(name: "-np empty", arguments: ["-np", ""], hostfile: nil, mentions: "-np"),
        Bad(name: "-np=0", arguments: ["-np=0"], hostfile: nil, mentions: "-np"),
        Bad(name: "-H slots past 64 bits", arguments: ["-H", "localhost:99999999999999999999"], hostfile: nil,
            mentions: "slots"),
        Bad(name: "hostfile slots past 64 bits", arguments: [], hostfile: "localhost slots=99999999999999999999\n",
            mentions: "line 1"),
        Bad(name: "--restarts past 64 bits", arguments: ["--restarts", "99999999999999999999"], hostfile: nil,
            mentions: "--restarts"),
    ])
    func badInputExitsTwoWithOneLine(_ bad: Bad) throws {
        var arguments = [Self.launcher] + bad.arguments
        if let text = bad.hostfile {
            let file = Tessera.temporaryDirectory("hostfile").appendingPathComponent("hosts")
            try text.write(to: file, atomically: true, encoding: .utf8)
            arguments += ["--hostfile", file.path]
        }
        let empty = Tessera.temporaryDirectory("launcher-config").appendingPathComponent("empty.toml")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        let config = bad.name == "missing config" ? "/nonexistent/config.toml" : empty.path
        arguments += ["train", "--config", config]
        // The test environment allows oversubscription (OMPI_MCA_rmaps_base_oversubscribe=1): not here.
        let run = runCommand(arguments, environment: Self.environment.merging(["OMPI_MCA_rmaps_base_oversubscribe": "0"]) { $1 },
                             timeout: 60)
        let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(run.status == 2, "\(run.stderr)")
        #expect(errors.count == 1 && errors[0].contains(bad.mentions), "\(run.stderr)")
    }

    /// A run folder and config whose path holds spaces, quotes and shell metacharacters trains on
    /// two ranks, and the launch line the launcher prints reads back, in a shell, as the very
    /// command it ran.
    @Test func awkwardPathsPassWholeAndTheLaunchLineCopiesIntoAShell() throws {
        let dir = Tessera.temporaryDirectory("launcher").appendingPathComponent("a b $(touch x);'\"*")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let arguments = [Self.launcher, "-np", "2"] + FailureTests.arguments(dir, ["train.steps=2"])
        let run = runCommand(arguments, environment: Self.environment, timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("metrics.jsonl").path))
        #expect(!FileManager.default.fileExists(atPath: dir.deletingLastPathComponent().appendingPathComponent("x").path))
        let line = try #require(run.stderr.split(separator: "\n").first { $0.hasPrefix("tessera-run: ") && $0.contains(" mpirun ") })
        let shown = String(line.dropFirst("tessera-run: ".count))
        // The words a shell makes of the line, after the variables it sets.
        let echo = runCommand(["/bin/sh", "-c", "eval \"set -- $1\"; for a in \"$@\"; do printf '%s\\n' \"$a\"; done",
                               "sh", shown], environment: [:], timeout: 30)
        let words = echo.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let command = Array(words.drop { $0 != "mpirun" })
        #expect(Array(command.suffix(FailureTests.arguments(dir, ["train.steps=2"]).count))
                == FailureTests.arguments(dir, ["train.steps=2"]), "\(shown)")
    }

    /// TERM to the launcher mid-run: it ends promptly, no rank survives, and `latest` names a
    /// complete checkpoint that verifies.
    @Test func terminatingTheLauncherStopsEveryRank() throws {
        let dir = Tessera.temporaryDirectory("launcher-term")
        var signalled: Date?
        let run = runCommand([Self.launcher, "-np", "2"] + FailureTests.arguments(dir, FailureTests.longRun),
                             environment: Self.environment, timeout: 120) {
            guard FailureTests.waitForStep(30, in: dir) else { return }
            let launcherPID = FailureTests.processes { $0.contains("tessera launch ") && $0.contains("run.dir=\(dir.path)") }.min()
            if let pid = launcherPID {
                kill(pid, SIGTERM)
                signalled = Date()
            }
        }
        let seconds = Date().timeIntervalSince(try #require(signalled))
        #expect(run.status != 0 && seconds < 30, "status \(run.status) after \(seconds) s")
        Thread.sleep(forTimeInterval: 1)
        let survivors = FailureTests.processes { $0.contains("/tessera train") && $0.contains("run.dir=\(dir.path)") }
        #expect(survivors.isEmpty, "ranks still running: \(survivors)")
        let verify = runMPI(np: 1, executable: Tessera.executable, arguments: ["ckpt", "verify", dir.path], timeout: 60)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }
}
