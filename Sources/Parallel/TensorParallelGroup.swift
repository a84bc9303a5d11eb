import MPI

/// The ranks that share one layer's tensors, and Megatron's four conjugate operations on them.
///
/// Each operation is the backward of another: copy-to-region is identity forward and all-reduce
/// backward; reduce-from-region is all-reduce forward and identity backward; scatter-to-region
/// keeps this rank's slice of the last dimension and its backward gathers the slices;
/// gather-from-region concatenates them and its backward keeps the slice. Identity halves are
/// left out: a caller runs only the halves that move data. A group of one rank makes every
/// operation free, so one code path serves every layout.
public struct TensorParallelGroup: Sendable {
    let communicator: Communicator?
    public let rank: Int
    public let size: Int
    /// Time spent in this group's collectives.
    public let communicationTime = TimeAccount()

    public init(_ communicator: Communicator) {
        self.communicator = communicator.size > 1 ? communicator : nil
        rank = communicator.rank
        size = communicator.size
    }

    private init() {
        communicator = nil
        rank = 0
        size = 1
    }

    /// No partners: the whole layer on this rank.
    public static var single: TensorParallelGroup { TensorParallelGroup() }

    /// Backward of copy-to-region: the input gradients of a column-parallel layer, one partial
    /// sum per rank, summed in place.
    public func copyToRegionBackward(_ gradient: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        try sum(gradient, count: count)
    }

    /// Forward of reduce-from-region: the partial outputs of a row-parallel layer summed in place.
    public func reduceFromRegion(_ values: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        try sum(values, count: count)
    }

    /// Element-wise maximum across the group, in place (vocabulary-parallel softmax).
    public func maximum(_ values: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        guard let communicator else { return }
        let started = communicationTime.start()
        defer { communicationTime.stop(started) }
        try communicator.allReduce(UnsafeMutableBufferPointer(start: values, count: count), op: .max)
    }

    /// Element-wise sum across the group, in place.
    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        guard let communicator else { return }
        let started = communicationTime.start()
        defer { communicationTime.stop(started) }
        try communicator.allReduce(UnsafeMutableBufferPointer(start: values, count: count), op: .sum)
    }

    /// Gather-from-region: `local` (rows, columns) from every rank become `full`
    /// (rows, columns · size), rank k's columns at [k · columns, (k + 1) · columns).
    /// Its backward is `scatterToRegion`.
    public func gatherFromRegion(local: UnsafePointer<Float>, full: UnsafeMutablePointer<Float>,
                                 rows: Int, columns: Int) throws(MPIError) {
        guard let communicator else {
            full.update(from: local, count: rows * columns)
            return
        }
        // All-gather stacks the ranks' blocks; one transpose of blocks puts them side by side.
        let stacked = UnsafeMutablePointer<Float>.allocate(capacity: rows * columns * size)
        defer { stacked.deallocate() }
        try communicator.allGather(send: UnsafeBufferPointer(start: local, count: rows * columns),
                                   recv: UnsafeMutableBufferPointer(start: stacked, count: rows * columns * size))
        for k in 0..<size {
            for r in 0..<rows {
                (full + r * columns * size + k * columns).update(from: stacked + (k * rows + r) * columns,
                                                                 count: columns)
            }
        }
    }

    /// Scatter-to-region: this rank's columns of `full` (rows, columns · size) into `local`
    /// (rows, columns). Its backward is `gatherFromRegion`.
    public func scatterToRegion(full: UnsafePointer<Float>, local: UnsafeMutablePointer<Float>,
                                rows: Int, columns: Int) {
        for r in 0..<rows {
            (local + r * columns).update(from: full + r * columns * size + rank * columns, count: columns)
        }
    }
}
