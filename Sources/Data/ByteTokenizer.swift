import Config

/// One token per byte of UTF-8: a fixed vocabulary of 256 that can encode any file, text or not.
public struct ByteTokenizer: Tokenizer {
    public init() {}

    public var kind: TokenizerKind { .byte }
    public var vocabSize: Int { 256 }
    public var serialized: String { "" }

    public func encode(_ text: String) -> [Int32] {
        text.utf8.map { Int32($0) }
    }

    /// The end-of-text id (256) decodes to a newline; byte sequences that are not UTF-8 and other
    /// ids outside 0..<256 decode to U+FFFD.
    public func decode(_ tokens: [Int32]) -> String {
        // 0xFF never occurs in UTF-8, so an out-of-range id decodes as one replacement character.
        String(decoding: tokens.map { $0 == endOfText ? 0x0A : (0..<256).contains($0) ? UInt8($0) : 0xFF },
               as: UTF8.self)
    }
}
