import Dispatch
import MPI

/// Sums gradients across data-parallel replicas in buckets, on a communication thread, so that a
/// bucket's all-reduce overlaps the backward pass of the layers below it. The sums go through
/// ShardedCollectives whatever the payload (fp32 accumulation; on one node through shared memory,
/// measured 1.8-4x faster than MPI_Allreduce for fp32 at 16-256 MiB on 2 ranks); sharded (ZeRO-1),
/// each bucket is only reduce-scattered, and after the optimizer has updated each replica's share
/// the parameters are all-gathered (`gatherParameters`).
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
    /// Our reduce-scatter/all-gather in the wire format.
    private let collectives: ShardedCollectives?
    /// Sharded: the fp32 all-gather of updated parameters (used from the caller's thread).
    private let parameterGather: ShardedCollectives?
    private let gradBuffer: UnsafeMutableBufferPointer<Float>
    private let queue = DispatchQueue(label: "tessera.gradient-sync")
    /// Written only on `queue`.
    private var failure: MPIError?
    /// ZeRO-1: each replica keeps only its owned part of every bucket's summed gradients, updates
    /// those parameters alone and all-gathers the rest.
    public let isSharded: Bool

    /// `group` is the data-parallel group; a private duplicate carries the traffic so that it never
    /// interleaves with collectives the main thread issues on the original.
    public init(group: Communicator, grads: UnsafeMutableBufferPointer<Float>, wire: WireFormat = .fp32,
                sharded: Bool = false) throws(MPIError) {
        let communicator = group.size > 1 ? try group.duplicate() : nil
        collectives = try communicator.flatMap { (c) throws(MPIError) in try ShardedCollectives(communicator: c, format: wire) }
        parameterGather = try communicator.flatMap { (c) throws(MPIError) in
            sharded ? try ShardedCollectives(communicator: c, format: .fp32) : nil
        }
        gradBuffer = grads
        isSharded = sharded
    }

    /// Starts summing grads[range] across replicas (sharded: only into the owned elements);
    /// returns at once. Buckets must be the same ranges on every replica.
    public func reduce(_ range: Range<Int>) {
        guard let collectives, !range.isEmpty else { return }
        queue.async {
            guard self.failure == nil else { return }
            do throws(MPIError) {
                let start = self.gradBuffer.baseAddress! + range.lowerBound
                if self.isSharded {
                    try collectives.reduceScatter(start, count: range.count)
                } else {
                    try collectives.allReduce(start, count: range.count)
                }
            } catch {
                self.failure = error
            }
        }
    }

    /// Waits until every started bucket is summed; throws the first failure.
    public func finish() throws(MPIError) {
        guard collectives != nil else { return }
        let failure = queue.sync { self.failure }
        if let failure { throw failure }
    }

    /// The elements of bucket `range` whose summed gradient this replica holds after `finish`
    /// (all of them unless sharded).
    public func ownedRanges(of range: Range<Int>) -> [Range<Int>] {
        guard isSharded, let parameterGather else { return range.isEmpty ? [] : [range] }
        return parameterGather.ownedRanges(of: range)
    }

    /// Sharded: sends each replica's updated owned parameters of every bucket to all replicas.
    public func gatherParameters(_ values: UnsafeMutablePointer<Float>, buckets: [Range<Int>]) throws(MPIError) {
        guard let parameterGather else { return }
        for bucket in buckets where !bucket.isEmpty {
            try parameterGather.allGather(values + bucket.lowerBound, count: bucket.count)
        }
    }
}
