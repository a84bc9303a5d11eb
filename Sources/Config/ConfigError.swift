/// A config problem found before training starts. `description` is one line naming the file or the
/// dotted key and what is wrong; the command line prints it after `error: ` and exits 2.
///
/// `source` says where a value came from: a file path, `--set KEY=VALUE`, or `stage 'NAME' of FILE`.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    case unreadableFile(path: String, reason: String)
    case malformedTOML(source: String, line: Int, column: Int, message: String)
    case unknownSection(section: String, source: String, suggestion: String?)
    case unknownKey(key: String, source: String, suggestion: String?)
    case wrongType(key: String, expected: String, found: String, source: String)
    case badOverride(text: String, reason: String)
    /// A value out of range, not one of a key's choices, or missing something it requires.
    case badValue(key: String, message: String)
    /// A layout the world size cannot realise; the message names the keys and numbers.
    case badLayout(message: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "config file '\(path)' does not exist"
        case .unreadableFile(let path, let reason):
            "cannot read config file '\(path)': \(reason)"
        case .malformedTOML(let source, let line, let column, let message):
            "malformed TOML in \(source) at line \(line), column \(column): \(message)"
        case .unknownSection(let section, let source, let suggestion):
            "unknown section '\(section)' in \(source)" + ConfigError.hint(suggestion)
        case .unknownKey(let key, let source, let suggestion):
            "unknown key '\(key)' in \(source)" + ConfigError.hint(suggestion)
        case .wrongType(let key, let expected, let found, let source):
            "\(key) must be \(expected), got \(found) in \(source)"
        case .badOverride(let text, let reason):
            "bad --set '\(text)': \(reason)"
        case .badValue(_, let message), .badLayout(let message):
            message
        }
    }

    private static func hint(_ suggestion: String?) -> String {
        suggestion.map { "; did you mean '\($0)'?" } ?? ""
    }
}
