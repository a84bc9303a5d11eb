internal import CMPI

/// Blocking collectives. Every rank of the communicator must make the same call, in the same
/// order, with matching counts; buffer-size mismatches that one rank can see locally trap.
extension Communicator {
    /// Copies `root`'s buffer into every rank's buffer (`MPI_Bcast`).
    public func broadcast<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws(MPIError) {
        try check(MPI_Bcast(buffer.baseAddress, cInt(buffer.count, "count"), T.mpiDatatype.handle,
                            cInt(root, "root"), handle), "MPI_Bcast")
    }

    /// Copies `root`'s array into every rank's array; all arrays must have the same count.
    public func broadcast<T: MPIScalar>(_ values: inout [T], root: Int) throws(MPIError) {
        try values.withUnsafeMutableBufferPointer { (buffer) throws(MPIError) in
            try broadcast(buffer, root: root)
        }
    }

    /// Replaces every rank's buffer by the element-wise reduction over all ranks
    /// (`MPI_Allreduce` with `MPI_IN_PLACE`).
    public func allReduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReduceOp) throws(MPIError) {
        try check(MPI_Allreduce(tessera_MPI_IN_PLACE(), buffer.baseAddress, cInt(buffer.count, "count"),
                                T.mpiDatatype.handle, op.handle, handle), "MPI_Allreduce")
    }

    /// Replaces every rank's array by the element-wise reduction over all ranks.
    public func allReduce<T: MPIScalar>(_ values: inout [T], op: ReduceOp) throws(MPIError) {
        try values.withUnsafeMutableBufferPointer { (buffer) throws(MPIError) in
            try allReduce(buffer, op: op)
        }
    }

    /// The reduction of one value over all ranks.
    public func allReduce<T: MPIScalar>(_ value: T, op: ReduceOp) throws(MPIError) -> T {
        var result = value
        try withUnsafeMutablePointer(to: &result) { (pointer) throws(MPIError) in
            try allReduce(UnsafeMutableBufferPointer(start: pointer, count: 1), op: op)
        }
        return result
    }

    /// Concatenates every rank's `send`, in rank order, into every rank's `recv`
    /// (`MPI_Allgather`); `recv.count == send.count * size`.
    public func allGather<T: MPIScalar>(send: UnsafeBufferPointer<T>, recv: UnsafeMutableBufferPointer<T>) throws(MPIError) {
        precondition(recv.count == send.count * size,
                     "allGather: recv count \(recv.count) != send count \(send.count) × size \(size)")
        let count = cInt(send.count, "count")
        try check(MPI_Allgather(send.baseAddress, count, T.mpiDatatype.handle,
                                recv.baseAddress, count, T.mpiDatatype.handle, handle), "MPI_Allgather")
    }

    /// Every rank's `values` (all of the same count), concatenated in rank order.
    public func allGather<T: MPIScalar>(_ values: [T]) throws(MPIError) -> [T] {
        try [T](unsafeUninitializedCapacity: values.count * size) { (recv, initialized) throws(MPIError) in
            try values.withUnsafeBufferPointer { (send) throws(MPIError) in
                try allGather(send: send, recv: recv)
            }
            initialized = recv.count
        }
    }

    /// Reduces `send` element-wise over all ranks and leaves block `rank` of the result in `recv`
    /// (`MPI_Reduce_scatter_block`); `send.count == recv.count * size`.
    public func reduceScatterBlock<T: MPIScalar>(send: UnsafeBufferPointer<T>, recv: UnsafeMutableBufferPointer<T>,
                                                 op: ReduceOp) throws(MPIError) {
        precondition(send.count == recv.count * size,
                     "reduceScatterBlock: send count \(send.count) != recv count \(recv.count) × size \(size)")
        try check(MPI_Reduce_scatter_block(send.baseAddress, recv.baseAddress, cInt(recv.count, "count"),
                                           T.mpiDatatype.handle, op.handle, handle), "MPI_Reduce_scatter_block")
    }

    /// Block `rank` of the element-wise reduction of every rank's `values`
    /// (`values.count` must be a multiple of `size`).
    public func reduceScatterBlock<T: MPIScalar>(_ values: [T], op: ReduceOp) throws(MPIError) -> [T] {
        precondition(values.count % size == 0, "reduceScatterBlock: count \(values.count) is not a multiple of size \(size)")
        return try [T](unsafeUninitializedCapacity: values.count / size) { (recv, initialized) throws(MPIError) in
            try values.withUnsafeBufferPointer { (send) throws(MPIError) in
                try reduceScatterBlock(send: send, recv: recv, op: op)
            }
            initialized = recv.count
        }
    }

    /// Sends block `d` of `send` to rank `d` and receives rank `s`'s block into block `s` of `recv`
    /// (`MPI_Alltoall`); both buffers hold `size` equal blocks.
    public func allToAll<T: MPIScalar>(send: UnsafeBufferPointer<T>, recv: UnsafeMutableBufferPointer<T>) throws(MPIError) {
        precondition(send.count == recv.count && send.count % size == 0,
                     "allToAll: send count \(send.count) and recv count \(recv.count) must be equal multiples of size \(size)")
        let block = cInt(send.count / size, "count")
        try check(MPI_Alltoall(send.baseAddress, block, T.mpiDatatype.handle,
                               recv.baseAddress, block, T.mpiDatatype.handle, handle), "MPI_Alltoall")
    }

    /// `values` cut into `size` equal blocks, block `d` going to rank `d`; returns the blocks
    /// received, in source-rank order.
    public func allToAll<T: MPIScalar>(_ values: [T]) throws(MPIError) -> [T] {
        try [T](unsafeUninitializedCapacity: values.count) { (recv, initialized) throws(MPIError) in
            try values.withUnsafeBufferPointer { (send) throws(MPIError) in
                try allToAll(send: send, recv: recv)
            }
            initialized = recv.count
        }
    }

    /// Sends `sendCounts[d]` elements to rank `d` and receives `recvCounts[s]` from rank `s`, each
    /// side packed in rank order (`MPI_Alltoallv`, displacements are the counts' prefix sums).
    /// `recvCounts[s]` must equal what rank `s` sends here.
    public func allToAllv<T: MPIScalar>(send: UnsafeBufferPointer<T>, sendCounts: [Int],
                                        recv: UnsafeMutableBufferPointer<T>, recvCounts: [Int]) throws(MPIError) {
        let (cSendCounts, sendDispls) = packedLayout(sendCounts, fitting: send.count, "allToAllv send")
        let (cRecvCounts, recvDispls) = packedLayout(recvCounts, fitting: recv.count, "allToAllv recv")
        try check(MPI_Alltoallv(send.baseAddress, cSendCounts, sendDispls, T.mpiDatatype.handle,
                                recv.baseAddress, cRecvCounts, recvDispls, T.mpiDatatype.handle, handle),
                  "MPI_Alltoallv")
    }

    /// `values` cut into consecutive pieces of `sendCounts[d]` elements for rank `d`; returns the
    /// pieces received (`recvCounts[s]` from rank `s`), in source-rank order.
    public func allToAllv<T: MPIScalar>(_ values: [T], sendCounts: [Int], recvCounts: [Int]) throws(MPIError) -> [T] {
        try [T](unsafeUninitializedCapacity: recvCounts.reduce(0, +)) { (recv, initialized) throws(MPIError) in
            try values.withUnsafeBufferPointer { (send) throws(MPIError) in
                try allToAllv(send: send, sendCounts: sendCounts, recv: recv, recvCounts: recvCounts)
            }
            initialized = recv.count
        }
    }

    /// Concatenates every rank's `send`, in rank order, into `recv` on `root` (`MPI_Gather`).
    /// Only `root` needs `recv` (`send.count * size` elements); other ranks pass `nil`.
    public func gather<T: MPIScalar>(send: UnsafeBufferPointer<T>, recv: UnsafeMutableBufferPointer<T>?,
                                     root: Int) throws(MPIError) {
        if rank == root {
            precondition(recv?.count == send.count * size,
                         "gather: root needs recv of send count \(send.count) × size \(size), got \(String(describing: recv?.count))")
        }
        let count = cInt(send.count, "count")
        try check(MPI_Gather(send.baseAddress, count, T.mpiDatatype.handle,
                             recv?.baseAddress, count, T.mpiDatatype.handle, cInt(root, "root"), handle),
                  "MPI_Gather")
    }

    /// Every rank's `values` (all of the same count) concatenated in rank order on `root`;
    /// `nil` on the other ranks.
    public func gather<T: MPIScalar>(_ values: [T], root: Int) throws(MPIError) -> [T]? {
        try values.withUnsafeBufferPointer { (send) throws(MPIError) in
            guard rank == root else {
                try gather(send: send, recv: nil, root: root)
                return nil
            }
            return try [T](unsafeUninitializedCapacity: send.count * size) { (recv, initialized) throws(MPIError) in
                try gather(send: send, recv: recv, root: root)
                initialized = recv.count
            }
        }
    }

    /// Concatenates every rank's `send` (rank `s` sending `recvCounts[s]` elements), in rank
    /// order, into `recv` on `root` (`MPI_Gatherv`). Only `root` needs `recv` and `recvCounts`.
    public func gatherv<T: MPIScalar>(send: UnsafeBufferPointer<T>, recv: UnsafeMutableBufferPointer<T>?,
                                      recvCounts: [Int]?, root: Int) throws(MPIError) {
        var layout: (counts: [Int32], displacements: [Int32])? = nil
        if rank == root {
            guard let recv, let recvCounts else { preconditionFailure("gatherv: root needs recv and recvCounts") }
            layout = packedLayout(recvCounts, fitting: recv.count, "gatherv recv")
        }
        try check(MPI_Gatherv(send.baseAddress, cInt(send.count, "count"), T.mpiDatatype.handle,
                              recv?.baseAddress, layout?.counts, layout?.displacements, T.mpiDatatype.handle,
                              cInt(root, "root"), handle), "MPI_Gatherv")
    }

    /// Every rank's `values` (counts may differ) concatenated in rank order on `root`;
    /// `nil` on the other ranks. Gathers the counts first.
    public func gatherv<T: MPIScalar>(_ values: [T], root: Int) throws(MPIError) -> [T]? {
        let counts = try gather([Int64(values.count)], root: root)?.map { Int($0) }
        return try values.withUnsafeBufferPointer { (send) throws(MPIError) in
            guard let counts else {
                try gatherv(send: send, recv: nil, recvCounts: nil, root: root)
                return nil
            }
            return try [T](unsafeUninitializedCapacity: counts.reduce(0, +)) { (recv, initialized) throws(MPIError) in
                try gatherv(send: send, recv: recv, recvCounts: counts, root: root)
                initialized = recv.count
            }
        }
    }

    /// C counts and packed displacements (prefix sums) for per-rank pieces laid out back to back
    /// in a buffer of `capacity` elements.
    private func packedLayout(_ counts: [Int], fitting capacity: Int,
                              _ what: String) -> (counts: [Int32], displacements: [Int32]) {
        precondition(counts.count == size, "\(what): \(counts.count) counts for \(size) ranks")
        precondition(counts.allSatisfy { $0 >= 0 }, "\(what): negative count in \(counts)")
        let total = counts.reduce(0, +)
        precondition(total <= capacity, "\(what): counts \(counts) need \(total) elements, buffer holds \(capacity)")
        var displacements = [Int32]()
        displacements.reserveCapacity(size)
        var offset = 0
        for count in counts {
            displacements.append(cInt(offset, "displacement"))
            offset += count
        }
        return (counts.map { cInt($0, "count") }, displacements)
    }
}
