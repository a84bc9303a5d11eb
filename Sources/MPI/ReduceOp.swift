internal import CMPI

/// A predefined reduction for the reducing collectives.
public enum ReduceOp: Sendable {
    /// `MPI_SUM`
    case sum
    /// `MPI_MAX`
    case max
    /// `MPI_MIN`
    case min

    var handle: OpaquePointer {
        switch self {
        case .sum: tessera_MPI_SUM()
        case .max: tessera_MPI_MAX()
        case .min: tessera_MPI_MIN()
        }
    }
}
