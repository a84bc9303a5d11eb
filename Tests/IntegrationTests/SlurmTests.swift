import Foundation
import Testing

/// `launch/slurm/tessera.sbatch` under a real Slurm: a one-node cluster of this machine's own
/// daemons (munged, slurmctld, slurmd) with its configuration, state and logs in a temporary
/// folder, trains the tiny model through `sbatch --wait`, and the loss curve must equal a plain
/// `mpirun -np 2` run of the same config.
///
/// Needs root (slurmd starts jobs as the submitting user) and the Debian package slurm-wlm, which
/// is installed when missing (apt-get). Where Slurm cannot be installed or its daemons cannot
/// start, the test says why and is skipped; with TESSERA_REQUIRE_SLURM=1 it fails instead.
@Suite(.serialized)
struct SlurmTests {
    static let steps = 6

    @Test(arguments: ["srun", "mpirun"])
    func sbatchTrainsLikePlainMpirun(launcher: String) throws {
        let cluster = try SlurmCluster.startOrSkip()
        defer { cluster.stop() }

        let runDir = Tessera.temporaryDirectory("slurm-\(launcher)")
        defer { try? FileManager.default.removeItem(at: runDir) }
        let job = cluster.submit(tesseraTrain(runDir: runDir), launcher: launcher, tasks: 2)
        #expect(job.status == 0, "sbatch --wait exit \(job.status) (launcher \(launcher)):\n\(job.report)")
        let run = TesseraRun(status: job.status, stdout: job.output, stderr: job.output, runDir: runDir)

        // The right launcher started one world of two ranks (not two worlds of one).
        let launchLine = job.output.split(separator: "\n").first { $0.hasPrefix("tessera.sbatch: ") && $0.contains("/tessera train ") }
        #expect(launchLine?.contains(launcher == "srun" ? " srun --mpi=pmix " : " mpirun ") == true,
                "launch line: \(launchLine ?? "none"):\n\(job.report)")
        let worldLines = job.output.split(separator: "\n").filter { $0.hasPrefix("tessera: ") && $0.contains(" = dp ") }
        #expect(worldLines.count == 1 && worldLines.first?.hasPrefix("tessera: 2 ranks = dp 2 ") == true,
                "world size lines: \(worldLines):\n\(job.report)")

        // It trained: every step logged, loss down overall.
        let losses = run.losses
        #expect(losses.keys.sorted() == Array(1...Self.steps), "train rows: \(losses.keys.sorted()):\n\(job.report)")
        if let first = losses[1], let last = losses[Self.steps] {
            #expect(last < first - 0.05, "loss went \(first) → \(last)")
        }

        // The same curve as plain mpirun on the same layout.
        let reference = Tessera.train(np: 2, overrides: ["train.steps=\(Self.steps)"], label: "slurm-ref-\(launcher)")
        defer { try? FileManager.default.removeItem(at: reference.runDir) }
        expectSameCurve(run, as: reference, steps: Self.steps, tolerance: 2e-4)
        let difference = (1...Self.steps).compactMap { step -> Double? in
            guard let a = losses[step], let b = reference.losses[step] else { return nil }
            return abs(a - b)
        }.max() ?? .nan
        print("SlurmTests[\(launcher)]: job wall \(String(format: "%.1f", job.seconds)) s "
              + "(cluster up in \(String(format: "%.1f", cluster.startSeconds)) s), "
              + "max |loss - plain mpirun| = \(difference)")
    }

    /// Bad input fails the job with tessera's exit 2 and one `error:` line, through srun.
    @Test func badConfigExitsTwoThroughSrun() throws {
        let cluster = try SlurmCluster.startOrSkip()
        defer { cluster.stop() }
        let runDir = Tessera.temporaryDirectory("slurm-bad")
        defer { try? FileManager.default.removeItem(at: runDir) }
        let job = cluster.submit(tesseraTrain(runDir: runDir) + ["--set", "model.no_such_key=1"], launcher: "srun",
                                 tasks: 2)
        #expect(job.status == 2, "sbatch --wait exit \(job.status), expected 2:\n\(job.report)")
        let errors = job.output.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors.first?.contains("no_such_key") == true, "error lines: \(errors):\n\(job.report)")
    }

    /// `tessera train` arguments for the tiny model, as `Tessera.train` builds them.
    private func tesseraTrain(runDir: URL) -> [String] {
        let config = runDir.appendingPathComponent("empty.toml")
        _ = FileManager.default.createFile(atPath: config.path, contents: Data())
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        var arguments = ["train", "--config", config.path, "--set", "run.dir=\(runDir.path)", "--set", "data.path=\(data)"]
        for override in Tessera.tinyModel + ["train.steps=\(Self.steps)"] { arguments += ["--set", override] }
        return arguments
    }
}

/// Slurm is not usable on this machine (not installed and not installable, not root, daemons do
/// not start): the reason, for skipping.
private struct SlurmUnavailable: Error, CustomStringConvertible {
    let description: String
}

/// A finished `sbatch --wait` job.
private struct SlurmJob {
    let status: Int32
    /// sbatch's own output.
    let submitOutput: String
    /// The job's output file (standard output and error of the batch script and every task).
    let output: String
    let seconds: Double
    let logs: String

    var report: String {
        "--- sbatch:\n\(submitOutput)\n--- job output:\n\(output)\n\(logs)"
    }
}

/// One node of Slurm on this machine: munged, slurmctld and slurmd started in the foreground as
/// children of this process, everything under one temporary folder. `stop()` ends them by PID and
/// removes the folder.
private final class SlurmCluster {
    let directory: URL
    private(set) var startSeconds: Double = 0
    /// For the Slurm commands and the jobs: this process's environment without inherited MPI,
    /// PMIx or Slurm state, plus SLURM_CONF.
    let environment: [String: String]
    private var daemons: [Child] = []
    private let tools: [String: String]

    /// Starts a cluster, or skips the test (fails it with TESSERA_REQUIRE_SLURM=1) with the reason.
    static func startOrSkip() throws -> SlurmCluster {
        do {
            return try SlurmCluster()
        } catch let unavailable as SlurmUnavailable {
            let message = "Slurm cannot run here, so the Slurm test is skipped: \(unavailable)"
            if ProcessInfo.processInfo.environment["TESSERA_REQUIRE_SLURM"] == "1" {
                throw SlurmUnavailable(description: message + " (and TESSERA_REQUIRE_SLURM=1 requires it)")
            }
            print("SlurmTests: \(message)")
            try Test.cancel(Comment(rawValue: message))
        }
    }

    private init() throws {
        let started = Date()
        guard getuid() == 0 else {
            throw SlurmUnavailable(description: "not root (slurmd must start jobs as the submitting user)")
        }
        tools = try installSlurmIfMissing()

        let directory = Tessera.temporaryDirectory("slurm")
        self.directory = directory
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("OMPI_") && !key.hasPrefix("PMIX_") && !key.hasPrefix("SLURM_") && !key.hasPrefix("SRUN_")
                && !key.hasPrefix("SBATCH_") && !key.hasPrefix("TESSERA_")
        }
        environment["SLURM_CONF"] = directory.appendingPathComponent("slurm.conf").path
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        self.environment = environment
        var ready = false
        defer { if !ready { stop() } }

        // munged: its socket folder and every folder above it must be searchable by all (711).
        let fileManager = FileManager.default
        let munge = directory.appendingPathComponent("munge")
        for folder in ["munge", "state", "spool", "log"] {
            try fileManager.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try fileManager.setAttributes([.posixPermissions: 0o711], ofItemAtPath: directory.path)
        try fileManager.setAttributes([.posixPermissions: 0o711], ofItemAtPath: munge.path)
        let key = munge.appendingPathComponent("munge.key")
        var generator = SystemRandomNumberGenerator()
        try Data((0..<1024).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: key)
        try fileManager.setAttributes([.posixPermissions: 0o400], ofItemAtPath: key.path)
        let socket = munge.appendingPathComponent("munge.socket")
        daemons.append(try Child.start(tools["munged"]!, [
            "--foreground", "--socket=\(socket.path)", "--key-file=\(key.path)",
            "--log-file=\(munge.appendingPathComponent("munged.log").path)",
            "--pid-file=\(munge.appendingPathComponent("munged.pid").path)",
            "--seed-file=\(munge.appendingPathComponent("munged.seed").path)",
        ], environment: environment, log: directory.appendingPathComponent("log/munged.out"), name: "munged"))
        try waitFor("munged's socket", timeout: 10) { fileManager.fileExists(atPath: socket.path) }

        let host = shortHostName()
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        guard let controllerPort = freeTCPPort(), let nodePort = freeTCPPort(), controllerPort != nodePort else {
            throw SlurmUnavailable(description: "no free TCP port on 127.0.0.1 for slurmctld and slurmd")
        }
        let path = directory.path
        let conf = """
            ClusterName=tesseratest
            SlurmctldHost=\(host)(127.0.0.1)
            SlurmctldPort=\(controllerPort)
            SlurmdPort=\(nodePort)
            SlurmUser=root
            SlurmdUser=root
            AuthType=auth/munge
            CredType=cred/munge
            AuthInfo=socket=\(socket.path)
            StateSaveLocation=\(path)/state
            SlurmdSpoolDir=\(path)/spool
            SlurmctldPidFile=\(path)/slurmctld.pid
            SlurmdPidFile=\(path)/slurmd.pid
            SlurmctldLogFile=\(path)/log/slurmctld.log
            SlurmdLogFile=\(path)/log/slurmd.log
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SchedulerType=sched/builtin
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            ReturnToService=2
            MpiDefault=none
            MailProg=/bin/true
            KillWait=5
            MinJobAge=4
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            NodeName=\(host) NodeAddr=127.0.0.1 CPUs=\(cpus) State=UNKNOWN
            PartitionName=tessera Nodes=\(host) Default=YES MaxTime=INFINITE State=UP

            """
        try Data(conf.utf8).write(to: directory.appendingPathComponent("slurm.conf"))

        daemons.append(try Child.start(tools["slurmctld"]!, ["-D"], environment: environment,
                                       log: directory.appendingPathComponent("log/slurmctld.out"), name: "slurmctld"))
        daemons.append(try Child.start(tools["slurmd"]!, ["-D"], environment: environment,
                                       log: directory.appendingPathComponent("log/slurmd.out"), name: "slurmd"))
        // `idle` without a `*`: slurmd has registered and responds.
        try waitFor("the node to be idle (sinfo)", timeout: 30) {
            let state = self.command("sinfo", ["-h", "-N", "-o", "%t"], timeout: 10)
            return state.status == 0 && state.output.trimmingCharacters(in: .whitespacesAndNewlines) == "idle"
        }
        startSeconds = Date().timeIntervalSince(started)
        ready = true
    }

    /// `sbatch --wait` of launch/slurm/tessera.sbatch with `arguments` on `tasks` tasks of the node.
    func submit(_ arguments: [String], launcher: String, tasks: Int, timeout: Double = 240) -> SlurmJob {
        let started = Date()
        let outputFile = directory.appendingPathComponent("job-\(UUID().uuidString.prefix(8)).out")
        let script = packageRoot.appendingPathComponent("launch/slurm/tessera.sbatch").path
        // From the cluster's folder, so the script must find the repository by itself.
        let submitted = command("sbatch", [
            "--wait", "--nodes=1", "--ntasks-per-node=\(tasks)", "--time=10", "--output=\(outputFile.path)",
            script,
        ] + arguments, extraEnvironment: ["TESSERA_LAUNCHER": launcher, "TESSERA_BIN": Tessera.executable.path],
        timeout: timeout)
        let seconds = Date().timeIntervalSince(started)
        let output = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "(no job output file)"
        var logs = ""
        if submitted.status != 0 {
            logs = daemonLogs()
        }
        return SlurmJob(status: submitted.status, submitOutput: submitted.output, output: output, seconds: seconds,
                        logs: logs)
    }

    /// Runs a Slurm command with the cluster's environment; standard output and error together.
    func command(_ name: String, _ arguments: [String], extraEnvironment: [String: String] = [:],
                 timeout: Double) -> (status: Int32, output: String) {
        guard let tool = tools[name] else { return (127, "\(name) not found") }
        return runTool(tool, arguments, environment: environment.merging(extraEnvironment) { $1 }, directory: directory,
                          timeout: timeout)
    }

    /// The tail of every daemon log, for failure messages.
    func daemonLogs() -> String {
        let logs = ["log/munged.out", "munge/munged.log", "log/slurmctld.out", "log/slurmctld.log", "log/slurmd.out",
                    "log/slurmd.log"]
        return logs.map { name in
            let text = (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
            return "--- \(name) (last lines):\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Cancels what is still queued or running, stops the daemons (SIGTERM, then SIGKILL) by PID,
    /// newest first, and removes the folder.
    func stop() {
        if daemons.contains(where: { $0.name == "slurmctld" && $0.isRunning }) {
            let jobs = command("squeue", ["-h", "-o", "%i"], timeout: 10)
            let ids = jobs.output.split(whereSeparator: \.isWhitespace).map(String.init).filter { Int($0) != nil }
            if jobs.status == 0 && !ids.isEmpty {
                _ = command("scancel", ids, timeout: 10)
                try? waitFor("jobs to end", timeout: 15) {
                    let left = self.command("squeue", ["-h", "-o", "%i"], timeout: 10)
                    return left.status != 0 || left.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                }
            }
        }
        for daemon in daemons.reversed() {
            daemon.stop()
        }
        daemons = []
        try? FileManager.default.removeItem(at: directory)
    }

    /// Polls `condition` every 0.2 s; throws SlurmUnavailable with the logs when a daemon died or
    /// the time ran out.
    private func waitFor(_ what: String, timeout: Double, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if condition() { return }
            if let dead = daemons.first(where: { !$0.isRunning }) {
                throw SlurmUnavailable(description: "\(dead.name) exited while waiting for \(what):\n\(daemonLogs())")
            }
            if Date() > deadline {
                throw SlurmUnavailable(description: "timed out after \(timeout) s waiting for \(what):\n\(daemonLogs())")
            }
            usleep(200_000)
        }
    }
}

/// The Slurm and munge programs, installing the Debian package slurm-wlm when one is missing.
private func installSlurmIfMissing() throws -> [String: String] {
    let names = ["munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel"]
    func find() -> [String: String] {
        var found: [String: String] = [:]
        for name in names {
            if let path = findExecutable(name) { found[name] = path }
        }
        return found
    }
    var found = find()
    if found.count == names.count { return found }
    guard let aptGet = findExecutable("apt-get") else {
        throw SlurmUnavailable(description: "slurm-wlm is not installed and there is no apt-get to install it")
    }
    var environment = ProcessInfo.processInfo.environment
    environment["DEBIAN_FRONTEND"] = "noninteractive"
    let install = ["install", "-y", "-qq", "--no-install-recommends", "slurm-wlm"]
    var result = runTool(aptGet, install, environment: environment, timeout: 900)
    if result.status != 0 {
        // The package lists may be missing or stale (a fresh machine): update them once.
        _ = runTool(aptGet, ["update", "-qq"], environment: environment, timeout: 600)
        result = runTool(aptGet, install, environment: environment, timeout: 900)
    }
    found = find()
    if found.count != names.count {
        let tail = result.output.split(separator: "\n").suffix(10).joined(separator: "\n")
        throw SlurmUnavailable(description: "slurm-wlm is not installed and `apt-get install slurm-wlm` failed "
                               + "(exit \(result.status)):\n\(tail)")
    }
    return found
}

/// `name` on PATH or in the sbin folders (daemons live in /usr/sbin, often not on a user's PATH).
private func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let folders = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
    return folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// This machine's host name up to the first dot, as slurmd looks itself up in slurm.conf.
private func shortHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let name = buffer.withUnsafeMutableBufferPointer { pointer -> String in
        guard gethostname(pointer.baseAddress!, pointer.count - 1) == 0 else { return "localhost" }
        return String(cString: pointer.baseAddress!)
    }
    return String(name.split(separator: ".").first ?? "localhost")
}

/// A TCP port nothing listens on at the moment (the kernel's pick for port 0).
private func freeTCPPort() -> UInt16? {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { return nil }
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(socketFD, socketAddress, length) == 0 && getsockname(socketFD, socketAddress, &length) == 0
        }
    }
    return ok ? UInt16(bigEndian: address.sin_port) : nil
}

/// A daemon in the background with its output in a file, stopped by PID.
///
/// Started with posix_spawn rather than Foundation's `Process`: a daemon that closes every file
/// descriptor at start-up (slurmctld and slurmd do) closes the socket `Process` watches for the
/// child's exit, and `Process` then blocks in waitpid until the daemon ends, so that no other
/// `Process` in this test process is ever seen to finish.
private final class Child {
    let name: String
    let pid: pid_t
    private var exited = false

    private init(name: String, pid: pid_t) {
        self.name = name
        self.pid = pid
    }

    /// Starts `executable arguments...` with `environment`, standard input /dev/null, standard
    /// output and error appended to `log`, no other file descriptors, no signals blocked.
    static func start(_ executable: String, _ arguments: [String], environment: [String: String], log: URL,
                      name: String) throws -> Child {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // No other descriptor of this process (glibc ignores closing one that is already closed).
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        // Test threads block SIGTERM; the daemon must not inherit that, or stop() could not end it.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw SlurmUnavailable(description: "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        return Child(name: name, pid: pid)
    }

    /// Whether it still runs (reaps it when it has ended).
    var isRunning: Bool {
        if exited { return false }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid || (result < 0 && errno == ECHILD) { exited = true }
        return !exited
    }

    /// SIGTERM, then SIGKILL after 10 s; returns once the process has ended and is reaped.
    func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while isRunning && Date() < deadline { usleep(50_000) }
        guard isRunning else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        exited = true
    }
}

/// Runs `executable arguments...` with exactly `environment` to the end (stopped after `timeout` s:
/// status 124) and returns its status with standard output and error together.
private func runTool(_ executable: String, _ arguments: [String], environment: [String: String],
                     directory: URL? = nil, timeout: Double) -> (status: Int32, output: String) {
    let result = runCommand([executable] + arguments, baseEnvironment: environment, directory: directory,
                                    timeout: timeout)
    return (result.status, result.stdout + result.stderr)
}
