import Config
import FileSystem

/// A folder made by `tessera prepare`, opened: its index, the tokenizer it records and every
/// shard mapped and checked against the index (header, size, CRC-32C, every id below the index's
/// vocabulary size), with the index's totals and split checked against the shards. Shared by
/// token corpora (`Corpus`) and seq2seq pairs (`Seq2SeqPairs`); `format` says which the folder
/// must hold.
struct PreparedFolder {
    let path: String
    let indexPath: String
    let index: ShardIndex
    /// The tokenizer the shards were written with (without the end-of-text id in its vocabulary).
    let base: any Tokenizer
    /// One per shard, in index order; `start` is the shard's offset in the concatenation.
    let segments: [ShardSegment]

    init(folder: String, format: String) throws {
        let index = try ShardIndex.read(folder: folder, format: format)
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
        self.path = folder
        self.indexPath = indexPath
        self.index = index
        self.base = base
        self.segments = segments
    }

    /// Every token of the folder, the shards concatenated in order.
    var tokens: TokenStore { TokenStore(shards: segments, range: 0..<index.tokens) }
}
