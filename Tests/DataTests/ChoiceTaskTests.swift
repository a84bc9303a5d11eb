import Data
import Foundation
import Testing

/// A task file for `tessera eval` is checked whole before scoring: every refusal names the file
/// and the line at fault.
struct ChoiceTaskTests {
    @Test func itemsKeepTheirLineNumbersAcrossBlankLinesCRLFAndAByteOrderMark() throws {
        let text = "\u{FEFF}{\"context\": \"2+2=\", \"choices\": [\"4\", \"5\"], \"answer\": 0, \"id\": \"q1\"}\r\n"
            + "\n   \n"
            + "{\"answer\": 2, \"choices\": [\"a\", \"b\", \"ç\"], \"context\": \"\"}"
        let task = try ChoiceTask(bytes: Array(text.utf8), path: "t.jsonl")
        #expect(task.items == [
            ChoiceTask.Item(line: 1, context: "2+2=", choices: ["4", "5"], answer: 0),
            ChoiceTask.Item(line: 4, context: "", choices: ["a", "b", "ç"], answer: 2),
        ])
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let line: String
        let mentions: String
        var testDescription: String { name }
    }

    static let badLines: [Bad] = [
        Bad(name: "not JSON", line: "hello", mentions: "not JSON"),
        Bad(name: "not an object", line: "[1, 2]", mentions: "not a JSON object"),
        Bad(name: "no context", line: #"{"choices": ["a"], "answer": 0}"#, mentions: #"no "context""#),
        Bad(name: "context not a string", line: #"{"context": 1, "choices": ["a"], "answer": 0}"#, mentions: #""context" is not a string"#),
        Bad(name: "no choices", line: #"{"context": "c", "answer": 0}"#, mentions: #"no "choices""#),
        Bad(name: "choices not an array", line: #"{"context": "c", "choices": "a", "answer": 0}"#, mentions: "not an array"),
        Bad(name: "empty choices", line: #"{"context": "c", "choices": [], "answer": 0}"#, mentions: #""choices" is empty"#),
        Bad(name: "a choice not a string", line: #"{"context": "c", "choices": ["a", 2], "answer": 0}"#, mentions: "choice 1 is not a string"),
        Bad(name: "an empty choice", line: #"{"context": "c", "choices": ["a", ""], "answer": 0}"#, mentions: "choice 1 is empty"),
        Bad(name: "no answer", line: #"{"context": "c", "choices": ["a"]}"#, mentions: #"no "answer""#),
        Bad(name: "answer a fraction", line: #"{"context": "c", "choices": ["a", "b"], "answer": 1.5}"#, mentions: "not an integer"),
        Bad(name: "answer with an exponent", line: #"{"context": "c", "choices": ["a", "b"], "answer": 1e0}"#, mentions: "not an integer"),
        Bad(name: "answer a string", line: #"{"context": "c", "choices": ["a", "b"], "answer": "1"}"#, mentions: "not an integer"),
        Bad(name: "answer past the choices", line: #"{"context": "c", "choices": ["a", "b"], "answer": 2}"#, mentions: "outside 0...1"),
        Bad(name: "answer negative", line: #"{"context": "c", "choices": ["a", "b"], "answer": -1}"#, mentions: "outside 0...1"),
        Bad(name: "answer past Int", line: #"{"context": "c", "choices": ["a"], "answer": 99999999999999999999}"#, mentions: "not an integer"),
    ]

    @Test(arguments: badLines)
    func aBadLineIsRefusedNamingFileAndLine(_ bad: Bad) {
        let good = #"{"context": "c", "choices": ["a", "b"], "answer": 1}"#
        let text = good + "\n\n" + bad.line + "\n" + good + "\n"
        let error = #expect(throws: DataError.self) { try ChoiceTask(bytes: Array(text.utf8), path: "task.jsonl") }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("'task.jsonl' line 3: ") && message.contains(bad.mentions), "\(message)")
    }

    @Test func bytesThatAreNotUTF8AreRefusedNamingTheirLine() {
        let bytes = Array(#"{"context": "c", "choices": ["a"], "answer": 0}"#.utf8) + [0x0A]
            + Array(#"{"context": "c"#.utf8) + [0xFF] + Array(#"", "choices": ["a"], "answer": 0}"#.utf8)
        let error = #expect(throws: DataError.self) { try ChoiceTask(bytes: bytes, path: "task.jsonl") }
        #expect(error?.description == "'task.jsonl' line 2: not valid UTF-8 (byte 62 of the file)", "\(String(describing: error))")
    }

    @Test func aFileOfNoItemsIsRefused() {
        let error = #expect(throws: DataError.self) { try ChoiceTask(bytes: Array("\n  \n".utf8), path: "empty.jsonl") }
        #expect(error?.description.hasPrefix("task file 'empty.jsonl' holds no items") == true, "\(String(describing: error))")
    }

    @Test func aMissingFileAFolderAndAFileOverTheLimitAreRefusedBeforeReading() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let missing = scratch.folder.appendingPathComponent("missing.jsonl").path
        #expect(throws: DataError.taskFile(path: missing, message: "does not exist")) { try ChoiceTask(path: missing) }
        let folder = #expect(throws: DataError.self) { try ChoiceTask(path: scratch.folder.path) }
        #expect(folder?.description.contains("is a folder") == true, "\(String(describing: folder))")
        // A sparse file one byte over the limit: refused from its size, before a byte is read.
        let large = try scratch.file("large.jsonl", [])
        let handle = try #require(FileHandle(forWritingAtPath: large))
        try handle.truncate(atOffset: UInt64(ChoiceTask.sizeLimit + 1))
        try handle.close()
        let tooLarge = #expect(throws: DataError.self) { try ChoiceTask(path: large) }
        #expect(tooLarge?.description.contains("more than the \(ChoiceTask.sizeLimit)") == true, "\(String(describing: tooLarge))")
    }
}
