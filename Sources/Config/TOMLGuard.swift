/// toml++ 3.4 (inside TOMLKit 0.6.0) checks some input with `assert`, which SwiftPM leaves on in
/// every build, so a typo can abort the whole process instead of throwing. Fuzzing found three
/// such shapes; this scan rejects them first, as malformed TOML with line and column:
/// - a table header whose name starts with something else than a key (`[!]`, `[[[`, a lone `[`);
/// - a closing bracket that does not match the open one (`a = [1, }`);
/// - dates and times (`1979-05-27 1`, `1979-05-27T:`), which no config key takes anyway.
/// Strings and comments are skipped, so their contents are never mistaken for these.
enum TOMLGuard {
    static func check(_ text: String, source: String) throws {
        if let (line, column, scalar) = firstControlCharacter(text) {
            let code = "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
            throw ConfigError.malformedTOML(source: source, line: line, column: column,
                                            message: "control character \(code) is not allowed in TOML")
        }
        var scanner = Scanner(scalars: Array(text.unicodeScalars))
        if let (line, column, message) = scanner.firstProblem() {
            throw ConfigError.malformedTOML(source: source, line: line, column: column, message: message)
        }
    }

    /// TOML allows no control character but tab, line feed and carriage return, in strings or out:
    /// a NUL byte in a config is a damaged file, not a value.
    private static func firstControlCharacter(_ text: String) -> (Int, Int, Unicode.Scalar)? {
        var line = 1, column = 1
        for scalar in text.unicodeScalars {
            if (scalar.value < 0x20 && !"\t\n\r".unicodeScalars.contains(scalar)) || scalar.value == 0x7F {
                return (line, column, scalar)
            }
            if scalar == "\n" { (line, column) = (line + 1, 1) } else { column += 1 }
        }
        return nil
    }

    private struct Scanner {
        let scalars: [Unicode.Scalar]
        var index = 0
        var line = 1
        var lineStart = 0
        var open: [Unicode.Scalar] = []
        var onlyBlanksSoFar = true

        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        /// (line, column, message) of the first shape toml++ would abort on.
        mutating func firstProblem() -> (Int, Int, String)? {
            while index < scalars.count {
                let scalar = scalars[index]
                let column = index - lineStart + 1
                switch scalar {
                case "\n":
                    newLine()
                case " ", "\t", "\r":
                    index += 1
                    continue
                case "#":
                    skip { $0 != "\n" }
                    continue
                case "\"", "'":
                    skipString(quote: scalar)
                    onlyBlanksSoFar = false
                    continue
                case "[":
                    if onlyBlanksSoFar && open.isEmpty, let column = badHeader() {
                        return (line, column, "expected a table name after '['")
                    }
                    open.append(scalar)
                case "{":
                    open.append(scalar)
                case "]", "}":
                    guard open.popLast() == (scalar == "]" ? "[" : "{") else {
                        return (line, column, "unmatched '\(scalar)'")
                    }
                case ":":
                    return (line, column, "dates and times are not config values")
                case "0"..."9" where startsDate():
                    return (line, column, "dates and times are not config values")
                default:
                    break
                }
                onlyBlanksSoFar = scalar == "\n"
                index += 1
            }
            return nil
        }

        /// The column of a bad first name character after `[` or `[[` at `index`, else nil.
        func badHeader() -> Int? {
            var position = blanksEnd(from: index + 1)
            if position < scalars.count, scalars[position] == "[" { position = blanksEnd(from: position + 1) }
            if position < scalars.count, startsName(scalars[position]) { return nil }
            return position - lineStart + 1
        }

        func blanksEnd(from start: Int) -> Int {
            scalars[start...].firstIndex { $0 != " " && $0 != "\t" } ?? scalars.count
        }

        /// Bare-key characters, quotes, or `]` (an empty name toml++ reports itself).
        func startsName(_ scalar: Unicode.Scalar) -> Bool {
            ("0"..."9").contains(scalar) || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || "_-\"']".unicodeScalars.contains(scalar)
        }

        /// `dddd-dd-dd` starting at `index`.
        func startsDate() -> Bool {
            let pattern = Array("dddd-dd-dd".unicodeScalars)
            guard index + pattern.count <= scalars.count else { return false }
            return zip(pattern, scalars[index...]).allSatisfy { expected, actual in
                expected == "d" ? ("0"..."9").contains(actual) : expected == actual
            }
        }

        /// Past a basic or literal string, single- or multi-line; an unterminated one runs to the
        /// end (toml++ reports it).
        mutating func skipString(quote: Unicode.Scalar) {
            let triple = index + 2 < scalars.count && scalars[index + 1] == quote && scalars[index + 2] == quote
            index += triple ? 3 : 1
            while index < scalars.count {
                let scalar = scalars[index]
                if scalar == "\\" && quote == "\"" {
                    index += 1
                    if index < scalars.count && scalars[index] == "\n" { newLine() }
                    index += 1
                    continue
                }
                if scalar == "\n" {
                    guard triple else { return }
                    newLine()
                }
                if scalar == quote && (!triple || closesTriple(quote)) {
                    index += triple ? 3 : 1
                    while triple && index < scalars.count && scalars[index] == quote { index += 1 }
                    return
                }
                index += 1
            }
        }

        func closesTriple(_ quote: Unicode.Scalar) -> Bool {
            index + 2 < scalars.count && scalars[index + 1] == quote && scalars[index + 2] == quote
        }

        mutating func newLine() {
            line += 1
            lineStart = index + 1
        }

        mutating func skip(while condition: (Unicode.Scalar) -> Bool) {
            while index < scalars.count && condition(scalars[index]) { index += 1 }
        }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
