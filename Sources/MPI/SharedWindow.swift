internal import CMPI

extension Communicator {
    /// The ranks of this communicator that share memory with this one, usually those on the same
    /// node (`MPI_Comm_split_type` with `MPI_COMM_TYPE_SHARED`), ordered as here. Every rank must
    /// call it.
    public func splitByNode() throws(MPIError) -> Communicator {
        var newHandle: MPI_Comm? = nil
        try check(MPI_Comm_split_type(handle, Int32(MPI_COMM_TYPE_SHARED), cInt(rank, "key"),
                                      tessera_MPI_INFO_NULL(), &newHandle), "MPI_Comm_split_type")
        return try Communicator(adopting: newHandle!)
    }
}

/// Memory that every rank of a one-node communicator can read and write directly
/// (`MPI_Win_allocate_shared`): one slot of `slotBytes` per rank, each rank's slot addressable by
/// every rank. Collectives over it move data with plain loads and stores instead of MPI's copies
/// through its own shared segment.
///
/// Ranks order their accesses with `synchronize()`: what a rank stored before the call is visible
/// to every rank after it. The window lives as long as the process (MPI releases it at
/// finalisation): freeing is collective, which no deinitialiser can guarantee.
public final class SharedWindow: @unchecked Sendable {
    public let communicator: Communicator
    public let slotBytes: Int
    private let window: MPI_Win
    private let slots: [UnsafeMutableRawPointer]

    /// Allocates the slots. Every rank of `communicator`, which must share memory (`splitByNode`),
    /// must call it with the same `slotBytes`.
    public init(communicator: Communicator, slotBytes: Int) throws(MPIError) {
        precondition(slotBytes > 0, "SharedWindow needs a positive slot size, got \(slotBytes)")
        var base: UnsafeMutableRawPointer? = nil
        var window: MPI_Win? = nil
        try check(MPI_Win_allocate_shared(MPI_Aint(slotBytes), 1, tessera_MPI_INFO_NULL(), communicator.handle,
                                          &base, &window), "MPI_Win_allocate_shared")
        guard let window else { throw MPIError(code: MPI_ERR_WIN, operation: "MPI_Win_allocate_shared") }
        try check(MPI_Win_set_errhandler(window, tessera_MPI_ERRORS_RETURN()), "MPI_Win_set_errhandler")
        var slots: [UnsafeMutableRawPointer] = []
        for r in 0..<communicator.size {
            var size: MPI_Aint = 0
            var unit: Int32 = 0
            var slot: UnsafeMutableRawPointer? = nil
            try check(MPI_Win_shared_query(window, Int32(r), &size, &unit, &slot), "MPI_Win_shared_query")
            guard let slot, size >= slotBytes else {
                throw MPIError(code: MPI_ERR_SIZE, operation: "MPI_Win_shared_query")
            }
            slots.append(slot)
        }
        // One passive-target epoch for the window's whole life; `synchronize` orders accesses.
        try check(MPI_Win_lock_all(MPI_MODE_NOCHECK, window), "MPI_Win_lock_all")
        self.communicator = communicator
        self.slotBytes = slotBytes
        self.window = window
        self.slots = slots
    }

    /// Rank r's slot, readable and writable by every rank.
    public func slot<T>(_ r: Int, as type: T.Type) -> UnsafeMutablePointer<T> {
        slots[r].assumingMemoryBound(to: type)
    }

    /// Every rank's stores before this call are visible to every rank after it
    /// (`MPI_Win_sync`, `MPI_Barrier`, `MPI_Win_sync`). Every rank must call it.
    public func synchronize() throws(MPIError) {
        try check(MPI_Win_sync(window), "MPI_Win_sync")
        try communicator.barrier()
        try check(MPI_Win_sync(window), "MPI_Win_sync")
    }
}
