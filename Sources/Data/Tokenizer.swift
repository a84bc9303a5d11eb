import Config

/// Text ↔ token ids. A checkpoint stores `kind` and `serialized`, and `makeTokenizer` rebuilds an
/// identical tokenizer from them, so sampling needs no corpus.
public protocol Tokenizer: Sendable {
    var kind: TokenizerKind { get }
    var vocabSize: Int { get }
    /// What a checkpoint stores to rebuild this tokenizer (the char vocabulary; empty for bytes;
    /// the SentencePiece model in base64).
    var serialized: String { get }
    /// The id that ends each document in shards made by `tessera prepare`: one past the
    /// vocabulary for char and byte (so a model trained on shards has one more id), SentencePiece's
    /// `</s>`. `encode` never produces it; `decode` turns it into a newline.
    var endOfText: Int32 { get }
    /// Throws `DataError.unknownCharacter` for text the vocabulary cannot express.
    func encode(_ text: String) throws -> [Int32]
    /// Lossy: ids outside the vocabulary, and bytes that are not UTF-8, become U+FFFD.
    func decode(_ tokens: [Int32]) -> String
}

extension Tokenizer {
    public var endOfText: Int32 { Int32(vocabSize) }

    /// The ids a model must embed to train on this tokenizer's shards: the vocabulary and the
    /// end-of-text id.
    public var vocabSizeWithEndOfText: Int { max(vocabSize, Int(endOfText) + 1) }

    /// `tokens` cut at each end-of-text id (which is dropped), for decoders that join the runs.
    func splitAtEndOfText(_ tokens: [Int32]) -> [[Int32]] {
        tokens.split(separator: endOfText, omittingEmptySubsequences: false).map(Array.init)
    }
}

/// Rebuilds the tokenizer a checkpoint recorded.
public func makeTokenizer(kind: TokenizerKind, serialized: String) throws -> any Tokenizer {
    switch kind {
    case .char: try CharTokenizer(serialized: serialized)
    case .byte: ByteTokenizer()
    case .sentencepiece: try SentencePieceTokenizer(serialized: serialized)
    }
}

/// A tokenizer whose vocabulary includes its end-of-text id: what a corpus of prepared shards
/// trains with, so the model embeds every id the shards hold. Stored in checkpoints as its base.
public struct DocumentTokenizer: Tokenizer {
    public let base: any Tokenizer

    public init(base: any Tokenizer) { self.base = base }

    public var kind: TokenizerKind { base.kind }
    public var vocabSize: Int { base.vocabSizeWithEndOfText }
    public var serialized: String { base.serialized }
    public var endOfText: Int32 { base.endOfText }
    public func encode(_ text: String) throws -> [Int32] { try base.encode(text) }
    public func decode(_ tokens: [Int32]) -> String { base.decode(tokens) }
}
