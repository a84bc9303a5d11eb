import Config
import Foundation

/// `index.json` of a folder made by `tessera prepare`: what the shards hold and how to read them.
/// Written with sorted keys, so the same inputs give the same bytes on any number of ranks.
///
///     {
///       "documents" : 1, "dtype" : "uint16", "end_of_text" : 65, "format" : "tessera-token-shards",
///       "shards" : [ { "crc32c" : "0x1c2d...", "documents" : 0, "file" : "shard_00000.bin",
///                      "source" : "data/tinyshakespeare.txt", "source_bytes" : 1048609, "tokens" : 1048609 }, ... ],
///       "source_bytes" : 1115394, "tokenizer" : "char", "tokenizer_data" : "\n !$&',-.3...",
///       "tokens" : 1115395, "train_tokens" : 1003855, "val_fraction" : 0.1, "val_tokens" : 111540,
///       "version" : 1, "vocab_size" : 66
///     }
///
/// `vocab_size` counts every id a shard may hold: the tokenizer's and its end-of-text id. The
/// train split is the first `train_tokens` of the shards concatenated in order, the validation
/// split the rest.
public struct ShardIndex: Codable, Sendable, Equatable {
    public static let formatName = "tessera-token-shards"
    /// A folder of seq2seq pairs: the same shards, each pair its input, end of text, its target,
    /// end of text (see `PairShards`).
    public static let pairFormatName = "tessera-pair-shards"
    public static let fileName = "index.json"

    public var format = ShardIndex.formatName
    public var version = 1
    public var tokenizer: String
    public var tokenizerData: String
    public var vocabSize: Int
    public var endOfText: Int
    public var dtype: String
    public var documents: Int
    public var tokens: Int
    public var sourceBytes: Int
    public var valFraction: Double
    public var trainTokens: Int
    public var valTokens: Int
    public var shards: [ShardRecord]

    enum CodingKeys: String, CodingKey {
        case format, version, tokenizer, tokenizerData = "tokenizer_data", vocabSize = "vocab_size",
             endOfText = "end_of_text", dtype, documents, tokens, sourceBytes = "source_bytes",
             valFraction = "val_fraction", trainTokens = "train_tokens", valTokens = "val_tokens", shards
    }

    /// The index for `shards` (in order) written with `tokenizer`, split at nanoGPT's
    /// `int(n * (1 - valFraction))`, or for pairs (`format` `pairFormatName`) at `trainTokens`,
    /// the start of the first validation pair.
    public init(tokenizer: any Tokenizer, valFraction: Double, shards: [ShardRecord], format: String = ShardIndex.formatName,
                trainTokens: Int? = nil) {
        self.format = format
        self.tokenizer = tokenizer.kind.rawValue
        tokenizerData = tokenizer.serialized
        vocabSize = tokenizer.vocabSizeWithEndOfText
        endOfText = Int(tokenizer.endOfText)
        dtype = TokenShard.width(vocabSize: vocabSize) == 2 ? "uint16" : "uint32"
        documents = shards.reduce(0) { $0 + $1.documents }
        tokens = shards.reduce(0) { $0 + $1.tokens }
        sourceBytes = shards.reduce(0) { $0 + $1.sourceBytes }
        self.valFraction = valFraction
        self.trainTokens = trainTokens ?? Int(Double(tokens) * (1 - valFraction))
        valTokens = tokens - self.trainTokens
        self.shards = shards
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try! encoder.encode(self)) + [0x0A]  // plain values only: encoding cannot fail
    }

    /// Reads `folder/index.json`, which must be of `format`: `formatName` (token shards) or
    /// `pairFormatName` (seq2seq pairs).
    public static func read(folder: String, format expected: String = formatName) throws -> ShardIndex {
        let path = folder + "/" + fileName
        let bytes = try FileBytes.contents(of: path)
        let index: ShardIndex
        do {
            index = try JSONDecoder().decode(ShardIndex.self, from: Foundation.Data(bytes))
        } catch {
            throw DataError.badIndex(path: path, reason: "not a readable index (\(error))")
        }
        guard index.format == expected else {
            let what = [formatName: "token shards", pairFormatName: "seq2seq pairs, from `tessera prepare --format seq2seq`"]
            throw DataError.badIndex(path: path, reason: "format is '\(index.format)'" + (what[index.format].map { " (\($0))" } ?? "")
                + ", but \(what[expected] ?? expected) are needed here")
        }
        guard index.version == 1 else { throw DataError.badIndex(path: path, reason: "version \(index.version); this Tessera reads version 1") }
        return index
    }
}

/// One shard as the index records it.
public struct ShardRecord: Codable, Sendable, Equatable {
    public var file: String
    /// The input file its tokens come from.
    public var source: String
    public var tokens: Int
    /// Documents that end in this shard.
    public var documents: Int
    public var sourceBytes: Int
    /// CRC-32C of the shard's payload, as "0x%08x".
    public var crc32c: String

    enum CodingKeys: String, CodingKey {
        case file, source, tokens, documents, sourceBytes = "source_bytes", crc32c
    }

    public init(file: String, source: String, tokens: Int, documents: Int, sourceBytes: Int, crc32c: UInt32) {
        self.file = file
        self.source = source
        self.tokens = tokens
        self.documents = documents
        self.sourceBytes = sourceBytes
        self.crc32c = hex(crc32c)
    }

    var checksum: UInt32? { crc32c.hasPrefix("0x") ? UInt32(crc32c.dropFirst(2), radix: 16) : nil }
}
