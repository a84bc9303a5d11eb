internal import CMPI

/// Non-blocking calls. They work on an `MPIBuffer` (all of it, or the elements in `range`),
/// which must not be touched until the returned `Request` completes; the request keeps the buffer
/// alive until then.
extension Communicator {
    /// Starts replacing `buffer[range]` by its element-wise reduction over all ranks
    /// (`MPI_Iallreduce` with `MPI_IN_PLACE`). Every rank must make the same call.
    public func iallReduce<T: MPIScalar>(_ buffer: MPIBuffer<T>, range: Range<Int>? = nil,
                                         op: ReduceOp) throws(MPIError) -> Request {
        let (start, count) = elements(of: buffer, range)
        return try started(keepingAlive: buffer, "MPI_Iallreduce") { request in
            MPI_Iallreduce(tessera_MPI_IN_PLACE(), start, count, T.mpiDatatype.handle, op.handle, handle, request)
        }
    }

    /// Starts sending `buffer[range]` to rank `destination` (`MPI_Isend`).
    public func isend<T: MPIScalar>(_ buffer: MPIBuffer<T>, range: Range<Int>? = nil,
                                    to destination: Int, tag: Int = 0) throws(MPIError) -> Request {
        let (start, count) = elements(of: buffer, range)
        return try started(keepingAlive: buffer, "MPI_Isend") { request in
            MPI_Isend(start, count, T.mpiDatatype.handle, cInt(destination, "destination"), cInt(tag, "tag"),
                      handle, request)
        }
    }

    /// Starts receiving a message from rank `source` into `buffer[range]` (`MPI_Irecv`).
    public func irecv<T: MPIScalar>(_ buffer: MPIBuffer<T>, range: Range<Int>? = nil,
                                    from source: Int, tag: Int = 0) throws(MPIError) -> Request {
        let (start, count) = elements(of: buffer, range)
        return try started(keepingAlive: buffer, "MPI_Irecv") { request in
            MPI_Irecv(start, count, T.mpiDatatype.handle, cInt(source, "source"), cInt(tag, "tag"),
                      handle, request)
        }
    }

    /// The start address and C count of `range` (default: everything) in `buffer`.
    private func elements<T>(of buffer: MPIBuffer<T>, _ range: Range<Int>?) -> (UnsafeMutablePointer<T>, Int32) {
        let range = range ?? 0..<buffer.count
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count,
                     "range \(range) outside MPIBuffer of \(buffer.count) elements")
        return (buffer.pointer + range.lowerBound, cInt(range.count, "count"))
    }

    /// Runs a C call that starts an operation and wraps the request it produced.
    private func started(keepingAlive buffer: AnyObject, _ operation: StaticString,
                         _ start: (UnsafeMutablePointer<MPI_Request?>) -> Int32) throws(MPIError) -> Request {
        var request: MPI_Request? = nil
        try check(start(&request), operation)
        return Request(handle: request, keepingAlive: buffer)
    }
}
