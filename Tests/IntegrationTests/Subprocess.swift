import Foundation

/// Runs `executable arguments...` on `np` ranks under `mpirun` as a child process and returns its
/// exit status with everything it wrote to standard output and standard error; `environment` is
/// added to the child's and forwarded to every rank.
///
/// The child gets a clean MPI environment: `OMPI_*`/`PMIX_*` variables inherited from this
/// process (set, for instance, when a test in this process initialised MPI) are removed, since a
/// nested `mpirun` that sees them hangs. Output goes to files, not pipes, so a chatty child can
/// never block on a full pipe. After `timeout` seconds the child is stopped (SIGTERM, which
/// `mpirun` forwards to its ranks, then SIGKILL) and the status is 124, as with `timeout(1)`; a
/// child killed by a signal reports 128 + the signal number.
func runMPI(np: Int, executable: URL, arguments: [String], environment: [String: String] = [:],
            timeout: Double, during: (() -> Void)? = nil) -> (status: Int32, stdout: String, stderr: String) {
    // --quiet: no mpirun banner on a non-zero exit, so a rank's own error line stands alone.
    let command = ["mpirun", "--quiet", "-np", "\(np)", "--oversubscribe", "--bind-to", "none",
                   "--mca", "mpi_yield_when_idle", "1"] + environment.keys.sorted().flatMap { ["-x", $0] }
        + [executable.path] + arguments
    return runCommand(command, environment: environment, timeout: timeout, during: during)
}

/// Runs `command` (looked up on PATH) in `directory` (default: this process's) with
/// `baseEnvironment` (default: this process's without MPI state, `mpiChildEnvironment`) plus
/// `environment`, calling `during` on this thread while it runs; stops it after `timeout` seconds
/// (status 124).
func runCommand(_ command: [String], environment: [String: String] = [:], baseEnvironment: [String: String]? = nil,
                directory: URL? = nil, timeout: Double,
                during: (() -> Void)? = nil) -> (status: Int32, stdout: String, stderr: String) {
    let outputDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("tessera-runMPI-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: outputDirectory) }
    let stdoutFile = outputDirectory.appendingPathComponent("stdout")
    let stderrFile = outputDirectory.appendingPathComponent("stderr")
    let stdoutHandle: FileHandle
    let stderrHandle: FileHandle
    do {
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        try Data().write(to: stdoutFile)
        try Data().write(to: stderrFile)
        stdoutHandle = try FileHandle(forWritingTo: stdoutFile)
        stderrHandle = try FileHandle(forWritingTo: stderrFile)
    } catch {
        return (127, "", "runMPI: cannot create output files in \(outputDirectory.path): \(error)")
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")  // finds the command on PATH, then execs it
    process.arguments = command
    process.environment = (baseEnvironment ?? mpiChildEnvironment()).merging(environment) { $1 }
    if let directory { process.currentDirectoryURL = directory }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = stdoutHandle
    process.standardError = stderrHandle
    let finished = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in finished.signal() }
    do {
        try runWithSignalsUnblocked(process)
    } catch {
        return (127, "", "runCommand: cannot start \(command[0]): \(error)")
    }

    let deadline = DispatchTime.now() + timeout
    during?()
    var timedOut = false
    if finished.wait(timeout: deadline) == .timedOut {
        timedOut = true
        process.terminate()
        if finished.wait(timeout: .now() + 10) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
    }
    try? stdoutHandle.close()
    try? stderrHandle.close()

    let status: Int32 = if timedOut {
        124
    } else if process.terminationReason == .uncaughtSignal {
        128 + process.terminationStatus
    } else {
        process.terminationStatus
    }
    let stdout = String(decoding: (try? Data(contentsOf: stdoutFile)) ?? Data(), as: UTF8.self)
    var stderr = String(decoding: (try? Data(contentsOf: stderrFile)) ?? Data(), as: UTF8.self)
    if timedOut {
        stderr += "\nrunMPI: killed mpirun after \(timeout) s\n"
    }
    return (status, stdout, stderr)
}

/// Starts `process` from this thread with no signals blocked.
///
/// Foundation's `Process` on Linux passes the calling thread's signal mask to the child
/// (swift-corelibs-foundation issue #4772), and test threads, like all Dispatch workers, block
/// SIGTERM: `mpirun` would then ignore the SIGTERM meant to stop it and its ranks.
func runWithSignalsUnblocked(_ process: Process) throws {
    var none = sigset_t()
    var saved = sigset_t()
    sigemptyset(&none)
    pthread_sigmask(SIG_SETMASK, &none, &saved)
    defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
    try process.run()
}

/// This process's environment without inherited Open MPI/PMIx state, plus what running as root
/// in a container with more ranks than cores needs (see PLATFORM-NOTES.md).
private func mpiChildEnvironment() -> [String: String] {
    var environment = ProcessInfo.processInfo.environment.filter { key, _ in
        !key.hasPrefix("OMPI_") && !key.hasPrefix("PMIX_")
    }
    environment.merge([
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
        "OPENBLAS_NUM_THREADS": "1",
    ]) { _, ours in ours }
    return environment
}

/// A product of this package's build: in `$TESSERA_BUILD_DIR` when set (launch/test points it at
/// the release build), otherwise in `.build/debug`.
func builtExecutable(named name: String) -> URL {
    if let directory = ProcessInfo.processInfo.environment["TESSERA_BUILD_DIR"] {
        return URL(fileURLWithPath: directory).appendingPathComponent(name)
    }
    return packageRoot.appendingPathComponent(".build/debug").appendingPathComponent(name)
}

/// The folder holding this package's Package.swift.
let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    preconditionFailure("no Package.swift above \(#filePath)")
}()
