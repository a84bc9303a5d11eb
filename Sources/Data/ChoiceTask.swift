import FileSystem

/// A multiple-choice task for `tessera eval`: a JSONL file, one item a non-blank line,
/// `{"context": "...", "choices": ["...", ...], "answer": INDEX}` (other keys are ignored).
///
/// Everything is checked before the first item is scored: the file is read only when it is a
/// regular file of at most `sizeLimit` bytes (its size is checked before anything is allocated),
/// it must be UTF-8, and every line must be an object whose `context` is a string, `choices` a
/// non-empty array of non-empty strings and `answer` an integer index into `choices`. Errors name
/// the file and the line.
public struct ChoiceTask: Sendable {
    public struct Item: Sendable, Equatable {
        /// Where the item is in the file, from 1.
        public let line: Int
        public let context: String
        public let choices: [String]
        /// The index of the right choice.
        public let answer: Int

        public init(line: Int, context: String, choices: [String], answer: Int) {
            self.line = line
            self.context = context
            self.choices = choices
            self.answer = answer
        }
    }

    /// The largest task file read: 64 MiB (HellaSwag's validation split, 10,042 items, is 11 MiB).
    public static let sizeLimit = 64 << 20

    public let path: String
    public let items: [Item]

    public init(path: String) throws(DataError) {
        let bytes: [UInt8]
        do {
            bytes = try readRegularFile(path, limit: Self.sizeLimit)
        } catch {
            throw .taskFile(path: path, message: error.message)
        }
        try self.init(bytes: bytes, path: path)
    }

    /// The items of a task file's `bytes`; `path` is for messages.
    public init(bytes: [UInt8], path: String) throws(DataError) {
        let body = try UTF8Check.textBody(bytes, path: path)
        var items: [Item] = []
        for (number, line) in StructuredText.lines(body) where !line.allSatisfy({ [0x20, 0x09, 0x0D].contains($0) }) {
            items.append(try Self.item(line, number: number, path: path))
        }
        guard !items.isEmpty else {
            throw .taskFile(path: path, message: "holds no items; each line is {\"context\": ..., \"choices\": [...], \"answer\": INDEX}")
        }
        self.path = path
        self.items = items
    }

    private static func item(_ line: ArraySlice<UInt8>, number: Int, path: String) throws(DataError) -> Item {
        func bad(_ reason: String) -> DataError { .badInput(path: path, location: "line \(number)", reason: reason) }
        let value: JSONValue
        do {
            value = try JSONReader.parse(Array(line))
        } catch {
            throw bad("not JSON (column \(error.column): \(error.reason)); each line is one object "
                + "{\"context\": ..., \"choices\": [...], \"answer\": INDEX}")
        }
        guard case .object = value else { throw bad("not a JSON object") }
        guard let contextValue = value["context"] else { throw bad("no \"context\"") }
        guard case .string(let context) = contextValue else { throw bad("\"context\" is not a string") }
        guard let choicesValue = value["choices"] else { throw bad("no \"choices\"") }
        guard case .array(let list) = choicesValue else { throw bad("\"choices\" is not an array") }
        guard !list.isEmpty else { throw bad("\"choices\" is empty") }
        var choices: [String] = []
        for (k, entry) in list.enumerated() {
            guard case .string(let choice) = entry else { throw bad("choice \(k) is not a string") }
            guard !choice.isEmpty else { throw bad("choice \(k) is empty") }
            choices.append(choice)
        }
        guard let answerValue = value["answer"] else { throw bad("no \"answer\"") }
        // Digits only: 1.0, 1e0 and "1" are refused rather than guessed at.
        guard case .number(let digits) = answerValue, let answer = Int(digits) else {
            throw bad("\"answer\" is \(answerValue.compact), not an integer index into \"choices\"")
        }
        guard choices.indices.contains(answer) else {
            throw bad("\"answer\" is \(answer), outside 0...\(choices.count - 1) for \(choices.count) choices")
        }
        return Item(line: number, context: context, choices: choices, answer: answer)
    }
}
