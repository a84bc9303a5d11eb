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

    /// The tokens of a pairs file, for what needs a run's tokenizer and token counts: its pairs'
    /// ids (both splits in one store) and its tokenizer.
    public init(pairs: Seq2SeqPairs) {
        self.init(path: pairs.path, tokenizer: pairs.tokenizer, train: pairs.train.tokens, val: pairs.val.tokens)
    }

    init(path: String, tokenizer: any Tokenizer, train: TokenStore, val: TokenStore) {
        self.path = path
        self.tokenizer = tokenizer
        self.train = train
        self.val = val
    }

    /// A text file's tokens, with the tokenizer built for it.
    private static func tokenize(path: String, kind: TokenizerKind, tokenizerModel: String) throws
        -> (any Tokenizer, [Int32]) {
        let bytes = try textBytes(path)
        let tokenizer: any Tokenizer
        switch kind {
        case .sentencepiece:
            guard !tokenizerModel.isEmpty else { throw DataError.missingTokenizerModel }
            tokenizer = try SentencePieceTokenizer(modelPath: tokenizerModel)
        case .byte:
            tokenizer = ByteTokenizer()
        case .char:
            tokenizer = try CharTokenizer(corpus: utf8Text(bytes, path: path))
        }
        return (tokenizer, try tokenizer.encode(fileBytes: bytes, path: path))
    }

    /// A text file's bytes, refused when missing, a folder, unreadable or empty.
    static func textBytes(_ path: String) throws -> [UInt8] {
        let bytes = try FileBytes.contents(of: path)
        guard !bytes.isEmpty else { throw DataError.emptyFile(path: path) }
        return bytes
    }

    /// `bytes` as text, refused at the first byte that is not UTF-8.
    static func utf8Text(_ bytes: [UInt8], path: String) throws -> String {
        if let offset = UTF8Check.firstInvalidOffset(bytes) { throw DataError.notUTF8(path: path, byteOffset: offset) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Maps the shards of a folder made by `tessera prepare`, checking each against the index:
    /// header, size, CRC-32C and every id below the index's vocabulary size.
    public init(preparedFolder folder: String, blockSize: Int) throws {
        let prepared = try PreparedFolder(folder: folder, format: ShardIndex.formatName)
        let index = prepared.index
        try Corpus.checkSplits(path: folder, train: index.trainTokens, val: index.valTokens, blockSize: blockSize)
        self.init(path: folder, tokenizer: DocumentTokenizer(base: prepared.base),
                  train: TokenStore(shards: prepared.segments, range: 0..<index.trainTokens),
                  val: TokenStore(shards: prepared.segments, range: index.trainTokens..<index.tokens))
    }

    /// Whether `path` is a folder holding an index.json.
    public static func isPreparedFolder(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && access(path + "/" + ShardIndex.fileName, F_OK) == 0
    }

    static func checkSplits(path: String, train: Int, val: Int, blockSize: Int) throws {
        for (split, count) in [("train", train), ("validation", val)] where count < blockSize + 1 {
            throw DataError.splitTooShort(path: path, split: split, tokens: count, needed: blockSize + 1)
        }
    }
}
