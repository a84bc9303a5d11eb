import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs `exec` alarms' commands (`/bin/sh -c COMMAND`) without waiting for them: the alarm's JSON
/// is written to an unlinked temporary file that becomes the command's standard input, so starting
/// one never blocks on a pipe (nor raises SIGPIPE when the command ignores its input). Finished
/// commands are reaped at the next `reap`; `finish` waits a bounded time for the rest at the end of
/// the run.
final class AlarmCommands {
    private var running: [(pid: pid_t, command: String)] = []

    /// Starts `command` with `input` on its standard input; a command that cannot be started is
    /// reported on standard error (training goes on).
    func start(_ command: String, input: String) {
        var template = Array((NSTemporaryDirectory() + "/tessera-alarm-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { return report(command, "cannot create its input file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        unlink(template)
        let bytes = Array(input.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, lseek(fd, 0, SEEK_SET) == 0 else {
            return report(command, "cannot write its input file: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fd, 0)
        let arguments: [String] = ["/bin/sh", "-c", command]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        guard result == 0 else { return report(command, "cannot start: \(String(cString: strerror(result)))") }
        running.append((pid, command))
    }

    /// Collects the commands that have finished, reporting those that failed.
    func reap() {
        running.removeAll { pid, command in
            var status: Int32 = 0
            let done = waitpid(pid, &status, WNOHANG)
            guard done != 0 else { return false }
            if done == pid, status != 0 {
                let signal = status & 0x7F
                report(command, signal == 0 ? "exited with status \((status >> 8) & 0xFF)" : "was killed by signal \(signal)")
            }
            return true
        }
    }

    /// At the end of the run: waits up to `seconds` for the commands still running, then leaves
    /// them to finish on their own.
    func finish(within seconds: Double = 10) {
        let deadline = Date().addingTimeInterval(seconds)
        reap()
        while !running.isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            reap()
        }
        for (pid, command) in running { report(command, "is still running (pid \(pid)); not waiting for it") }
        running.removeAll()
    }

    private func report(_ command: String, _ problem: String) {
        progress("tessera: alarm command `\(command)` \(problem)")
    }
}
