/// `--set section.key=value`: one key overridden on the command line, after the file is read.
///
/// The value is a TOML value (integer, float, boolean, quoted string). For string-typed keys a
/// value that does not start with a quote is taken verbatim, so `--set data.path=data/x.txt` and
/// `--set data.tokenizer=byte` work without shell-escaped quotes; `loss_scale` takes bare words
/// and numbers alike (`dynamic`, `none`, `1024`).
enum Override {
    static func apply(_ text: String, to config: inout TesseraConfig) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw ConfigError.badOverride(text: text, reason: "expected KEY=VALUE, e.g. model.n_layer=2")
        }
        let key = text[..<equals].trimmingSpaces
        let raw = text[text.index(after: equals)...].trimmingSpaces
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigError.badOverride(text: text, reason: "the key must be section.key, e.g. model.n_layer")
        }
        let source = "--set " + text
        let section = String(parts[0])
        guard Schema.sections.contains(section) else {
            throw ConfigError.unknownSection(section: section, source: source,
                                             suggestion: Suggestion.nearest(to: section, in: Schema.sections))
        }
        let spec = try TOMLReader.lookUp(key, source: source)
        try spec.write(try value(raw, for: spec, text: text, source: source), to: &config, source: source)
    }

    private static func value(_ raw: String, for spec: KeySpec, text: String, source: String) throws
        -> ConfigValue
    {
        let quoted = raw.hasPrefix("\"") || raw.hasPrefix("'")
        if spec.acceptsBareWord && !quoted {
            return .string(raw)
        }
        if let value = try TOMLReader.value(raw, for: spec, source: source) {
            return value
        }
        if quoted {
            throw ConfigError.badOverride(text: text, reason: "the quoted string is not valid TOML")
        }
        if raw.isEmpty {
            throw ConfigError.badOverride(text: text, reason: "the value is missing")
        }
        throw ConfigError.wrongType(key: spec.key, expected: spec.access.expected, found: "'\(raw)'", source: source)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
