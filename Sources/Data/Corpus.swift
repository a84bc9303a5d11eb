#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Config
import FileSystem

/// The tokenized training text, split nanoGPT-style: the first (1 − val_fraction) of the tokens
/// train, the rest validate (train 1,003,854 / val 111,540 for tinyshakespeare at 0.1).
///
/// `data.path` is a UTF-8 text file (tokenized in memory) or a folder of token shards made by
/// `tessera prepare` (memory-mapped, checked against its index.json; its split and tokenizer are
/// the folder's, fixed when it was prepared).
public struct Corpus: Sendable {
    public let path: String
    public let tokenizer: any Tokenizer
    public let train: TokenStore
    public let val: TokenStore

    /// The corpus `config.data` names, checked to hold a whole sequence in each split.
    public init(config: TesseraConfig) throws {
        try self.init(path: config.data.path, tokenizer: config.data.tokenizer, tokenizerModel: config.data.tokenizerModel,
                      valFraction: config.data.valFraction, blockSize: config.model.blockSize)
    }

    /// Reads `path`: a prepared folder, or raw text from which it builds a `tokenizer` of that
    /// kind (SentencePiece from `tokenizerModel`) and splits the tokens. Each split must hold
    /// `blockSize + 1` tokens: one sequence and its shifted targets. The split point is nanoGPT's
    /// `int(n * (1 - val_fraction))`.
    public init(path: String, tokenizer kind: TokenizerKind, tokenizerModel: String = "", valFraction: Double,
                blockSize: Int) throws {
        precondition(valFraction > 0 && valFraction < 1, "valFraction must be in (0, 1), got \(valFraction)")
        if Corpus.isPreparedFolder(path) {
            try self.init(preparedFolder: path, blockSize: blockSize)
            return
        }
        let (tokenizer, tokens) = try Corpus.tokenize(path: path, kind: kind, tokenizerModel: tokenizerModel)
        let trainCount = Int(Double(tokens.count) * (1 - valFraction))
        try Corpus.checkSplits(path: path, train: trainCount, val: tokens.count - trainCount, blockSize: blockSize)
        self.init(path: path, tokenizer: tokenizer, train: TokenStore(Array(tokens[..<trainCount])),
                  val: TokenStore(Array(tokens[trainCount...])))
    }

    private init(path: String, tokenizer: any Tokenizer, train: TokenStore, val: TokenStore) {
        self.path = path
        self.tokenizer = tokenizer
        self.train = train
        self.val = val
    }

    /// A text file's tokens, with the tokenizer built for it.
    private static func tokenize(path: String, kind: TokenizerKind, tokenizerModel: String) throws
        -> (any Tokenizer, [Int32]) {
        let bytes = try FileBytes.contents(of: path)
        guard !bytes.isEmpty else { throw DataError.emptyFile(path: path) }
        switch kind {
        case .sentencepiece:
            guard !tokenizerModel.isEmpty else { throw DataError.missingTokenizerModel }
            if let offset = UTF8Check.firstInvalidOffset(bytes) {
                throw DataError.notUTF8(path: path, byteOffset: offset)
            }
            let pieces = try SentencePieceTokenizer(modelPath: tokenizerModel)
            return (pieces, try bytes.withUnsafeBytes { try pieces.encode(utf8: $0) })
        case .byte:
            return (ByteTokenizer(), bytes.map { Int32($0) })
        case .char:
            if let offset = UTF8Check.firstInvalidOffset(bytes) {
                throw DataError.notUTF8(path: path, byteOffset: offset)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let chars = CharTokenizer(corpus: text)
            return (chars, try chars.encode(text))
        }
    }

    /// Maps the shards of a folder made by `tessera prepare`, checking each against the index:
    /// header, size, CRC-32C and every id below the index's vocabulary size.
    public init(preparedFolder folder: String, blockSize: Int) throws {
        let index = try ShardIndex.read(folder: folder)
        let indexPath = folder + "/" + ShardIndex.fileName
        guard let kind = TokenizerKind(rawValue: index.tokenizer) else {
            throw DataError.badIndex(path: indexPath, reason: "unknown tokenizer '\(index.tokenizer)'")
        }
        let base = try makeTokenizer(kind: kind, serialized: index.tokenizerData)
        guard index.vocabSize == base.vocabSizeWithEndOfText, index.endOfText == Int(base.endOfText) else {
            throw DataError.badIndex(path: indexPath, reason: "vocab_size \(index.vocabSize) and end_of_text \(index.endOfText) "
                + "disagree with its tokenizer's \(base.vocabSizeWithEndOfText) and \(base.endOfText)")
        }
        let width = TokenShard.width(vocabSize: index.vocabSize)
        guard index.dtype == (width == 2 ? "uint16" : "uint32") else {
            throw DataError.badIndex(path: indexPath, reason: "dtype '\(index.dtype)' does not fit vocab_size \(index.vocabSize)")
        }
        var segments: [ShardSegment] = [], start = 0
        for record in index.shards {
            guard isPlainFileName(record.file) else {
                throw DataError.badIndex(path: indexPath, reason: "shard file '\(record.file)' is not a plain file name in the folder")
            }
            guard let crc = record.checksum else {
                throw DataError.badIndex(path: indexPath, reason: "shard '\(record.file)' has crc32c '\(record.crc32c)', not 0x and 8 hex digits")
            }
            guard record.tokens >= 0 else {
                throw DataError.badIndex(path: indexPath, reason: "shard '\(record.file)' records \(record.tokens) tokens")
            }
            let file = try MappedFile(path: folder + "/" + record.file)
            let payload = try TokenShard.validate(file, tokens: record.tokens, width: width, crc: crc, vocabSize: index.vocabSize)
            segments.append(ShardSegment(file: file, payload: payload, width: width, start: start, count: record.tokens))
            start += record.tokens
        }
        guard start == index.tokens else {
            throw DataError.badIndex(path: indexPath, reason: "its shards hold \(start) tokens, but it records \(index.tokens)")
        }
        guard index.trainTokens >= 0, index.valTokens >= 0, index.trainTokens <= start, index.valTokens == start - index.trainTokens else {
            throw DataError.badIndex(path: indexPath, reason: "train_tokens \(index.trainTokens) + val_tokens \(index.valTokens) "
                + "do not add up to its \(start) tokens")
        }
        try Corpus.checkSplits(path: folder, train: index.trainTokens, val: index.valTokens, blockSize: blockSize)
        self.init(path: folder, tokenizer: DocumentTokenizer(base: base),
                  train: TokenStore(shards: segments, range: 0..<index.trainTokens),
                  val: TokenStore(shards: segments, range: index.trainTokens..<start))
    }

    /// Whether `path` is a folder holding an index.json.
    public static func isPreparedFolder(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && access(path + "/" + ShardIndex.fileName, F_OK) == 0
    }

    private static func checkSplits(path: String, train: Int, val: Int, blockSize: Int) throws {
        for (split, count) in [("train", train), ("validation", val)] where count < blockSize + 1 {
            throw DataError.splitTooShort(path: path, split: split, tokens: count, needed: blockSize + 1)
        }
    }
}
