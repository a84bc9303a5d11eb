/// A whole data set as token ids, both splits, for comparing two data sets (`tessera monitor
/// drift`): a folder made by `tessera prepare`, with the tokenizer it records, or a text file
/// encoded with a tokenizer the caller settles (see `DataSetPair`).
public struct DataSetTokens: Sendable {
    public let path: String
    public let tokens: TokenStore
    /// The tokenizer that wrote the ids; for a prepared folder the one its index records (without
    /// the end-of-text id, which documents end with).
    public let tokenizer: any Tokenizer
    /// The id each document of a prepared folder ends with; nil for a text file, which has none.
    public let endOfText: Int32?

    /// Every shard of a prepared folder, checked as training checks it.
    public init(preparedFolder folder: String) throws {
        let prepared = try PreparedFolder(folder: folder, format: ShardIndex.formatName)
        (path, tokens, tokenizer, endOfText) = (folder, prepared.tokens, prepared.base, prepared.base.endOfText)
    }

    /// A text file encoded with `tokenizer`; throws for a missing or empty file, bytes that are not
    /// UTF-8 (but for the byte tokenizer) and text the tokenizer cannot express.
    public init(textFile: String, tokenizer: any Tokenizer) throws {
        let ids: [Int32]
        do {
            ids = try tokenizer.encode(fileBytes: try Corpus.textBytes(textFile), path: textFile)
        } catch DataError.unknownCharacter(let scalar) {
            throw DataError.badInput(path: textFile, location: "text", reason: "\(DataError.unknownCharacter(scalar)) "
                + "(the tokenizer the other data set or the checkpoint fixes)")
        }
        (path, tokens, self.tokenizer, endOfText) = (textFile, TokenStore(ids), tokenizer, nil)
    }

    /// The char tokenizer whose vocabulary is every character of the text files `paths`, so
    /// each of them encodes and a character only one holds counts as a difference.
    public static func charTokenizer(ofTextFiles paths: [String]) throws -> CharTokenizer {
        var text = ""
        for path in paths { text += try Corpus.utf8Text(try Corpus.textBytes(path), path: path) }
        return CharTokenizer(corpus: text)
    }
}
