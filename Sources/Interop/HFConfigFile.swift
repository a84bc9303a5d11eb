import Data
import FileSystem

/// A Hugging Face `config.json`, read as untrusted input: a bounded regular file of UTF-8 JSON
/// holding one object whose keys are unique (Python's json would keep the last of two equal keys,
/// transformers would then see another model than ours). Values are read by key with their type
/// checked, and every refusal names the file and the key.
public struct HFConfigFile: Sendable {
    public static let fileName = "config.json"
    /// transformers writes a few KiB; a config of more than this is not one.
    static let maxSize = 1 << 20

    public let path: String
    private let members: [String: JSONValue]

    public init(path: String) throws(InteropError) {
        let text: String
        do throws(FileReadError) {
            text = try readUTF8File(path, limit: Self.maxSize)
        } catch {
            throw InteropError(error)
        }
        let json: JSONValue
        do throws(JSONReader.Failure) {
            json = try JSONReader.parse(Array(text.utf8))
        } catch {
            throw InteropError(path, "is not JSON: \(error.reason) at byte \(error.column)")
        }
        guard case let .object(pairs) = json else { throw InteropError(path, "holds \(json.compact.prefix(40)), not a JSON object") }
        var members: [String: JSONValue] = [:]
        for (key, value) in pairs {
            guard members.updateValue(value, forKey: key) == nil else {
                throw InteropError(path, "gives key \(quoted(key)) twice")
            }
        }
        self.path = path
        self.members = members
    }

    /// The value of `key`; nil when it is absent or null (transformers reads both as "not set").
    func value(_ key: String) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    /// A size: an integer in 1...`largest`, required.
    func size(_ key: String, largest: Int = 1 << 24) throws(InteropError) -> Int {
        guard let value = value(key) else { throw InteropError(path, "has no \(quoted(key)) (an integer the model needs)") }
        guard case let .number(text) = value, let number = Int(text), (1...largest).contains(number) else {
            throw InteropError(path, "\(key) = \(value.compact) is not an integer in [1, \(largest)]")
        }
        return number
    }

    /// A string, or `fallback` when the key is absent.
    func string(_ key: String, default fallback: String) throws(InteropError) -> String {
        guard let value = value(key) else { return fallback }
        guard case let .string(text) = value else { throw InteropError(path, "\(key) = \(value.compact) is not a string") }
        return text
    }

    /// A boolean, or `fallback` when the key is absent.
    func bool(_ key: String, default fallback: Bool) throws(InteropError) -> Bool {
        guard let value = value(key) else { return fallback }
        guard case let .bool(flag) = value else { throw InteropError(path, "\(key) = \(value.compact) is not true or false") }
        return flag
    }

    /// A number, or `fallback` when the key is absent.
    func number(_ key: String, default fallback: Double) throws(InteropError) -> Double {
        guard let value = value(key) else { return fallback }
        guard case let .number(text) = value, let number = Double(text), number.isFinite else {
            throw InteropError(path, "\(key) = \(value.compact) is not a number")
        }
        return number
    }

    /// A list of strings, or [] when the key is absent.
    func strings(_ key: String) throws(InteropError) -> [String] {
        guard let value = value(key) else { return [] }
        guard case let .array(items) = value else { throw InteropError(path, "\(key) = \(value.compact) is not a list of strings") }
        var strings: [String] = []
        for item in items {
            guard case let .string(text) = item else { throw InteropError(path, "\(key) = \(value.compact) is not a list of strings") }
            strings.append(text)
        }
        return strings
    }

    /// Refuses `key` unless its value (or `fallback` when absent) passes `accepts`, saying what
    /// Tessera can represent.
    func require(_ key: String, default fallback: JSONValue, _ accepts: (JSONValue) -> Bool,
                 _ reason: String) throws(InteropError) {
        let value = value(key) ?? fallback
        guard accepts(value) else { throw InteropError(path, "\(key) = \(value.compact): \(reason)") }
    }
}

/// `members` as transformers writes a config.json: an object of one member per line, indented by two
/// spaces, nested lists one item per line.
func prettyJSON(_ members: [(key: String, value: JSONValue)]) -> String {
    func render(_ value: JSONValue, indent: String) -> String {
        switch value {
        case let .array(items) where !items.isEmpty:
            let inner = indent + "  "
            return "[\n" + items.map { inner + render($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case let .object(pairs) where !pairs.isEmpty:
            let inner = indent + "  "
            return "{\n" + pairs.map { inner + JSONValue.string($0.key).compact + ": " + render($0.value, indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return value.compact
        }
    }
    return render(.object(members), indent: "") + "\n"
}
