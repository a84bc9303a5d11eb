import TOMLKit

/// Reads TOML text into a `TesseraConfig` through `Schema`, so every unknown name and wrong type is
/// reported with its dotted key. Nothing of TOMLKit outlives a call (its types are not Sendable).
enum TOMLReader {
    /// Parses `text` (named `source` in errors) and writes each key it sets onto `config`.
    static func read(_ text: String, source: String, into config: inout TesseraConfig) throws {
        let root = try parse(text, source: source)
        for (name, node) in root {
            switch name {
            case "stage":
                config.stages = try stages(node, source: source)
                continue
            case EvalEntry.schema.table:
                config.evals = try entries(node, EvalEntry.schema, blank: EvalEntry(), source: source)
                continue
            case AlarmRule.schema.table:
                config.alarms = try entries(node, AlarmRule.schema, blank: AlarmRule(), source: source)
                continue
            default:
                break
            }
            guard Schema.sections.contains(name) else {
                if node.type == .table {
                    throw ConfigError.unknownSection(
                        section: name, source: source,
                        suggestion: Suggestion.nearest(to: name, in: Schema.sections + Schema.tableArrays))
                }
                throw ConfigError.unknownKey(key: name, source: source,
                                             suggestion: Suggestion.nearest(to: name, in: Schema.allKeys))
            }
            guard let table = node.table else {
                throw ConfigError.wrongType(key: name, expected: "a table ([\(name)])", found: typeName(node),
                                            source: source)
            }
            for (key, value) in table {
                let spec = try lookUp(name + "." + key, source: source)
                try spec.write(try scalar(value, for: spec, source: source), to: &config, source: source)
            }
        }
    }

    /// Parses one TOML value, as written after `=` in a `--set`; nil when it is not valid TOML.
    static func value(_ text: String, for spec: KeySpec, source: String) throws -> ConfigValue? {
        let document = "v = " + text
        guard !text.contains(where: \.isNewline), (try? TOMLGuard.check(document, source: source)) != nil,
              let table = try? TOMLTable(string: document), table.count == 1, let node = table["v"] else { return nil }
        return try scalar(node, for: spec, source: source)
    }

    static func lookUp(_ key: String, source: String) throws -> KeySpec {
        guard let spec = Schema.spec(key) else {
            throw ConfigError.unknownKey(key: key, source: source,
                                         suggestion: Suggestion.nearest(to: key, in: Schema.allKeys))
        }
        return spec
    }

    /// `[[eval]]` or `[[alarm]]` tables, each read over `blank` through its schema; errors name the
    /// entry by its place (`[[alarm]] 2 of FILE`).
    private static func entries<Entry>(_ node: any TOMLValueConvertible, _ schema: EntrySchema<Entry>, blank: Entry,
                                       source: String) throws -> [Entry] {
        guard let array = node.array, array.allSatisfy({ $0.table != nil }) else {
            throw ConfigError.wrongType(key: schema.table, expected: "an array of tables ([[\(schema.table)]])",
                                        found: typeName(node.array?.first(where: { $0.table == nil }) ?? node), source: source)
        }
        return try array.enumerated().map { index, element in
            let entrySource = "[[\(schema.table)]] \(index + 1) of \(source)"
            var entry = blank
            for (key, value) in element.table! {
                guard let scalar = scalarValue(value) else {
                    throw ConfigError.wrongType(key: schema.table + "." + key, expected: "a string or a number",
                                                found: typeName(value), source: entrySource)
                }
                try schema.write(key, scalar, to: &entry, source: entrySource)
            }
            return entry
        }
    }

    private static func parse(_ text: String, source: String) throws -> TOMLTable {
        try TOMLGuard.check(text, source: source)
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let message = error.description.split(whereSeparator: \.isNewline).joined(separator: " ")
            throw ConfigError.malformedTOML(source: source, line: error.source.begin.line,
                                            column: error.source.begin.column, message: message)
        }
    }

    /// `[[stage]]` tables: a `name` and a `set` table whose keys are dotted config keys, written
    /// quoted (`"train.steps" = 1`) or nested (`train.steps = 1`). Values are normalised to the
    /// key's type (an integer for a float key becomes a float) so round trips compare equal.
    private static func stages(_ node: any TOMLValueConvertible, source: String) throws -> [Stage] {
        guard let array = node.array else {
            throw ConfigError.wrongType(key: "stage", expected: "an array of tables ([[stage]])",
                                        found: typeName(node), source: source)
        }
        var stages: [Stage] = []
        for element in array {
            guard let table = element.table else {
                throw ConfigError.wrongType(key: "stage", expected: "a table ([[stage]])",
                                            found: typeName(element), source: source)
            }
            var name = ""
            var overrides: TOMLTable?
            var drift: DriftGate?
            for (key, value) in table {
                switch key {
                case "name":
                    guard let text = value.string else {
                        throw ConfigError.wrongType(key: "stage.name", expected: "a string",
                                                    found: typeName(value), source: source)
                    }
                    name = text
                case "set":
                    guard let set = value.table else {
                        throw ConfigError.wrongType(key: "stage.set", expected: "a table of dotted keys",
                                                    found: typeName(value), source: source)
                    }
                    overrides = set
                case "drift":
                    drift = try driftGate(value, source: source)
                default:
                    throw ConfigError.unknownKey(
                        key: "stage." + key, source: source,
                        suggestion: Suggestion.nearest(to: "stage." + key, in: ["stage.name", "stage.set", "stage.drift"]))
                }
            }
            let stageSource = "stage '\(name)' of \(source)"
            var set: [String: ConfigValue] = [:]
            for (key, value) in flatten(overrides, prefix: "") {
                let spec = try lookUp(key, source: stageSource)
                var scratch = TesseraConfig()
                try spec.write(try scalar(value, for: spec, source: stageSource), to: &scratch, source: stageSource)
                set[key] = spec.read(scratch)
            }
            stages.append(Stage(name: name, set: set, drift: drift))
        }
        return stages
    }

    /// A stage's `drift` table: strings `reference`, `current`, `checkpoint`, `metric` (js, psi or
    /// loss) and a number `threshold`.
    private static func driftGate(_ node: any TOMLValueConvertible, source: String) throws -> DriftGate {
        guard let table = node.table else {
            throw ConfigError.wrongType(key: "stage.drift", expected: "a table", found: typeName(node), source: source)
        }
        var gate = DriftGate()
        for (key, value) in table {
            let dotted = "stage.drift." + key
            if key == "threshold" {
                guard let number = value.double ?? value.int.map(Double.init) else {
                    throw ConfigError.wrongType(key: dotted, expected: "a number", found: typeName(value), source: source)
                }
                gate.threshold = number
                continue
            }
            guard DriftGate.keys.contains(key) else {
                throw ConfigError.unknownKey(key: dotted, source: source,
                                             suggestion: Suggestion.nearest(to: dotted, in: DriftGate.keys.map { "stage.drift." + $0 }))
            }
            guard let text = value.string else {
                throw ConfigError.wrongType(key: dotted, expected: "a string", found: typeName(value), source: source)
            }
            switch key {
            case "reference": gate.reference = text
            case "current": gate.current = text
            case "checkpoint": gate.checkpoint = text
            default:
                guard let metric = DriftMetric(rawValue: text) else {
                    throw ConfigError.badValue(key: dotted, message: "\(dotted) = \"\(text)\" must be one of "
                        + DriftMetric.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
                }
                gate.metric = metric
            }
        }
        return gate
    }

    private static func flatten(_ table: TOMLTable?, prefix: String) -> [(String, any TOMLValueConvertible)] {
        guard let table else { return [] }
        return table.flatMap { key, value in
            value.table.map { flatten($0, prefix: prefix + key + ".") } ?? [(prefix + key, value)]
        }
    }

    private static func scalar(_ node: any TOMLValueConvertible, for spec: KeySpec, source: String) throws
        -> ConfigValue
    {
        if let value = scalarValue(node) { return value }
        throw ConfigError.wrongType(key: spec.key, expected: spec.access.expected, found: typeName(node),
                                    source: source)
    }

    /// An integer, float, string or boolean; nil for tables, arrays, dates and times.
    private static func scalarValue(_ node: any TOMLValueConvertible) -> ConfigValue? {
        switch node.type {
        case .int: node.int.map { .int($0) }
        case .double: node.double.map { .float($0) }
        case .string: node.string.map { .string($0) }
        case .bool: node.bool.map { .bool($0) }
        default: nil
        }
    }

    private static func typeName(_ node: any TOMLValueConvertible) -> String {
        switch node.type {
        case .table: "a table"
        case .array: "an array"
        case .int: "an integer"
        case .double: "a float"
        case .string: "a string"
        case .bool: "a boolean"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}
