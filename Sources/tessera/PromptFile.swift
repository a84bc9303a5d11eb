import FileSystem

/// A prompts file of `tessera sample --prompts` and `tessera prefer`: UTF-8 text, one prompt per
/// line, `\n` in a line standing for a newline; blank lines skipped.
enum PromptFile {
    /// The largest prompts file read.
    static let limit = 1 << 30

    static func read(_ path: String) throws -> [String] {
        try readUTF8File(path, limit: limit).split(separator: "\n")
            .map { $0.replacingOccurrences(of: "\\n", with: "\n") }.filter { !$0.isEmpty }
    }
}
