import Dispatch
import MPI

/// Sums gradients across data-parallel replicas in buckets, on a communication thread, so that a
/// bucket's all-reduce overlaps the backward pass of the layers below it.
///
/// Buckets are flat ranges of the gradient buffer, issued in the same order on every replica (the
/// backward order), which is what keeps the blocking collectives on the thread matched. The buffer
/// must outlive `finish()`.
///
/// Measured on 2 shared cores: a non-blocking MPI_Iallreduce per bucket polled from the training
/// thread was 4× slower than this (libnbc advances only inside MPI calls); the thread ties with
/// blocking all-reduces on the training thread when ranks yield while idle
/// (`--mca mpi_yield_when_idle 1`), and overlaps for real where cores are free.
public final class GradientSync: @unchecked Sendable {
    private let communicator: Communicator?
    /// 16-bit payloads go through our own reduce-scatter/all-gather (fp32 sums); fp32 through MPI.
    private let halfPrecision: ShardedCollectives?
    private let gradBuffer: UnsafeMutableBufferPointer<Float>
    private let queue = DispatchQueue(label: "tessera.gradient-sync")
    /// Written only on `queue`.
    private var failure: MPIError?

    /// `group` is the data-parallel group; a private duplicate carries the traffic so that it never
    /// interleaves with collectives the main thread issues on the original.
    public init(group: Communicator, grads: UnsafeMutableBufferPointer<Float>, wire: WireFormat = .fp32) throws(MPIError) {
        communicator = group.size > 1 ? try group.duplicate() : nil
        halfPrecision = communicator.flatMap { wire == .fp32 ? nil : ShardedCollectives(communicator: $0, format: wire) }
        gradBuffer = grads
    }

    /// Starts summing grads[range] across replicas; returns at once.
    public func reduce(_ range: Range<Int>) {
        guard let communicator, !range.isEmpty else { return }
        queue.async {
            guard self.failure == nil else { return }
            do throws(MPIError) {
                if let halfPrecision = self.halfPrecision {
                    try halfPrecision.allReduce(self.gradBuffer.baseAddress! + range.lowerBound, count: range.count)
                } else {
                    try communicator.allReduce(UnsafeMutableBufferPointer(rebasing: self.gradBuffer[range]), op: .sum)
                }
            } catch {
                self.failure = error
            }
        }
    }

    /// Waits until every started bucket is summed; throws the first failure.
    public func finish() throws(MPIError) {
        guard communicator != nil else { return }
        let failure = queue.sync { self.failure }
        if let failure { throw failure }
    }
}
