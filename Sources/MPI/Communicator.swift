internal import CMPI

/// A group of ranks that talk to each other (`MPI_Comm`).
///
/// Every communicator this module creates returns errors (`MPI_ERRORS_RETURN`) rather than
/// aborting, so each call throws `MPIError`. Rank and size are read once at creation: a
/// communicator's membership never changes. Collective calls must be made by every rank of the
/// communicator, in the same order.
public struct Communicator: @unchecked Sendable {
    // An MPI_Comm is an immutable handle that any thread may use under MPI_THREAD_MULTIPLE.

    /// The raw `MPI_Comm`, for C libraries that take one (HDF5's `H5Pset_fapl_mpio`).
    public let handle: OpaquePointer
    /// This process's rank in the communicator, in `0..<size`.
    public let rank: Int
    /// The number of ranks in the communicator.
    public let size: Int

    /// Takes over `handle`: sets `MPI_ERRORS_RETURN` on it (`MPI_Comm_set_errhandler`) and reads
    /// rank and size (`MPI_Comm_rank`, `MPI_Comm_size`).
    init(adopting handle: OpaquePointer) throws(MPIError) {
        try check(MPI_Comm_set_errhandler(handle, tessera_MPI_ERRORS_RETURN()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0
        var size: Int32 = 0
        try check(MPI_Comm_rank(handle, &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(handle, &size), "MPI_Comm_size")
        self.handle = handle
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// All ranks of the job (`MPI_COMM_WORLD`); starts MPI on first use.
    public static var world: Communicator {
        MPIEnvironment.world
    }

    /// Splits the ranks into groups by `color`, ordered within a group by `key` then by rank
    /// here (`MPI_Comm_split`). Every rank must call it. A rank passing a `nil` color
    /// (`MPI_UNDEFINED`) joins no group and gets `nil`.
    public func split(color: Int?, key: Int) throws(MPIError) -> Communicator? {
        let cColor: Int32
        if let color {
            precondition(color >= 0, "split color must be non-negative, got \(color)")
            cColor = cInt(color, "color")
        } else {
            cColor = tessera_MPI_UNDEFINED()
        }
        var newHandle: MPI_Comm? = nil
        try check(MPI_Comm_split(handle, cColor, cInt(key, "key"), &newHandle), "MPI_Comm_split")
        guard let newHandle, newHandle != tessera_MPI_COMM_NULL() else { return nil }
        return try Communicator(adopting: newHandle)
    }

    /// A new communicator with the same ranks and a separate message space (`MPI_Comm_dup`),
    /// so that a library's traffic cannot match the caller's. Every rank must call it.
    public func duplicate() throws(MPIError) -> Communicator {
        var newHandle: MPI_Comm? = nil
        try check(MPI_Comm_dup(handle, &newHandle), "MPI_Comm_dup")
        return try Communicator(adopting: newHandle!)
    }

    /// Releases a communicator made by `split` or `duplicate` (`MPI_Comm_free`). Every rank of
    /// it must call this, and no copy of it may be used afterwards.
    public func free() throws(MPIError) {
        precondition(handle != tessera_MPI_COMM_WORLD() && handle != tessera_MPI_COMM_SELF(),
                     "MPI_COMM_WORLD and MPI_COMM_SELF cannot be freed")
        var freed: MPI_Comm? = handle
        try check(MPI_Comm_free(&freed), "MPI_Comm_free")
    }

    /// Waits until every rank has reached this call (`MPI_Barrier`).
    public func barrier() throws(MPIError) {
        try check(MPI_Barrier(handle), "MPI_Barrier")
    }
}
