/// A failed HDF5 call: which C function, on which file and object, and what HDF5 said.
///
/// Thrown for run-time failures (missing or corrupt files, absent datasets, wrong stored types);
/// programmer mistakes such as a buffer that does not match its shape trap instead.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// The C function that failed (`H5Fopen`), or the check that did (`read attribute`).
    public let operation: String
    /// The HDF5 file being worked on.
    public let file: String
    /// The dataset or attribute, when the call was about one.
    public let object: String?
    /// HDF5's outermost and innermost error messages, or the reason a check failed.
    public let detail: String

    public var description: String {
        let on = object.map { "\(file) [\($0)]" } ?? file
        return "HDF5 \(operation) failed on \(on): \(detail)"
    }
}
