/// How a job (mpirun) ended, as a shell reports it: an exit code, or 128 + N for signal N.
public struct JobStatus: Equatable, Sendable {
    public let code: Int32

    public init(code: Int32) { self.code = code }

    /// From waitpid's status word.
    public init(waitStatus: Int32) {
        let signal = waitStatus & 0x7F
        code = signal == 0 ? (waitStatus >> 8) & 0xFF : 128 + signal
    }

    /// Exit 2: bad usage, config or input, which no restart can fix.
    public var isBadInput: Bool { code == 2 }

    /// Exit 3: a monitored condition stopped the job on purpose (an `[[alarm]]` with
    /// `action = "stop"`, after saving a checkpoint), which a restart would only repeat.
    public var isMonitoredStop: Bool { code == 3 }

    /// In words: "exit 1 (a failure during the run)", "signal 9 (KILL, exit 137)", or for any
    /// other status, mpirun's own failure (an OpenMPI error code, not tessera's).
    public var description: String {
        if code > 128 && code <= 128 + 64 {
            let signal = Int(code - 128)
            if signal < Self.signalNames.count { return "signal \(signal) (\(Self.signalNames[signal]), exit \(code))" }
            return "signal \(signal) (exit \(code))"
        }
        switch code {
        case 1: return "exit 1 (a failure during the run)"
        case 2: return "exit 2 (bad usage, config or input)"
        case 3: return "exit 3 (stopped by an alarm)"
        default:
            return "exit \(code) (not tessera's own status but mpirun's: e.g. it lost contact with a node's daemon, or could not start one)"
        }
    }

    /// Linux's signal names, by number.
    static let signalNames = ["", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
                              "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
                              "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"]
}
