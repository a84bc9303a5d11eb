internal import CMPI

/// A failed MPI call: the code it returned, the C function that returned it and MPI's own text
/// for the code (`MPI_Error_string`).
///
/// Every communicator this module hands out has `MPI_ERRORS_RETURN` set, so failures come back
/// here instead of aborting the process.
public struct MPIError: Error, CustomStringConvertible, Sendable {
    /// The code the C function returned (never `MPI_SUCCESS`).
    public let code: Int32
    /// The C function that failed, e.g. `"MPI_Send"`.
    public let operation: String
    /// MPI's description of `code`.
    public let message: String

    public var description: String {
        "\(operation) failed with MPI error \(code): \(message)"
    }
}

/// The one error-check funnel: every MPI call in this module passes its return code through here.
@inline(__always)
func check(_ code: Int32, _ operation: StaticString) throws(MPIError) {
    guard code == MPI_SUCCESS else { throw MPIError(code: code, operation: "\(operation)") }
}

extension MPIError {
    /// Builds the error, reading the code's text with `MPI_Error_string` (valid even before
    /// `MPI_Init`, so this works for start-up failures too).
    init(code: Int32, operation: String) {
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        let message: String
        if MPI_Error_string(code, &text, &length) == MPI_SUCCESS {
            message = string(text, length: length)
        } else {
            message = "unknown error code"
        }
        self.init(code: code, operation: operation, message: message)
    }
}

/// MPI counts, ranks and tags are C `int`s: a larger value is a programmer error.
@inline(__always)
func cInt(_ value: Int, _ what: StaticString) -> Int32 {
    guard let converted = Int32(exactly: value) else {
        preconditionFailure("\(what) \(value) does not fit in an MPI int")
    }
    return converted
}

/// The first `length` bytes of a character buffer that an MPI call filled in.
func string(_ characters: [CChar], length: Int32) -> String {
    String(decoding: characters.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
