/// toml++ 3.4 (inside TOMLKit 0.6.0) checks the first character of a table name with an `assert`,
/// which SwiftPM leaves on in every build: `[!]`, `[[[` or a lone `[` abort the whole process.
/// Such headers are rejected here first, as malformed TOML with line and column.
///
/// Lines are checked without tracking multi-line strings or arrays, so a continuation line such as
/// `[+1, 2]` is rejected too; no config key holds an array or a multi-line string, so no valid
/// config is refused.
enum HeaderGuard {
    static func check(_ text: String, source: String) throws {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let scalars = Array(line.unicodeScalars)
            var position = skipBlanks(scalars, from: 0)
            guard position < scalars.count, scalars[position] == "[" else { continue }
            position = skipBlanks(scalars, from: position + 1)
            if position < scalars.count, scalars[position] == "[" {
                position = skipBlanks(scalars, from: position + 1)
            }
            guard position >= scalars.count || !startsName(scalars[position]) else { continue }
            throw ConfigError.malformedTOML(source: source, line: index + 1, column: position + 1,
                                            message: "expected a table name after '['")
        }
    }

    private static func skipBlanks(_ scalars: [Unicode.Scalar], from start: Int) -> Int {
        scalars[start...].firstIndex { $0 != " " && $0 != "\t" } ?? scalars.count
    }

    /// What toml++ accepts there: a bare-key character, a quote, or `]` (which it reports itself).
    private static func startsName(_ scalar: Unicode.Scalar) -> Bool {
        ("0"..."9").contains(scalar) || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
            || "_-\"']".unicodeScalars.contains(scalar)
    }
}
