import Config
import Testing

/// Parses `toml` with `overrides` as if from "x.toml"; the error if it fails.
func parseError(_ toml: String = "", _ overrides: [String] = []) throws -> ConfigError {
    try #require(throws: ConfigError.self) {
        try TesseraConfig.parse(toml: toml, overrides: overrides, source: "x.toml")
    }
}

/// The key a value error names.
func badValueKey(_ error: ConfigError) -> String? {
    if case .badValue(let key, _) = error { key } else { nil }
}
