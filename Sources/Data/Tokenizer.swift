import Config

/// Text ↔ token ids. A checkpoint stores `kind` and `serialized`, and `makeTokenizer` rebuilds an
/// identical tokenizer from them, so sampling needs no corpus.
public protocol Tokenizer: Sendable {
    var kind: TokenizerKind { get }
    var vocabSize: Int { get }
    /// What a checkpoint stores to rebuild this tokenizer (the char vocabulary; empty for bytes).
    var serialized: String { get }
    /// Throws `DataError.unknownCharacter` for text the vocabulary cannot express.
    func encode(_ text: String) throws -> [Int32]
    /// Lossy: ids outside the vocabulary, and bytes that are not UTF-8, become U+FFFD.
    func decode(_ tokens: [Int32]) -> String
}

/// Rebuilds the tokenizer a checkpoint recorded.
public func makeTokenizer(kind: TokenizerKind, serialized: String) throws -> any Tokenizer {
    switch kind {
    case .char: try CharTokenizer(serialized: serialized)
    case .byte: ByteTokenizer()
    case .sentencepiece: throw DataError.unsupportedTokenizer(kind)
    }
}
