import Testing
@testable import SafeTensors

/// The header's JSON reader accepts the grammar a header needs and refuses, with a reason, what
/// would let a hostile file confuse or exhaust it.
struct HeaderJSONTests {
    func parse(_ text: String) throws(JSONError) -> JSONValue { try parseJSON(Array(text.utf8)) }

    @Test func membersKeepTheirFileOrder() throws {
        let value = try parse(#" { "b" : [1, 20, 300] , "a":{}, "c": "x" }   "#)
        #expect(value == .object([("b", .array([.integer(1), .integer(20), .integer(300)])), ("a", .object([])), ("c", .string("x"))]))
    }

    @Test func escapesAndSurrogatePairsAreResolved() throws {
        #expect(try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\n\té😀"))
        #expect(try parse("\"héllo\"") == .string("héllo"))
    }

    @Test func integersUpTo2To64Minus1() throws {
        #expect(try parse("18446744073709551615") == .integer(.max))
        #expect(try parse("0") == .integer(0))
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "key 'a' appears twice"),
        ("18446744073709551616", "over 2^64 - 1"),
        ("-1", "a negative number"),
        ("1.5", "not an integer"),
        ("1e3", "not an integer"),
        ("01", "leading zero"),
        ("true", "unexpected character 't'"),
        ("null", "unexpected character 'n'"),
        (#"{"a":1"#, "text ends inside an object"),
        (#"{"a" 1}"#, "expected ':'"),
        (#"[1 2]"#, "expected ',' or ']'"),
        (#"{"a":1,}"#, "expected a quoted key"),
        ("\"a\nb\"", "control character"),
        (#""\x""#, "unknown escape"),
        (#""\ud83d""#, "lone UTF-16 surrogate"),
        (#""\ude00""#, "lone UTF-16 surrogate"),
        (#""\u12""#, "four hex digits"),
        ("{} {}", "unexpected text after"),
        ("", "text ends where a value should be"),
        ("[[[[[[[[[1]]]]]]]]]", "nested more than 8 deep"),
    ])
    func refused(_ text: String, _ reason: String) {
        let error = #expect(throws: JSONError.self) { try parse(text) }
        #expect(error?.reason.contains(reason) == true, "\(text): \(error?.description ?? "no error")")
    }

    @Test func eightLevelsAreAllowed() throws {
        var nested = JSONValue.integer(1)
        for _ in 0..<8 { nested = .array([nested]) }
        #expect(try parse("[[[[[[[[1]]]]]]]]") == nested)
    }

    @Test func aHostileNameCannotBreakTheLine() {
        #expect(quoted("a\nb") == #"'a\nb'"#)
        #expect(quoted(String(repeating: "x", count: 1000)).count == 123)
    }
}
