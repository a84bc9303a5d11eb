import Data
import Foundation
import Testing

/// `n` pairs "question i" → "answer i", one JSONL line each.
func pairLines(_ n: Int, from first: Int = 0) -> String {
    (first..<first + n).map { #"{"input": "question \#($0)", "target": "answer \#($0)"}"# + "\n" }.joined()
}

/// Seq2seq pairs read from JSONL: every line checked before training, one error naming file and
/// line; lengths refused, not cut.
struct Seq2SeqPairsTests {
    static func load(_ path: String, char: Bool = false, valFraction: Double = 0.2, S: Int = 64, T: Int = 64) throws
        -> Seq2SeqPairs {
        try Seq2SeqPairs(path: path, tokenizer: char ? .char : .byte, valFraction: valFraction, encoderLength: S, decoderLength: T)
    }

    @Test func pairsKeepTheirLinesAcrossBlankLinesCRLFAndAByteOrderMark() throws {
        let text = "\u{FEFF}{\"input\": \"2+2=\", \"target\": \"4\", \"id\": 7}\r\n\n  \t\n{\"target\": \"b\\n\", \"input\": \"ç\"}"
        let pairs = try Seq2SeqPairs.read(bytes: Array(text.utf8), path: "p.jsonl")
        #expect(pairs == [TextPair(line: 1, input: "2+2=", target: "4"), TextPair(line: 4, input: "ç", target: "b\n")])
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String, line: String, mentions: String
        var testDescription: String { name }
    }

    static let badLines: [Bad] = [
        Bad(name: "not JSON", line: "input: a", mentions: "not JSON (column 1"),
        Bad(name: "truncated", line: #"{"input": "a", "target": "b""#, mentions: "not JSON"),
        Bad(name: "two values", line: #"{"input": "a", "target": "b"} {}"#, mentions: "unexpected text after the value"),
        Bad(name: "an array", line: #"[{"input": "a", "target": "b"}]"#, mentions: "not a JSON object, but an array"),
        Bad(name: "a string", line: #""input""#, mentions: "not a JSON object, but a string"),
        Bad(name: "null", line: "null", mentions: "not a JSON object, but null"),
        Bad(name: "no input", line: #"{"inputs": "a", "target": "b"}"#, mentions: #"no "input""#),
        Bad(name: "no target", line: #"{"input": "a", "targets": "b"}"#, mentions: #"no "target""#),
        Bad(name: "input a number", line: #"{"input": 12, "target": "b"}"#, mentions: #""input" is a number, not a string"#),
        Bad(name: "target null", line: #"{"input": "a", "target": null}"#, mentions: #""target" is null, not a string"#),
        Bad(name: "target an array", line: #"{"input": "a", "target": ["b"]}"#, mentions: #""target" is an array, not a string"#),
        Bad(name: "input an object", line: #"{"input": {"text": "a"}, "target": "b"}"#, mentions: #""input" is an object"#),
        Bad(name: "input empty", line: #"{"input": "", "target": "b"}"#, mentions: #""input" is empty"#),
        Bad(name: "target empty", line: #"{"input": "a", "target": ""}"#, mentions: #""target" is empty"#),
        Bad(name: "input twice", line: #"{"input": "a", "target": "b", "input": "c"}"#, mentions: #""input" appears 2 times"#),
        Bad(name: "target three times", line: #"{"target": "a", "input": "b", "target": "c", "target": "d"}"#,
            mentions: #""target" appears 3 times"#),
        Bad(name: "deep nesting", line: #"{"input": "a", "target": "b", "x": "# + String(repeating: "[", count: 100_000) + "}",
            mentions: "nested too deeply"),
        Bad(name: "a lone surrogate", line: #"{"input": "\udc00", "target": "b"}"#, mentions: "unpaired surrogate"),
        Bad(name: "a control character", line: "{\"input\": \"a\u{01}\", \"target\": \"b\"}", mentions: "control character"),
    ]

    @Test(arguments: badLines)
    func aBadLineIsOneErrorNamingFileAndLine(_ bad: Bad) throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let path = try scratch.file("pairs.jsonl", text: pairLines(1) + "\n" + bad.line + "\n" + pairLines(5))
        let error = #expect(throws: DataError.self) { try Self.load(path) }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("'\(path)' line 3: ") && message.contains(bad.mentions), "\(message)")
    }

    @Test func bytesThatAreNotUTF8AreRefusedNamingTheirLineAndByte() throws {
        let bytes = Array(pairLines(2).utf8) + Array(#"{"input": "caf"#.utf8) + [0xC3, 0x28] + Array(#"", "target": "b"}"#.utf8)
        let error = #expect(throws: DataError.self) { try Seq2SeqPairs.read(bytes: bytes, path: "p.jsonl") }
        let offset = pairLines(2).utf8.count + 14
        #expect(error?.description == "'p.jsonl' line 3: not valid UTF-8 (byte \(offset) of the file)", "\(String(describing: error))")
    }

    /// A 100 MB line is refused by its length, before it is parsed or decoded; nothing is sized
    /// from what it claims.
    @Test func aLineOf100MBIsOneErrorNamingItsLine() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let head = Array(#"{"input": ""#.utf8), tail = Array(#"", "target": "b"}"#.utf8)
        let bytes = Array(pairLines(3).utf8) + head + [UInt8](repeating: UInt8(ascii: "a"), count: 100 << 20) + tail + [0x0A]
            + Array(pairLines(3).utf8)
        let path = try scratch.file("long.jsonl", bytes)
        let error = #expect(throws: DataError.self) { try Self.load(path) }
        #expect(error?.description == "'\(path)' line 4: \(head.count + (100 << 20) + tail.count) bytes, "
            + "more than the 4194304 a line of pairs may hold", "\(String(describing: error))")
    }

    /// A line of exactly the limit is read; its pair is then refused for its length, not cut.
    @Test func aLineAtTheLimitIsReadAndItsLongInputRefusedNotCut() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let head = #"{"target": "b", "input": ""#, tail = #""}"#
        let xs = Seq2SeqPairs.lineLimit - head.utf8.count - tail.utf8.count
        let long = head + String(repeating: "x", count: xs) + tail
        #expect(long.utf8.count == Seq2SeqPairs.lineLimit)
        let path = try scratch.file("edge.jsonl", text: pairLines(4) + long + "\n" + pairLines(4))
        let error = #expect(throws: DataError.self) { try Self.load(path, S: 32) }
        #expect(error?.description == "'\(path)' line 5: the input is \(xs + 1) tokens with its end of text, "
            + "more than model.encoder_block_size = 32; 1 of 9 pairs are too long (longest input \(xs + 1), "
            + "longest target 9 tokens). Pairs are refused, not cut: raise the lengths or leave those pairs out",
            "\(String(describing: error))")
    }

    /// Non-object lines of every kind, binary junk and a NUL-filled sparse file: one error each.
    @Test func hostileFilesAreOneErrorAndNoCrash() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        var junk = [UInt8](repeating: 0, count: 4096)
        for i in junk.indices { junk[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 7) }
        let cases: [(String, [UInt8], String)] = [
            ("junk.jsonl", junk, "line "),
            ("nul.jsonl", [UInt8](repeating: 0, count: 1000), "line 1: not JSON"),
            ("numbers.jsonl", Array("1\n2\n".utf8), "line 1: not a JSON object, but a number"),
            ("blank.jsonl", Array("\n \n\t\n".utf8), "holds 0 pairs"),
            ("empty.jsonl", [], "holds 0 pairs"),
            ("one.jsonl", Array(pairLines(1).utf8), "holds 1 pair, too few"),
        ]
        for (name, bytes, mentions) in cases {
            let path = try scratch.file(name, bytes)
            let error = #expect(throws: DataError.self) { try Self.load(path) }
            #expect(error?.description.contains(mentions) == true, "\(name): \(String(describing: error))")
        }
        for path in ["/dev/urandom", scratch.folder.path, scratch.folder.appendingPathComponent("missing.jsonl").path] {
            #expect(throws: DataError.self) { try Self.load(path) }
        }
        // A sparse file one byte over the limit: refused from its size, before a byte is read.
        let large = try scratch.file("large.jsonl", [])
        let handle = try #require(FileHandle(forWritingAtPath: large))
        try handle.truncate(atOffset: UInt64(Seq2SeqPairs.fileLimit + 1))
        try handle.close()
        let tooLarge = #expect(throws: DataError.self) { try Self.load(large) }
        #expect(tooLarge?.description.contains("more than the \(Seq2SeqPairs.fileLimit)") == true, "\(String(describing: tooLarge))")
    }

    @Test func pairsAreEncodedWithEndOfTextAndSplitByPairs() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let path = try scratch.file("pairs.jsonl", text: pairLines(10))
        let pairs = try Self.load(path)
        #expect(pairs.train.count == 8 && pairs.val.count == 2 && pairs.tokenizer.vocabSize == 257)
        #expect(pairs.train.input(3) == Array("question 3".utf8).map { Int32($0) } + [256])
        #expect(pairs.val.target(1) == Array("answer 9".utf8).map { Int32($0) } + [256])
        // char: the vocabulary holds the characters of inputs and targets, and end of text.
        let chars = try Self.load(path, char: true)
        #expect(chars.tokenizer.decode(chars.train.input(0)) == "question 0\n" && chars.tokenizer.decode(chars.val.target(0)) == "answer 8\n")
        #expect(chars.tokenizer.vocabSize == Set("question answer 0123456789").count + 1)
    }

    @Test func lengthsCountEndOfTextAndATargetOverTheDecoderIsRefused() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let path = try scratch.file("pairs.jsonl", text: pairLines(6) + #"{"input": "q", "target": "a much longer answer"}"# + "\n")
        // "question 0" + end of text is 11 ids and "a much longer answer" 21: both fit exactly.
        let exact = try Self.load(path, S: 11, T: 21)
        #expect(exact.train.count + exact.val.count == 7)
        let error = #expect(throws: DataError.self) { try Self.load(path, S: 11, T: 20) }
        #expect(error?.description.hasPrefix("'\(path)' line 7: the target is 21 tokens with its end of text, more than "
            + "model.block_size = 20; 1 of 7 pairs are too long") == true, "\(String(describing: error))")
        let inputs = #expect(throws: DataError.self) { try Self.load(path, S: 10, T: 21) }
        #expect(inputs?.description.hasPrefix("'\(path)' line 1: the input is 11 tokens") == true
                && inputs?.description.contains("6 of 7 pairs are too long") == true, "\(String(describing: inputs))")
    }

    @Test func aTextTheGivenTokenizerCannotEncodeNamesItsLine() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let path = try scratch.file("pairs.jsonl", text: #"{"input": "ab", "target": "ba"}"# + "\n" + #"{"input": "ab", "target": "bad"}"# + "\n")
        let error = #expect(throws: DataError.self) {
            try Seq2SeqPairs(jsonl: path, tokenizer: CharTokenizer(corpus: "ab"), valFraction: 0.5, encoderLength: 8, decoderLength: 8)
        }
        #expect(error?.description.hasPrefix("'\(path)' line 2: the target cannot be encoded: character 'd'") == true,
                "\(String(describing: error))")
    }
}
