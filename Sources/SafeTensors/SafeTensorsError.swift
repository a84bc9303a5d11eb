import FileSystem

/// Anything wrong with a safetensors file, index or folder, said in one line that names the file
/// and what is wrong, so that a command can print `error: \(error)` and exit 2:
/// `model.safetensors: tensor 'h.0.attn.c_attn.weight': data_offsets [0, 96] hold 96 bytes but F32 [4, 8] needs 128`.
public struct SafeTensorsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or folder) at fault, as the caller named it.
    public let path: String
    /// What is wrong, after "PATH: ".
    public let message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }

    /// A file that could not be opened as a regular file.
    init(_ error: FileReadError) { self.init(error.path, error.message) }
}
