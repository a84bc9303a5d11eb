import Foundation
import MPI

/// Turns a hang into an error: every rank's watchdog thread watches the operation its training
/// thread is in, and when one has not completed within the deadline it names the operation, the
/// step and the ranks that did not arrive, then aborts the whole job.
///
/// Ranks send rank 0 a heartbeat (operations completed, step, operation) every half second on a
/// communicator of their own. Rank 0, when its own operation overruns, names the ranks whose last
/// heartbeat shows them behind it or silent (a stopped or lost rank). The others, overrunning too,
/// wait a few seconds more for rank 0's report before aborting on their own (in case rank 0 is the
/// one that is stuck). The deadline is `TESSERA_WATCHDOG_SECONDS` (default 300).
final class Watchdog: @unchecked Sendable {
    /// What the training thread can be doing, for reports.
    enum Operation: Int, CaseIterable {
        case starting, forwardBackward, gradientSync, gradientNorm, optimizer, evaluation, checkpoint, export
        var name: String {
            switch self {
            case .starting: "start-up"
            case .forwardBackward: "forward/backward and pipeline transfers"
            case .gradientSync: "gradient all-reduce"
            case .gradientNorm: "gradient-norm all-reduce"
            case .optimizer: "optimizer step and parameter all-gather"
            case .evaluation: "evaluation"
            case .checkpoint: "checkpoint save"
            case .export: "model.h5 export"
            }
        }
    }

    let deadline: Double
    private let communicator: Communicator
    private let lock = NSLock()
    private var operation = Operation.starting, step = 0, completed = 0
    private var since = MPIEnvironment.wallTime()
    private var stopped = false
    /// Signalled when the watching thread returns.
    private let exited = DispatchSemaphore(value: 0)

    init(world: Communicator, deadline: Double) throws {
        communicator = try world.duplicate()
        self.deadline = deadline
        let thread = Thread { [self] in watch() }
        thread.name = "tessera.watchdog"
        thread.start()
    }

    static func deadlineFromEnvironment() -> Double {
        ProcessInfo.processInfo.environment["TESSERA_WATCHDOG_SECONDS"].flatMap(Double.init) ?? 300
    }

    /// The training thread enters `operation` of `step`.
    func enter(_ operation: Operation, step: Int) {
        lock.lock()
        defer { lock.unlock() }
        (self.operation, self.step, self.since) = (operation, step, MPIEnvironment.wallTime())
        completed += 1
    }

    /// Stops watching (the run is over) and waits, at most half a second, for the thread to
    /// return: MPI must not be finalized while it is inside an MPI call. Later calls return at once.
    func stop() {
        lock.lock()
        let first = !stopped
        stopped = true
        lock.unlock()
        if first { exited.wait() }
    }

    private func state() -> (Operation, Int, Int, Double, Bool) {
        lock.lock()
        defer { lock.unlock() }
        return (operation, step, completed, since, stopped)
    }

    private func watch() {
        defer { exited.signal() }
        let (rank, size) = (communicator.rank, communicator.size)
        // Rank 0 keeps one receive posted per other rank; the others one send in flight.
        var last = [(completed: Int, step: Int, operation: Int, seen: Double)](
            repeating: (0, 0, 0, MPIEnvironment.wallTime()), count: size)
        let inboxes = (0..<size).map { _ in MPIBuffer<Double>(repeating: 0, count: 3) }
        var receives: [Int: Request] = [:]
        var sending: Request?
        do {
            if rank == 0 {
                for r in 1..<size { receives[r] = try communicator.irecv(inboxes[r], from: r, tag: 7) }
            }
            while true {
                Thread.sleep(forTimeInterval: 0.5)
                let (operation, step, completed, since, stopped) = state()
                if stopped { return }
                let now = MPIEnvironment.wallTime()
                if rank == 0 {
                    for (r, request) in receives where try request.test() {
                        last[r] = (Int(inboxes[r].pointer[0]), Int(inboxes[r].pointer[1]), Int(inboxes[r].pointer[2]), now)
                        receives[r] = try communicator.irecv(inboxes[r], from: r, tag: 7)
                    }
                } else if try sending?.test() ?? true {
                    sending = try communicator.isend(MPIBuffer([Double(completed), Double(step), Double(operation.rawValue)]),
                                                     to: 0, tag: 7)
                }
                let overrun = now - since
                guard overrun > deadline else { continue }
                // Rank 0 reports; the others give it a few seconds to do so.
                if rank != 0 && overrun < deadline + 5 { continue }
                var message = "watchdog: step \(step): \(operation.name) has not completed within "
                    + "\(Int(deadline)) s on rank \(rank)"
                if rank == 0 && size > 1 {
                    // Behind this rank, or silent for longer than a few heartbeat intervals.
                    let missing = (1..<size).filter { last[$0].completed < completed || now - last[$0].seen > 3 }
                    let details = missing.map { r in
                        let op = Operation(rawValue: last[r].operation)?.name ?? "?"
                        return "rank \(r) (last heard \(Int(now - last[r].seen)) s ago, at step \(last[r].step) in \(op))"
                    }
                    message += missing.isEmpty ? "; every rank is still sending heartbeats"
                        : "; did not arrive: " + details.joined(separator: ", ")
                }
                FileHandle.standardError.write(Data("error: \(message); aborting the job\n".utf8))
                MPIEnvironment.abort(code: 1)
            }
        } catch {
            FileHandle.standardError.write(Data("tessera: watchdog stopped: \(error)\n".utf8))
        }
    }
}
