import MPI

/// Wall time spent in one kind of work (communication, waiting on a neighbour), summed over the
/// calls it wraps; the training loop reads it once per step and resets it. One per owner, used from
/// one thread.
public final class TimeAccount: @unchecked Sendable {
    public private(set) var seconds: Double = 0

    public init() {}

    @discardableResult
    public func measure<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let start = MPIEnvironment.wallTime()
        defer { seconds += MPIEnvironment.wallTime() - start }
        return try body()
    }

    /// The time summed since the last call.
    public func take() -> Double {
        defer { seconds = 0 }
        return seconds
    }
}
