internal import CMPI

/// Process-wide MPI state: start-up, shut-down, and the calls that need no communicator.
///
/// A process started without `mpirun` is a world of size 1; nothing here special-cases it.
public enum MPIEnvironment {
    /// Starts MPI unless it is running already (`MPI_Initialized`, then `MPI_Init_thread` asking
    /// for `MPI_THREAD_MULTIPLE`) and sets `MPI_ERRORS_RETURN` on `MPI_COMM_WORLD`.
    ///
    /// Safe to call any number of times from any thread: only the first call does work.
    /// `Communicator.world` calls it, so explicit calls are optional.
    public static func initialize() {
        _ = session
    }

    /// Whether MPI granted `MPI_THREAD_MULTIPLE`, i.e. any thread may call MPI at any time.
    public static var isThreadMultiple: Bool {
        session.threadLevel >= Int32(MPI_THREAD_MULTIPLE)
    }

    /// Shuts MPI down (`MPI_Finalize`); a no-op if MPI never started or is already shut down.
    /// Every rank calls it once, after its last MPI call; MPI cannot be started again.
    public static func finalize() throws(MPIError) {
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        try check(MPI_Initialized(&initialized), "MPI_Initialized")
        try check(MPI_Finalized(&finalized), "MPI_Finalized")
        guard initialized != 0, finalized == 0 else { return }
        try check(MPI_Finalize(), "MPI_Finalize")
    }

    /// Ends every rank of the job with `code` (`MPI_Abort` on `MPI_COMM_WORLD`).
    public static func abort(code: Int32) -> Never {
        _ = MPI_Abort(session.world.handle, code)
        fatalError("MPI_Abort(\(code)) returned")
    }

    /// Seconds since some fixed time in the past (`MPI_Wtime`); for measuring intervals.
    public static func wallTime() -> Double {
        initialize()
        return MPI_Wtime()
    }

    /// The name of the host this rank runs on (`MPI_Get_processor_name`).
    public static var processorName: String {
        get throws(MPIError) {
            initialize()
            var name = [CChar](repeating: 0, count: Int(MPI_MAX_PROCESSOR_NAME) + 1)
            var length: Int32 = 0
            try check(MPI_Get_processor_name(&name, &length), "MPI_Get_processor_name")
            return string(name, length: length)
        }
    }

    static var world: Communicator { session.world }

    /// Swift runs a static's initializer exactly once, on first use, under a lock: this is what
    /// makes `initialize()` idempotent and thread-safe.
    private static let session = Session.start()
}

/// What start-up produced: the granted thread level and the world communicator.
private struct Session: Sendable {
    let threadLevel: Int32
    let world: Communicator

    static func start() -> Session {
        do throws(MPIError) {
            var initialized: Int32 = 0
            var finalized: Int32 = 0
            var level: Int32 = 0
            try check(MPI_Finalized(&finalized), "MPI_Finalized")
            precondition(finalized == 0, "MPI used after MPI_Finalize")
            try check(MPI_Initialized(&initialized), "MPI_Initialized")
            if initialized == 0 {
                try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_MULTIPLE), &level), "MPI_Init_thread")
            } else {
                try check(MPI_Query_thread(&level), "MPI_Query_thread")
            }
            return Session(threadLevel: level, world: try Communicator(adopting: tessera_MPI_COMM_WORLD()))
        } catch {
            // Before this succeeds no communicator exists to return an error on: nothing can go on.
            fatalError("cannot start MPI: \(error)")
        }
    }
}
