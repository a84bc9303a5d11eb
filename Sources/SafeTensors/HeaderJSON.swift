/// A strict reader of the JSON a safetensors header or index holds: objects, arrays, strings and
/// non-negative integers, nothing else. Foundation's JSONSerialization would keep the last of two
/// equal keys silently (two tensors of one name must be refused) and turns integers past 2^63 into
/// doubles; this reader refuses both, keeps keys in file order, and bounds its nesting, since the
/// text comes from a file of unknown origin.
enum JSONValue: Equatable {
    /// Members in file order; keys are unique.
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case integer(UInt64)

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): x.elementsEqual(y) { $0.key == $1.key && $0.value == $1.value }
        case let (.array(x), .array(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.integer(x), .integer(y)): x == y
        default: false
        }
    }

    /// What a message calls this kind of value.
    var kind: String {
        switch self {
        case .object: "an object"
        case .array: "a list"
        case .string: "a string"
        case .integer: "an integer"
        }
    }
}

/// Where and why the text is not the JSON `parseJSON` accepts.
struct JSONError: Error, Equatable {
    let offset: Int
    let reason: String
    var description: String { "\(reason) at byte \(offset)" }
}

/// Parses `bytes` (valid UTF-8, checked by the caller) as one JSON value with only whitespace
/// around it (a header is padded with spaces).
func parseJSON(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
    var parser = JSONParser(bytes: bytes)
    let value = try parser.value(depth: 0)
    parser.skipWhitespace()
    guard parser.position == bytes.count else { throw parser.error("unexpected text after the JSON value") }
    return value
}

private struct JSONParser {
    /// A header nests three deep (header, tensor, shape) and an index two; deeper text is refused
    /// before it can exhaust the stack.
    static let maxDepth = 8

    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ reason: String) -> JSONError { JSONError(offset: position, reason: reason) }

    var next: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while let byte = next, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(JSONError) {
        skipWhitespace()
        guard next == byte else { throw error(next == nil ? "text ends where \(what) should be" : "expected \(what)") }
        position += 1
    }

    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        skipWhitespace()
        guard let byte = next else { throw error("text ends where a value should be") }
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw error("nested more than \(Self.maxDepth) deep") }
            return byte == UInt8(ascii: "{") ? try object(depth: depth + 1) : try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try integer())
        case UInt8(ascii: "-"): throw error("a negative number")
        default: throw error("unexpected character '\(Unicode.Scalar(byte))' (only objects, lists, strings and integers are allowed)")
        }
    }

    mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        position += 1  // {
        var members: [(key: String, value: JSONValue)] = [], keys: Set<String> = []
        skipWhitespace()
        if next == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard next == UInt8(ascii: "\"") else { throw error("expected a quoted key") }
            let start = position
            let key = try string()
            guard keys.insert(key).inserted else {
                throw JSONError(offset: start, reason: "key \(quoted(key)) appears twice in one object")
            }
            try expect(UInt8(ascii: ":"), "':'")
            members.append((key, try value(depth: depth)))
            skipWhitespace()
            guard let separator = next else { throw error("text ends inside an object") }
            position += 1
            if separator == UInt8(ascii: "}") { return .object(members) }
            guard separator == UInt8(ascii: ",") else { position -= 1; throw error("expected ',' or '}'") }
        }
    }

    mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if next == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            elements.append(try value(depth: depth))
            skipWhitespace()
            guard let separator = next else { throw error("text ends inside a list") }
            position += 1
            if separator == UInt8(ascii: "]") { return .array(elements) }
            guard separator == UInt8(ascii: ",") else { position -= 1; throw error("expected ',' or ']'") }
        }
    }

    /// Digits without a leading zero, fitting in UInt64; a fraction or exponent is refused.
    mutating func integer() throws(JSONError) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        while let byte = next, byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { throw JSONError(offset: start, reason: "an integer over 2^64 - 1") }
            value = sum
            position += 1
        }
        if bytes[start] == UInt8(ascii: "0") && position - start > 1 {
            throw JSONError(offset: start, reason: "an integer with a leading zero")
        }
        if let byte = next, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            throw JSONError(offset: start, reason: "a number that is not an integer")
        }
        return value
    }

    /// A quoted string with its escapes resolved; raw control characters and lone surrogates are refused.
    mutating func string() throws(JSONError) -> String {
        position += 1  // "
        var utf8: [UInt8] = []
        while true {
            guard let byte = next else { throw error("text ends inside a string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"): try escape(into: &utf8)
            case 0..<0x20: position -= 1; throw error("a control character inside a string")
            default: utf8.append(byte)
            }
        }
    }

    mutating func escape(into utf8: inout [UInt8]) throws(JSONError) {
        guard let byte = next else { throw error("text ends inside a string") }
        position += 1
        let simple: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]
        if let resolved = simple[byte] { utf8.append(resolved); return }
        guard byte == UInt8(ascii: "u") else { position -= 1; throw error("an unknown escape '\\\(Unicode.Scalar(byte))'") }
        var code = try hex4()
        if (0xD800..<0xDC00).contains(code) {  // a high surrogate must be followed by \u and a low one
            guard next == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                throw error("a lone UTF-16 surrogate")
            }
            position += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("a lone UTF-16 surrogate") }
            code = 0x10000 + (code - 0xD800) << 10 + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(code) else { throw error("a lone UTF-16 surrogate") }
        utf8.append(contentsOf: String(scalar).utf8)
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = next, let digit = Character(Unicode.Scalar(byte)).hexDigitValue else {
                throw error("\\u not followed by four hex digits")
            }
            code = code << 4 | UInt32(digit)
            position += 1
        }
        return code
    }
}

/// `'name'` for a message: control characters escaped and a long name shortened, so that a name
/// from a hostile file cannot break the one-line message or flood it.
func quoted(_ name: String) -> String {
    let shown = name.count > 120 ? name.prefix(120) + "…" : Substring(name)
    let escaped = shown.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? $0.escaped(asASCII: true) : String($0) }
    return "'" + escaped.joined() + "'"
}
