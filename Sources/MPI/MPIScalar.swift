internal import CMPI

/// An MPI datatype handle (`MPI_Datatype`) for one element type.
public struct MPIDatatype: @unchecked Sendable {
    // Predefined datatypes are immutable process-wide constants: sharing them is safe.
    let handle: OpaquePointer
}

/// An element type that MPI can send and reduce directly.
///
/// A type with the same bytes as a conforming type may conform by returning that type's
/// datatype (a bf16 wrapper as `UInt16.mpiDatatype`, for instance).
public protocol MPIScalar: BitwiseCopyable, Sendable {
    /// The predefined MPI datatype with this type's size and meaning.
    static var mpiDatatype: MPIDatatype { get }
}

extension Float: MPIScalar {
    /// `MPI_FLOAT`
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: tessera_MPI_FLOAT()) }
}

extension Double: MPIScalar {
    /// `MPI_DOUBLE`
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: tessera_MPI_DOUBLE()) }
}

extension Int32: MPIScalar {
    /// `MPI_INT32_T`
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: tessera_MPI_INT32_T()) }
}

extension Int64: MPIScalar {
    /// `MPI_INT64_T`
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: tessera_MPI_INT64_T()) }
}

extension UInt8: MPIScalar {
    /// `MPI_UINT8_T`
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: tessera_MPI_UINT8_T()) }
}

extension UInt16: MPIScalar {
    /// `MPI_UINT16_T`
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: tessera_MPI_UINT16_T()) }
}

extension UInt32: MPIScalar {
    /// `MPI_UINT32_T`
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: tessera_MPI_UINT32_T()) }
}

extension UInt64: MPIScalar {
    /// `MPI_UINT64_T`
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: tessera_MPI_UINT64_T()) }
}
