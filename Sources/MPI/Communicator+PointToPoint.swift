internal import CMPI

/// Blocking point-to-point messages. A message matches the receive naming the same peer and tag.
extension Communicator {
    /// Sends `buffer` to rank `destination` (`MPI_Send`). May block until the receiver has
    /// started receiving, so two ranks that both send first can deadlock: use `sendRecv`.
    public func send<T: MPIScalar>(_ buffer: UnsafeBufferPointer<T>, to destination: Int, tag: Int = 0) throws(MPIError) {
        try check(MPI_Send(buffer.baseAddress, cInt(buffer.count, "count"), T.mpiDatatype.handle,
                           cInt(destination, "destination"), cInt(tag, "tag"), handle), "MPI_Send")
    }

    /// Sends `values` to rank `destination`.
    public func send<T: MPIScalar>(_ values: [T], to destination: Int, tag: Int = 0) throws(MPIError) {
        try values.withUnsafeBufferPointer { (buffer) throws(MPIError) in
            try send(buffer, to: destination, tag: tag)
        }
    }

    /// Receives a message from rank `source` into `buffer` (`MPI_Recv`) and returns how many
    /// elements arrived (`MPI_Get_count`); a message longer than `buffer` is an error.
    @discardableResult
    public func recv<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, from source: Int, tag: Int = 0) throws(MPIError) -> Int {
        var status = MPI_Status()
        try check(MPI_Recv(buffer.baseAddress, cInt(buffer.count, "count"), T.mpiDatatype.handle,
                           cInt(source, "source"), cInt(tag, "tag"), handle, &status), "MPI_Recv")
        return try receivedCount(status, T.self)
    }

    /// Receives a message of exactly `values.count` elements from rank `source` into `values`.
    public func recv<T: MPIScalar>(_ values: inout [T], from source: Int, tag: Int = 0) throws(MPIError) {
        let expected = values.count
        let received = try values.withUnsafeMutableBufferPointer { (buffer) throws(MPIError) in
            try recv(buffer, from: source, tag: tag)
        }
        precondition(received == expected, "recv: expected \(expected) elements from rank \(source), got \(received)")
    }

    /// Sends `send` to `destination` while receiving from `source` into `recv` (`MPI_Sendrecv`):
    /// the deadlock-free way to shift data around a ring or swap with a partner. Returns how many
    /// elements arrived.
    @discardableResult
    public func sendRecv<T: MPIScalar>(send: UnsafeBufferPointer<T>, to destination: Int,
                                       recv: UnsafeMutableBufferPointer<T>, from source: Int,
                                       tag: Int = 0) throws(MPIError) -> Int {
        var status = MPI_Status()
        try check(MPI_Sendrecv(send.baseAddress, cInt(send.count, "count"), T.mpiDatatype.handle,
                               cInt(destination, "destination"), cInt(tag, "tag"),
                               recv.baseAddress, cInt(recv.count, "count"), T.mpiDatatype.handle,
                               cInt(source, "source"), cInt(tag, "tag"), handle, &status),
                  "MPI_Sendrecv")
        return try receivedCount(status, T.self)
    }

    /// Sends `values` to `destination` and returns the message of exactly `count` elements
    /// received from `source`.
    public func sendRecv<T: MPIScalar>(_ values: [T], to destination: Int, from source: Int,
                                       count: Int, tag: Int = 0) throws(MPIError) -> [T] {
        try [T](unsafeUninitializedCapacity: count) { (recv, initialized) throws(MPIError) in
            let received = try values.withUnsafeBufferPointer { (send) throws(MPIError) in
                try sendRecv(send: send, to: destination, recv: recv, from: source, tag: tag)
            }
            precondition(received == count, "sendRecv: expected \(count) elements from rank \(source), got \(received)")
            initialized = count
        }
    }

    /// The number of `T`s a completed receive delivered (`MPI_Get_count`).
    private func receivedCount<T: MPIScalar>(_ status: MPI_Status, _: T.Type) throws(MPIError) -> Int {
        var status = status
        var count: Int32 = 0
        try check(MPI_Get_count(&status, T.mpiDatatype.handle, &count), "MPI_Get_count")
        return Int(count)
    }
}
