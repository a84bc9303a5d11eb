internal import CMPI

/// An operation in flight (`MPI_Request`), started by a non-blocking call.
///
/// The request holds the operation's buffer until MPI reports the operation complete (through
/// `wait`, `test` or `waitAll`), so the buffer cannot be freed while MPI still uses it. A request
/// dropped before completion keeps its buffer forever, a deliberate leak, rather than let MPI
/// touch freed memory.
public final class Request: @unchecked Sendable {
    // Any thread may complete a request under MPI_THREAD_MULTIPLE, but, as with the MPI_Request
    // it wraps, only one thread at a time: the stored state is not locked.
    private var handle: MPI_Request?
    private var buffer: AnyObject?

    init(handle: MPI_Request?, keepingAlive buffer: AnyObject) {
        self.handle = handle
        self.buffer = buffer
    }

    deinit {
        if let buffer, !isDone {
            _ = Unmanaged.passRetained(buffer)
        }
    }

    /// Blocks until the operation completes (`MPI_Wait`); returns at once if it already has.
    public func wait() throws(MPIError) {
        let code = MPI_Wait(&handle, tessera_MPI_STATUS_IGNORE())
        releaseBufferIfDone()
        try check(code, "MPI_Wait")
    }

    /// Whether the operation has completed, without blocking (`MPI_Test`). Polling with `test`
    /// also lets MPI make progress on it.
    public func test() throws(MPIError) -> Bool {
        var flag: Int32 = 0
        let code = MPI_Test(&handle, &flag, tessera_MPI_STATUS_IGNORE())
        releaseBufferIfDone()
        try check(code, "MPI_Test")
        return flag != 0
    }

    /// Blocks until every request completes (`MPI_Waitall`). Each request may appear once.
    public static func waitAll(_ requests: [Request]) throws(MPIError) {
        precondition(Set(requests.map(ObjectIdentifier.init)).count == requests.count,
                     "waitAll: the same request appears more than once")
        var handles = requests.map(\.handle)
        let code = MPI_Waitall(cInt(handles.count, "count"), &handles, tessera_MPI_STATUSES_IGNORE())
        for (request, handle) in zip(requests, handles) {
            request.handle = handle
            request.releaseBufferIfDone()
        }
        try check(code, "MPI_Waitall")
    }

    /// MPI resets a request's handle to `MPI_REQUEST_NULL` exactly when the operation completes.
    private var isDone: Bool {
        handle == tessera_MPI_REQUEST_NULL()
    }

    private func releaseBufferIfDone() {
        if isDone {
            buffer = nil
        }
    }
}
