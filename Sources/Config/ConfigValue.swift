/// One TOML scalar as the config sees it: what a key, a `--set` value or a stage override holds.
public enum ConfigValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case string(String)
    case bool(Bool)

    /// The TOML literal: strings quoted and escaped, floats in Swift's shortest round-trip form.
    public var description: String {
        switch self {
        case .int(let value): value.description
        case .float(let value): value.description
        case .string(let value): ConfigValue.quoted(value)
        case .bool(let value): value.description
        }
    }

    /// "an integer", "a string", ...: for "must be X, got Y" messages.
    var typeName: String {
        switch self {
        case .int: "an integer"
        case .float: "a float"
        case .string: "a string"
        case .bool: "a boolean"
        }
    }

    /// A TOML basic string: `"` and `\` escaped, control characters as escapes.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .float(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .float(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        }
    }
}
