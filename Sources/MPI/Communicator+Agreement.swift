/// Calls that bring every rank to the same decision, so that an error one rank sees before
/// training stops all ranks together instead of leaving the others waiting in a collective.
extension Communicator {
    /// `root`'s string, on every rank (`MPI_Bcast` of its UTF-8 length, then of its bytes).
    /// The other ranks' `string` is ignored. Every rank must call it.
    public func broadcast(string: String, root: Int) throws(MPIError) -> String {
        var length = [Int64(rank == root ? string.utf8.count : 0)]
        try broadcast(&length, root: root)
        var bytes = rank == root ? Array(string.utf8) : [UInt8](repeating: 0, count: Int(length[0]))
        try broadcast(&bytes, root: root)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The lowest rank that reports a failure and its message, known to every rank; `nil` when
    /// no rank failed. Every rank must call it, passing its own error message or `nil`.
    public func firstFailure(_ localMessage: String?) throws(MPIError) -> (rank: Int, message: String)? {
        // A rank without a failure votes `size`, which loses the minimum to any real rank.
        let first = Int(try allReduce(Int64(localMessage == nil ? size : rank), op: .min))
        guard first < size else { return nil }
        return (first, try broadcast(string: localMessage ?? "", root: first))
    }
}
