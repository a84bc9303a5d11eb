#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation

/// Runs mpirun as a child, restarting it as a `RestartPolicy` says. A TERM, INT or HUP sent to the
/// launcher reaches mpirun as a TERM (mpirun then stops its ranks), and the launcher says how the
/// job ended: mpirun is quiet (`--quiet`), so a rank killed by a signal or mpirun's own failure
/// would otherwise pass without a word.
public final class JobSupervisor: @unchecked Sendable {
    private let lock = NSLock()
    private var child: pid_t?
    private var interrupted = false
    /// Wakes a restart delay early when the launcher is interrupted.
    private let wake = DispatchSemaphore(value: 0)
    private var signalSources: [DispatchSourceSignal] = []

    public init() {}

    /// Runs `arguments` (looked up on PATH) in the environment `environ` holds, until the policy
    /// finishes; returns the exit status the launcher ends with (130 when interrupted).
    public func run(_ arguments: [String], policy: RestartPolicy, resumePoint: () -> String,
                    note: (String) -> Void) throws -> Int32 {
        watchSignals()
        defer { signalSources.forEach { $0.cancel() } }
        var attempt = 0
        while true {
            let status = try runOnce(arguments)
            let wasInterrupted = lock.withLock { interrupted }
            switch policy.decide(after: status, attempt: attempt, interrupted: wasInterrupted, resumePoint: resumePoint) {
            case .finish(let message):
                if let message { note(message) }
                return wasInterrupted && status.code == 0 ? 130 : status.code
            case .restart(let next, let message):
                note(message)
                attempt = next
                if policy.delay > 0 {
                    _ = wake.wait(timeout: .now() + .seconds(policy.delay))
                }
                if lock.withLock({ interrupted }) {
                    note("interrupted while waiting to restart")
                    return 130
                }
            }
        }
    }

    private func watchSignals() {
        let queue = DispatchQueue(label: "tessera.launch.signals")
        for number in [SIGINT, SIGTERM, SIGHUP] {
            // Ignored here, so the default action (ending the launcher) gives way to the handler.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in self?.interrupt() }
            source.resume()
            signalSources.append(source)
        }
    }

    private func interrupt() {
        lock.withLock {
            interrupted = true
            if let child { kill(child, SIGTERM) }
        }
        wake.signal()
    }

    /// Starts the child with default signal handling and no blocked signals (ignored signals and
    /// the mask would otherwise pass to it), and waits for it.
    private func runOnce(_ arguments: [String]) throws -> JobStatus {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let started = lock.withLock {
            let result = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, environ)
            if result == 0 {
                child = pid
                // A signal that came before the child existed still stops it.
                if interrupted { kill(pid, SIGTERM) }
            }
            return result
        }
        guard started == 0 else {
            throw LaunchFailure("cannot start \(arguments[0]): \(String(cString: strerror(started)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        lock.withLock { child = nil }
        return JobStatus(waitStatus: status)
    }
}

/// The launcher itself failed (exit 1): not bad input, but nothing could be started.
public struct LaunchFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
