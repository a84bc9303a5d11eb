import Foundation
import Testing

/// Training across hosts, on this one machine: three simulated hosts `h1`, `h2`, `h3` made by
/// `launch/netns-hosts` (network namespaces joined by veth pairs to a bridge in a fourth namespace,
/// addresses in 10.213.7.0/24 that exist only inside them, each host with its own host name, hosts
/// file and temporary folder). `launch/tessera-run` runs inside `h1` and starts OpenMPI's daemons on
/// the other hosts through `launch/netns-agent` (`--rsh-agent`, in place of ssh), with TCP only
/// (`--tcp-only`) on that subnet (`--net`).
///
/// 4 ranks on h1:1, h2:1, h3:2 with tp = 2 (so dp = 2): ranks 0 (h1) and 1 (h2) form a tensor-
/// parallel group, ranks 0 (h1) and 2 (h3) a data-parallel one, so both kinds of traffic cross
/// hosts. Needs root and network namespaces; where the machine forbids them the tests say so and are
/// skipped (with TESSERA_REQUIRE_NETNS=1 they fail instead). Namespaces, processes left in them and
/// OpenMPI's session folders (in the hosts' own temporary folders) are removed afterwards, also when
/// a test fails.
@Suite(.serialized)
struct MultiHostTests {
    static let hostList = "h1:1,h2:1,h3:2"

    /// The loss curve across three hosts equals the one-host curve (shared-memory mpirun) of the
    /// same config and layout.
    @Test func trainingAcrossHostsMatchesOneHost() throws {
        let hosts = try SimulatedHosts.upOrSkip()
        defer { hosts.down() }

        // Where the ranks run: the launcher's own mapping, with /bin/sh in place of tessera.
        let probe = hosts.launch(on: "h1", options: ["-H", Self.hostList, "--program", "/bin/sh"],
                                 command: ["--", "-c", "echo \"rank $OMPI_COMM_WORLD_RANK on $(hostname)\""], timeout: 60)
        #expect(probe.status == 0, "placement probe exit \(probe.status):\n\(probe.output)")
        var hostOfRank: [Int: String] = [:]
        for line in probe.output.split(separator: "\n") where line.hasPrefix("rank ") {
            let words = line.split(separator: " ")
            if words.count == 4, let rank = Int(words[1]) { hostOfRank[rank] = String(words[3]) }
        }
        #expect(hostOfRank == [0: "h1", 1: "h2", 2: "h3", 3: "h3"], "placement: \(hostOfRank):\n\(probe.output)")
        // tp groups {0,1} {2,3}, dp groups {0,2} {1,3} (Layout: tp fastest, then dp).
        #expect(hostOfRank[0] != nil && hostOfRank[0] != hostOfRank[1], "tensor-parallel group {0,1} stays on one host")
        #expect(hostOfRank[0] != nil && hostOfRank[0] != hostOfRank[2], "data-parallel group {0,2} stays on one host")

        let runDir = Tessera.temporaryDirectory("multihost")
        defer { try? FileManager.default.removeItem(at: runDir) }
        let started = Date()
        let job = hosts.launch(on: "h1", options: ["-H", Self.hostList],
                               command: Self.trainArguments(runDir: runDir, overrides: ["parallel.tp=2"]), timeout: 120)
        let seconds = Date().timeIntervalSince(started)
        let run = TesseraRun(status: job.status, stdout: job.output, stderr: job.output, runDir: runDir)
        #expect(job.status == 0, "multi-host job exit \(job.status):\n\(job.output)")
        // The launch line: TCP only, on the hosts' subnet, daemons through the agent.
        let launchLine = job.output.split(separator: "\n").first { $0.hasPrefix("tessera-run: ") && $0.contains(" mpirun ") }
            .map(String.init) ?? ""
        for expected in ["--mca btl tcp\\,self", "--mca btl_tcp_if_include \(SimulatedHosts.subnet).0/24",
                         "--mca oob_tcp_if_include \(SimulatedHosts.subnet).0/24", "--mca plm_rsh_agent ",
                         "-H h1:1\\,h2:1\\,h3:2"] {
            #expect(launchLine.contains(expected), "launch line lacks '\(expected)': \(launchLine)")
        }
        #expect(job.output.contains("tessera: 4 ranks = dp 2 × pp 1 × tp 2"), "layout line missing:\n\(job.output)")

        let reference = Tessera.train(np: 4, overrides: ["parallel.tp=2"], label: "multihost-ref")
        defer { try? FileManager.default.removeItem(at: reference.runDir) }
        expectSameCurve(run, as: reference, steps: 12, tolerance: 2e-4)
        print("MultiHostTests: 4 ranks on 3 hosts trained 12 steps in \(String(format: "%.1f", seconds)) s; "
              + "max relative loss difference from one host: \(maxRelativeDifference(run.losses, reference.losses))")
    }

    /// A host cut off mid-run (its link down) ends the job within seconds with a message; the
    /// launcher restarts it once the host is back, resuming from the newest checkpoint, and the run
    /// completes on the same curve as an uninterrupted one.
    @Test func partitionEndsTheJobAndARestartResumes() throws {
        let hosts = try SimulatedHosts.upOrSkip()
        defer { hosts.down() }
        let steps = 60
        let runDir = Tessera.temporaryDirectory("multihost-partition")
        defer { try? FileManager.default.removeItem(at: runDir) }
        let overrides = ["parallel.tp=2", "train.steps=\(steps)", "checkpoint.every=2"]
        let job = hosts.start(on: "h1",
                              options: ["-H", Self.hostList, "--node-timeout", "6", "--restarts", "2", "--restart-delay", "3"],
                              command: Self.trainArguments(runDir: runDir, overrides: overrides))
        defer { job.stop() }
        let metrics = runDir.appendingPathComponent("metrics.jsonl")
        let logged = waitUntil(timeout: 60) {
            ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").split(separator: "\n").count >= 5
        }
        try #require(logged, "the job logged fewer than 5 steps in 60 s:\n\(job.output)")

        try hosts.link("h3", up: false)
        let cut = Date()
        let restartLine = waitUntil(timeout: 45) { job.output.contains("tessera-run: restart 1/2") }
        let ended = Date().timeIntervalSince(cut)
        try hosts.link("h3", up: true)
        try #require(restartLine, "no restart within 45 s of cutting h3 off (the job hangs?):\n\(job.output)")
        #expect(ended < 20, "the job took \(ended) s to end after the partition")

        let line = job.output.split(separator: "\n").first { $0.contains("tessera-run: restart 1/2") }.map(String.init) ?? ""
        // "restart 1/2 in 3 s after exit N (...); resuming from step S (RUN/checkpoints/step_0000000S)"
        #expect(line.contains(" after exit ") || line.contains(" after signal "), "restart line without a cause: \(line)")
        let resumedStep = line.range(of: "resuming from step ").flatMap { range in
            Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(resumedStep.map { $0 >= 4 && $0 % 2 == 0 } == true, "restart line names no checkpoint step: \(line)")

        let status = job.wait(timeout: 90)
        #expect(status == 0, "after the restart the job ended with \(status.map(String.init) ?? "a timeout"):\n\(job.output)")
        if let step = resumedStep {
            #expect(job.output.contains("checkpoints/step_\(String(format: "%08d", step)) (step \(step))"),
                    "tessera did not resume from step \(step):\n\(job.output)")
        }
        let run = TesseraRun(status: status ?? 124, stdout: job.output, stderr: job.output, runDir: runDir)
        let reference = Tessera.train(np: 4, overrides: ["parallel.tp=2", "train.steps=\(steps)"],
                                      label: "multihost-partition-ref")
        defer { try? FileManager.default.removeItem(at: reference.runDir) }
        expectSameCurve(run, as: reference, steps: steps, tolerance: 2e-4)
        print("MultiHostTests: partition of h3 ended the job in \(String(format: "%.1f", ended)) s "
              + "(--node-timeout 6); restarted from step \(resumedStep.map(String.init) ?? "?") and completed; "
              + "max relative loss difference from an uninterrupted one-host run: "
              + "\(maxRelativeDifference(run.losses, reference.losses))")
    }

    /// `tessera train` arguments for the tiny model, as `Tessera.train` builds them.
    static func trainArguments(runDir: URL, overrides: [String]) -> [String] {
        let config = runDir.appendingPathComponent("empty.toml")
        _ = FileManager.default.createFile(atPath: config.path, contents: Data())
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        var arguments = ["train", "--config", config.path, "--set", "run.dir=\(runDir.path)", "--set", "data.path=\(data)"]
        for override in Tessera.tinyModel + overrides { arguments += ["--set", override] }
        return arguments
    }
}

private func maxRelativeDifference(_ curve: [Int: Double], _ reference: [Int: Double]) -> Double {
    reference.compactMap { step, value in curve[step].map { abs($0 - value) / abs(value) } }.max() ?? .nan
}

/// Polls `condition` every 0.1 s until it holds (true) or `timeout` seconds pass (false).
private func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return condition()
}

/// Network namespaces are not available here: the reason, for skipping.
private struct NamespacesUnavailable: Error, CustomStringConvertible {
    let description: String
}

/// Three hosts made by `launch/netns-hosts up`; `down()` removes them with everything still
/// running in them and their state folder (hosts file, temporary folders, OpenMPI sessions).
private final class SimulatedHosts {
    static let subnet = "10.213.7"
    static let names = ["h1", "h2", "h3"]
    static var script: String { packageRoot.appendingPathComponent("launch/netns-hosts").path }
    static var agent: String { packageRoot.appendingPathComponent("launch/netns-agent").path }
    static var launcher: String { packageRoot.appendingPathComponent("launch/tessera-run").path }

    let directory: URL

    private init(directory: URL) {
        self.directory = directory
    }

    /// Creates the hosts, or skips the test (fails it with TESSERA_REQUIRE_NETNS=1) saying why.
    static func upOrSkip() throws -> SimulatedHosts {
        do {
            return try up()
        } catch let unavailable as NamespacesUnavailable {
            let message = "network namespaces are not available here, so the multi-host test is skipped: \(unavailable)"
            if ProcessInfo.processInfo.environment["TESSERA_REQUIRE_NETNS"] == "1" {
                Issue.record(Comment(rawValue: message))
                throw unavailable
            }
            print("MultiHostTests: \(message)")
            try Test.cancel(Comment(rawValue: message))
        }
    }

    private static func up() throws -> SimulatedHosts {
        guard getuid() == 0 else { throw NamespacesUnavailable(description: "not root") }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-netns-\(UUID().uuidString.prefix(8))")
        let hosts = SimulatedHosts(directory: directory)
        let result = HostJob.run([script, "up", directory.path] + names,
                                 environment: ["TESSERA_NETNS_SUBNET": subnet], timeout: 30)
        guard result.status == 0 else {
            hosts.down()
            if result.output.contains("namespaces unavailable") {
                throw NamespacesUnavailable(description: result.output.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            Issue.record("launch/netns-hosts up failed (exit \(result.status)):\n\(result.output)")
            throw NamespacesUnavailable(description: "setup failed")
        }
        return hosts
    }

    func down() {
        let result = HostJob.run([Self.script, "down", directory.path], timeout: 30)
        if result.status != 0 || FileManager.default.fileExists(atPath: directory.path) {
            Issue.record("launch/netns-hosts down failed (exit \(result.status)):\n\(result.output)")
        }
    }

    /// Takes `host`'s network link down (a partition) or back up.
    func link(_ host: String, up: Bool) throws {
        let result = HostJob.run([Self.script, "link", directory.path, host, up ? "up" : "down"], timeout: 30)
        try #require(result.status == 0, "link \(host) \(up ? "up" : "down"): \(result.output)")
    }

    /// Starts `launch/tessera-run OPTIONS --net SUBNET --tcp-only --rsh-agent AGENT COMMAND...`
    /// inside `host`, with the built tessera.
    func start(on host: String, options: [String], command: [String]) -> HostJob {
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("OMPI_") && !key.hasPrefix("PMIX_") && !key.hasPrefix("TESSERA_")
        }
        environment["TESSERA_BIN"] = Tessera.executable.path
        environment["TESSERA_SKIP_INSTALL"] = "1"
        environment["TESSERA_NETNS_DIR"] = directory.path
        let arguments = [Self.script, "exec", directory.path, host, Self.launcher] + options
            + ["--net", "\(Self.subnet).0/24", "--tcp-only", "--rsh-agent", Self.agent] + command
        return HostJob(arguments, environment: environment, replacingEnvironment: true)
    }

    /// `start`, then waits for the end (stopped after `timeout` seconds: status 124).
    func launch(on host: String, options: [String], command: [String], timeout: Double) -> (status: Int32, output: String) {
        let job = start(on: host, options: options, command: command)
        let status = job.wait(timeout: timeout)
        if status == nil { job.stop() }
        return (status ?? 124, job.output + (status == nil ? "\nMultiHostTests: stopped after \(timeout) s\n" : ""))
    }
}

/// A child process with standard output and error going to one file (never a pipe that could
/// fill), started with no signals blocked so that a TERM reaches it.
private final class HostJob {
    private let process = Process()
    private let folder: URL
    private let outputFile: URL
    private let handle: FileHandle?
    private let finished = DispatchSemaphore(value: 0)
    private var exited = false
    private var startError: String?

    init(_ arguments: [String], environment: [String: String], replacingEnvironment: Bool = false) {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-hostjob-\(UUID().uuidString)")
        outputFile = folder.appendingPathComponent("output")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: Data())
        handle = try? FileHandle(forWritingTo: outputFile)
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = replacingEnvironment ? environment
            : ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        process.terminationHandler = { [finished] _ in finished.signal() }
        do {
            try runWithSignalsUnblocked(process)
        } catch {
            startError = "cannot start \(arguments[0]): \(error)"
            exited = true
            finished.signal()
        }
    }

    deinit {
        try? handle?.close()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs `arguments` to the end (status 124 after `timeout` seconds) and returns its output.
    static func run(_ arguments: [String], environment: [String: String] = [:],
                    timeout: Double) -> (status: Int32, output: String) {
        let job = HostJob(arguments, environment: environment)
        let status = job.wait(timeout: timeout)
        if status == nil { job.stop() }
        return (status ?? 124, job.output)
    }

    /// Everything written so far.
    var output: String {
        let text = String(decoding: (try? Data(contentsOf: outputFile)) ?? Data(), as: UTF8.self)
        return startError.map { text + $0 } ?? text
    }

    /// The exit status (128 + N for signal N), or nil when still running after `timeout` seconds.
    func wait(timeout: Double) -> Int32? {
        if !exited {
            guard finished.wait(timeout: .now() + timeout) == .success else { return nil }
            exited = true
        }
        if startError != nil { return 127 }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Stops the process if it still runs: TERM (the launcher passes it to mpirun), then KILL.
    func stop() {
        guard !exited, process.isRunning else { return }
        process.terminate()
        if wait(timeout: 10) == nil {
            kill(process.processIdentifier, SIGKILL)
            _ = wait(timeout: 10)
        }
    }
}
