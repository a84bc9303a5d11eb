@testable import Config
import Foundation
import Testing

/// docs/config.md has one row per key of the schema, in schema order, with the default written as
/// `--check` prints it, and no row for a key the schema lacks.
@Test func docsListEveryKeyWithItsDefault() throws {
    let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/config.md")
    let text = try String(contentsOf: docs, encoding: .utf8)
    // Rows of the form | `section.key` | `default` | meaning |
    let rows: [(key: String, value: String)] = text.split(separator: "\n").compactMap { line in
        let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard cells.count >= 4, cells[1].hasPrefix("`"), cells[1].contains("."), cells[2].hasPrefix("`") else { return nil }
        return (String(cells[1].dropFirst().dropLast()), String(cells[2].dropFirst().dropLast()))
    }
    let defaults = TesseraConfig()
    #expect(rows.map(\.key) == Schema.allKeys, "docs/config.md rows \(rows.map(\.key)) vs schema \(Schema.allKeys)")
    for (key, value) in rows {
        guard let spec = Schema.spec(key) else { continue }
        #expect(value == "\(spec.read(defaults))", "\(key): docs say \(value), the default is \(spec.read(defaults))")
    }
}

/// The `[[eval]]` and `[[alarm]]` tables of docs/config.md list every entry key, with its default
/// as `tomlText()` writes it ("(required)" where the default is empty and refused).
@Test func docsListEveryEntryKeyWithItsDefault() throws {
    let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/config.md")
    let text = try String(contentsOf: docs, encoding: .utf8)
    let section = try #require(text.components(separatedBy: "## Continuous validation and alarms").last)
    let rows: [(key: String, value: String)] = section.split(separator: "\n").compactMap { line in
        let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard cells.count >= 4, cells[1].hasPrefix("`"), !cells[1].contains(".") else { return nil }
        return (String(cells[1].dropFirst().dropLast()), cells[2])
    }
    func documented(_ toml: [String]) -> [(key: String, value: String)] {
        toml.dropFirst().map { line in
            let parts = line.components(separatedBy: " = ")
            return (parts[0], parts[1] == "\"\"" && ["name", "path", "metric"].contains(parts[0]) ? "(required)" : "`\(parts[1])`")
        }
    }
    let expected = documented(EvalEntry.schema.toml(EvalEntry())) + documented(AlarmRule.schema.toml(AlarmRule()))
    #expect(rows.map(\.key) == expected.map(\.key))
    #expect(rows.map(\.value) == expected.map(\.value), "\(rows)")
}
