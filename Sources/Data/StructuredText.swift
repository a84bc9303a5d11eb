/// Structured inputs rendered as text documents; see `InputFormat` for what each becomes. Errors
/// name the file and the line (JSONL, N-Triples) or row and line (CSV/TSV) at fault.
enum StructuredText {
    /// One document per non-blank line of a JSONL file.
    static func jsonl(_ bytes: [UInt8], path: String, template: JSONLTemplate?) throws(DataError) -> [String] {
        var documents: [String] = []
        for (number, line) in lines(bytes) where !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
            let value: JSONValue
            do {
                value = try JSONReader.parse(Array(line))
            } catch {
                throw .badInput(path: path, location: "line \(number)", reason: "not JSON (column \(error.column): \(error.reason))")
            }
            guard case .object(let members) = value else {
                throw .badInput(path: path, location: "line \(number)", reason: "not a JSON object")
            }
            if let template {
                documents.append(try template.render(value, path: path, line: number))
            } else if case .string(let text)? = value["text"] {
                documents.append(text)
            } else {
                documents.append(members.map { "\($0.key): \($0.value.text)" }.joined(separator: "\n"))
            }
        }
        return documents
    }

    /// One document per data row of a CSV (RFC 4180 quoting) or TSV (tab-separated, no quoting)
    /// file with a header row; a TSV with the header subject/predicate/object is read as triples.
    static func table(_ bytes: [UInt8], path: String, separator: UInt8) throws(DataError) -> [String] {
        let rows = try parseTable(bytes, path: path, separator: separator)
        guard let header = rows.first else { return [] }
        let columns = header.fields.map { $0.trimmingSpaces }
        if separator == 0x09, columns.map({ $0.lowercased() }) == ["subject", "predicate", "object"] {
            return triples(rows.dropFirst().map { ($0.fields[0], $0.fields[1], $0.fields[2]) })
        }
        return rows.dropFirst().map { row in
            zip(columns, row.fields).map { "\($0): \($1)" }.joined(separator: "\n")
        }
    }

    /// Subject-grouped statements from N-Triples.
    static func nTriples(_ bytes: [UInt8], path: String) throws(DataError) -> [String] {
        var statements: [(String, String, String)] = []
        for (number, line) in lines(bytes) {
            var scanner = TermScanner(bytes: Array(line))
            guard !scanner.atEndOrComment else { continue }
            do {
                let subject = try scanner.term(), predicate = try scanner.term(), object = try scanner.term()
                try scanner.finishStatement()
                statements.append((subject, predicate, object))
            } catch {
                throw .badInput(path: path, location: "line \(number)", reason: "not an N-Triples statement (column \(error.column): \(error.reason))")
            }
        }
        return triples(statements)
    }

    /// One document per subject, in order of first appearance: "s p o." per triple.
    static func triples(_ statements: [(String, String, String)]) -> [String] {
        var order: [String: Int] = [:]
        var groups: [[String]] = []
        for (subject, predicate, object) in statements {
            let index = order[subject] ?? {
                order[subject] = groups.count
                groups.append([])
                return groups.count - 1
            }()
            groups[index].append("\(subject) \(predicate) \(object).")
        }
        return groups.map { $0.joined(separator: "\n") }
    }

    /// (1-based line number, line without its "\n" or "\r\n").
    static func lines(_ bytes: [UInt8]) -> [(Int, ArraySlice<UInt8>)] {
        var result: [(Int, ArraySlice<UInt8>)] = []
        var start = 0
        for i in bytes.indices where bytes[i] == 0x0A || i == bytes.count - 1 {
            var end = bytes[i] == 0x0A ? i : i + 1
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            result.append((result.count + 1, bytes[start..<end]))
            start = i + 1
        }
        return result
    }

    struct Row { let line: Int; let fields: [String] }

    /// Rows of fields; every row must have as many fields as the header. Blank lines are skipped.
    static func parseTable(_ bytes: [UInt8], path: String, separator: UInt8) throws(DataError) -> [Row] {
        let quoting = separator == UInt8(ascii: ",")
        var rows: [Row] = [], fields: [String] = [], field: [UInt8] = []
        var line = 1, rowLine = 1, inQuotes = false, quoted = false, i = 0
        func endRow() throws(DataError) {
            fields.append(String(decoding: field, as: UTF8.self))
            field = []
            defer { fields = []; quoted = false }
            guard !(fields.count == 1 && fields[0].isEmpty && !quoted) else { return }
            if let header = rows.first, fields.count != header.fields.count {
                throw .badInput(path: path, location: "row \(rows.count) (line \(rowLine))",
                                reason: "\(fields.count) fields, the header has \(header.fields.count)")
            }
            rows.append(Row(line: rowLine, fields: fields))
        }
        while i < bytes.count {
            let byte = bytes[i]
            i += 1
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if i < bytes.count, bytes[i] == UInt8(ascii: "\"") { field.append(byte); i += 1 } else { inQuotes = false }
                } else {
                    if byte == 0x0A { line += 1 }
                    field.append(byte)
                }
            } else if quoting, byte == UInt8(ascii: "\""), field.isEmpty {
                inQuotes = true
                quoted = true
            } else if byte == separator {
                fields.append(String(decoding: field, as: UTF8.self))
                field = []
            } else if byte == 0x0A {
                if field.last == 0x0D { field.removeLast() }
                try endRow()
                line += 1
                rowLine = line
            } else {
                field.append(byte)
            }
        }
        if inQuotes { throw .badInput(path: path, location: "row \(rows.count) (line \(rowLine))", reason: "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty || quoted { try endRow() }
        return rows
    }
}

/// `--jsonl-template`: text with `{field}` placeholders ( `{{` and `}}` are literal braces) and
/// the escapes \n, \t and \\, filled from each JSONL record's top-level fields.
public struct JSONLTemplate: Sendable {
    private enum Part: Sendable { case literal(String), field(String) }
    private let parts: [Part]

    public init(_ template: String) throws(DataError) {
        var parts: [Part] = [], literal = "", iterator = Array(template).makeIterator()
        let fail = { (reason: String) in DataError.badInput(path: template, location: "(--jsonl-template)", reason: reason) }
        while let c = iterator.next() {
            switch c {
            case "\\":
                switch iterator.next() {
                case "n": literal += "\n"
                case "t": literal += "\t"
                case "\\": literal += "\\"
                case let other?: literal += "\\\(other)"
                case nil: literal += "\\"
                }
            case "{":
                var name = ""
                while let d = iterator.next(), d != "}" {
                    if d == "{", name.isEmpty { break }
                    name.append(d)
                }
                if name.isEmpty { literal += "{"; continue }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                parts.append(.field(name))
            case "}":
                guard iterator.next() == "}" else { throw fail("a lone '}'; write '}}' for a brace") }
                literal += "}"
            default: literal.append(c)
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard parts.contains(where: { if case .field = $0 { true } else { false } }) else {
            throw fail("names no {field}")
        }
        self.parts = parts
    }

    func render(_ record: JSONValue, path: String, line: Int) throws(DataError) -> String {
        var text = ""
        for part in parts {
            switch part {
            case .literal(let literal): text += literal
            case .field(let name):
                guard let value = record[name] else {
                    throw .badInput(path: path, location: "line \(line)", reason: "the template names field '\(name)', which this record lacks")
                }
                text += value.text
            }
        }
        return text
    }
}

/// N-Triples terms: <IRI> (its local name), _:blank, "literal" with @lang or ^^<type> (its text).
private struct TermScanner {
    struct Failure: Error { let column: Int; let reason: String }
    let bytes: [UInt8]
    var at = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var atEndOrComment: Bool {
        var probe = self
        probe.skipSpace()
        return probe.at == bytes.count || bytes[probe.at] == UInt8(ascii: "#")
    }

    mutating func skipSpace() { while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 { at += 1 } }

    func fail(_ reason: String) -> Failure { Failure(column: at + 1, reason: reason) }

    mutating func term() throws(Failure) -> String {
        skipSpace()
        guard at < bytes.count else { throw fail("expected a term, found the end of the line") }
        switch bytes[at] {
        case UInt8(ascii: "<"): return TermScanner.localName(try iri())
        case UInt8(ascii: "_"):
            let start = at
            while at < bytes.count, bytes[at] != 0x20, bytes[at] != 0x09 { at += 1 }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        case UInt8(ascii: "\""):
            let text = try literal()
            if at < bytes.count, bytes[at] == UInt8(ascii: "@") {
                while at < bytes.count, bytes[at] != 0x20, bytes[at] != 0x09 { at += 1 }
            } else if at + 1 < bytes.count, bytes[at] == UInt8(ascii: "^"), bytes[at + 1] == UInt8(ascii: "^") {
                at += 2
                _ = try iri()
            }
            return text
        default: throw fail("expected <IRI>, _:blank or \"literal\"")
        }
    }

    mutating func finishStatement() throws(Failure) {
        skipSpace()
        guard at < bytes.count, bytes[at] == UInt8(ascii: ".") else { throw fail("expected '.' after the object") }
        at += 1
        guard atEndOrComment else { throw fail("unexpected text after '.'") }
    }

    private mutating func iri() throws(Failure) -> String {
        let start = at + 1
        guard let end = bytes[start...].firstIndex(of: UInt8(ascii: ">")) else { throw fail("unterminated <IRI>") }
        at = end + 1
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    private mutating func literal() throws(Failure) -> String {
        var out: [UInt8] = []
        at += 1
        while at < bytes.count {
            let byte = bytes[at]
            at += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if byte == UInt8(ascii: "\\"), at < bytes.count {
                let escape = bytes[at]
                at += 1
                switch escape {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let width = escape == UInt8(ascii: "u") ? 4 : 8
                    guard at + width <= bytes.count,
                          let value = UInt32(String(decoding: bytes[at..<at + width], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(value) else { throw fail("bad \\u escape") }
                    out += Array(String(Character(scalar)).utf8)
                    at += width
                default: out.append(escape)
                }
            } else {
                out.append(byte)
            }
        }
        throw fail("unterminated \"literal\"")
    }

    /// The part of an IRI after its last '#' or '/', underscores as spaces: "Paris" for
    /// <http://example.org/Paris>.
    static func localName(_ iri: String) -> String {
        let tail = iri.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "#" || $0 == "/" }).last.map(String.init) ?? iri
        return tail.replacingUnderscores
    }
}

extension String {
    /// Without leading and trailing spaces (U+0020 only).
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
