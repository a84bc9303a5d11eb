/// The keys of one kind of array-of-tables entry (`[[eval]]`, `[[alarm]]`): the one place that ties
/// each TOML name to a property of the entry, for reading and for `tomlText()`.
struct EntrySchema<Entry: Sendable>: Sendable {
    /// The table's name: `eval` in `[[eval]]`.
    let table: String
    let fields: [Field]

    struct Field: Sendable {
        let name: String
        let access: Access
    }

    enum Access: Sendable {
        case text(WritableKeyPath<Entry, String> & Sendable)
        case integer(WritableKeyPath<Entry, Int> & Sendable)
        case number(WritableKeyPath<Entry, Double> & Sendable)
        case choice(names: [String], read: @Sendable (Entry) -> String, write: @Sendable (inout Entry, String) -> Bool)

        static func choice<E: RawRepresentable & CaseIterable & Sendable>(
            _ path: WritableKeyPath<Entry, E> & Sendable
        ) -> Access where E.RawValue == String {
            .choice(names: E.allCases.map(\.rawValue), read: { $0[keyPath: path].rawValue },
                    write: { entry, text in
                        guard let value = E(rawValue: text) else { return false }
                        entry[keyPath: path] = value
                        return true
                    })
        }

        var expected: String {
            switch self {
            case .text: "a string"
            case .integer: "an integer"
            case .number: "a number"
            case .choice(let names, _, _): "one of " + names.joined(separator: ", ")
            }
        }
    }

    /// Dotted names (`eval.name`), for suggestions.
    var keys: [String] { fields.map { table + "." + $0.name } }

    /// Sets field `name` of `entry` from `value`, accepting an integer for a number; an unknown
    /// name, a wrong type, a non-finite number or a word outside a choice is a ConfigError.
    func write(_ name: String, _ value: ConfigValue, to entry: inout Entry, source: String) throws {
        let key = table + "." + name
        guard let field = fields.first(where: { $0.name == name }) else {
            throw ConfigError.unknownKey(key: key, source: source, suggestion: Suggestion.nearest(to: key, in: keys))
        }
        switch (field.access, value) {
        case (.text(let path), .string(let text)):
            entry[keyPath: path] = text
        case (.integer(let path), .int(let number)):
            entry[keyPath: path] = number
        case (.number(let path), .int(let number)):
            entry[keyPath: path] = Double(number)
        case (.number(let path), .float(let number)):
            guard number.isFinite else {
                throw ConfigError.badValue(key: key, message: "\(key) must be finite, got \(number) in \(source)")
            }
            entry[keyPath: path] = number
        case (.choice(_, _, let write), .string(let text)):
            guard write(&entry, text) else {
                throw ConfigError.badValue(key: key, message: "\(key) must be \(field.access.expected), got \(value) in \(source)")
            }
        default:
            throw ConfigError.wrongType(key: key, expected: field.access.expected, found: "\(value.typeName) \(value)",
                                        source: source)
        }
    }

    /// The entry as a TOML table, every field in schema order.
    func toml(_ entry: Entry) -> [String] {
        ["[[\(table)]]"] + fields.map { field in
            let value: ConfigValue = switch field.access {
            case .text(let path): .string(entry[keyPath: path])
            case .integer(let path): .int(entry[keyPath: path])
            case .number(let path): .float(entry[keyPath: path])
            case .choice(_, let read, _): .string(read(entry))
            }
            return "\(field.name) = \(value)"
        }
    }
}

extension EvalEntry {
    static let schema = EntrySchema<EvalEntry>(table: "eval", fields: [
        .init(name: "name", access: .text(\.name)),
        .init(name: "path", access: .text(\.path)),
        .init(name: "kind", access: .choice(\.kind)),
        .init(name: "every", access: .integer(\.every)),
    ])
}

extension AlarmRule {
    static let schema = EntrySchema<AlarmRule>(table: "alarm", fields: [
        .init(name: "metric", access: .text(\.metric)),
        .init(name: "when", access: .choice(\.when)),
        .init(name: "value", access: .number(\.value)),
        .init(name: "window", access: .integer(\.window)),
        .init(name: "action", access: .choice(\.action)),
        .init(name: "command", access: .text(\.command)),
    ])
}
