import FileSystem
import SafeTensors

/// Anything wrong with a Hugging Face folder, or with a model that has no Hugging Face form, in one
/// line that names the file (or folder) and what is wrong, so a command can print
/// `error: \(error)` and exit 2: `out/config.json: n_layer = 2, but the run's model.n_layer = 3`.
public struct InteropError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or folder at fault, as the caller named it.
    public let path: String
    /// What is wrong, after "PATH: ".
    public let message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }

    init(_ error: SafeTensorsError) { self.init(error.path, error.message) }
    init(_ error: FileReadError) { self.init(error.path, error.message) }
}

/// `'text'` for messages.
func quoted(_ text: String) -> String { "'\(text)'" }

/// "[4, 8]": a shape as messages write it.
func bracketed(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ", ") + "]" }
