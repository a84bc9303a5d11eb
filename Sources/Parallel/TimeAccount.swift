import MPI

/// Wall time spent in one kind of work (communication, compute), summed over the spans marked with
/// `start()` and `stop(_:)`; the training loop reads it once per step and resets it. One per
/// owner, used from one thread.
public final class TimeAccount: @unchecked Sendable {
    public private(set) var seconds: Double = 0

    public init() {}

    /// The start of a span, to hand to `stop`.
    public func start() -> Double { MPIEnvironment.wallTime() }

    /// Adds the span since `started`.
    public func stop(_ started: Double) { seconds += MPIEnvironment.wallTime() - started }

    /// The time summed since the last call.
    public func take() -> Double {
        defer { seconds = 0 }
        return seconds
    }
}
