import Config

/// Two data sets as ids of one tokenizer, so their distributions compare token for token.
///
/// The tokenizer is fixed by whatever carries one: a checkpoint's (given by the caller) and each
/// prepared folder's index; they must all be the same tokenizer (kind and vocabulary), else the
/// ids would mean different things and `DataError.differentTokenizers` names the two. Text files
/// are encoded with it. With nothing to fix it (two text files, no checkpoint), `textTokenizer`
/// (default char) is built over both: char from every character of both files, SentencePiece from
/// `tokenizerModel`.
public struct DataSetPair: Sendable {
    public let reference: DataSetTokens
    public let current: DataSetTokens
    public let tokenizer: any Tokenizer

    /// `fixed`: the checkpoint's tokenizer and how to name it ("checkpoint 'runs/x'"), if any.
    public init(reference: String, current: String, fixed: (tokenizer: any Tokenizer, source: String)? = nil,
                textTokenizer: TokenizerKind? = nil, tokenizerModel: String = "") throws {
        let paths = [reference, current]
        let folders = try paths.map { Corpus.isPreparedFolder($0) ? try DataSetTokens(preparedFolder: $0) : nil }
        var carriers: [(tokenizer: any Tokenizer, source: String)] = fixed.map { [$0] } ?? []
        carriers += folders.compactMap { $0 }.map { ($0.tokenizer, "prepared folder '\($0.path)'") }
        if let kind = textTokenizer, let first = carriers.first, first.tokenizer.kind != kind {
            throw DataError.differentTokenizers(first.source, Self.describe(first.tokenizer), "--tokenizer \(kind.rawValue)", kind.rawValue)
        }
        for other in carriers.dropFirst() where !Self.same(carriers[0].tokenizer, other.tokenizer) {
            throw DataError.differentTokenizers(carriers[0].source, Self.describe(carriers[0].tokenizer),
                                                other.source, Self.describe(other.tokenizer))
        }
        let tokenizer: any Tokenizer
        if let first = carriers.first {
            tokenizer = first.tokenizer
        } else {
            switch textTokenizer ?? .char {
            case .char: tokenizer = try DataSetTokens.charTokenizer(ofTextFiles: paths)
            case .byte: tokenizer = ByteTokenizer()
            case .sentencepiece:
                guard !tokenizerModel.isEmpty else { throw DataError.missingTokenizerModel }
                tokenizer = try SentencePieceTokenizer(modelPath: tokenizerModel)
            }
        }
        let sets = try zip(paths, folders).map { path, folder in try folder ?? DataSetTokens(textFile: path, tokenizer: tokenizer) }
        (self.reference, self.current, self.tokenizer) = (sets[0], sets[1], tokenizer)
    }

    /// Same kind and same vocabulary (a char tokenizer's symbols, a SentencePiece model's bytes).
    static func same(_ a: any Tokenizer, _ b: any Tokenizer) -> Bool {
        a.kind == b.kind && a.serialized == b.serialized
    }

    /// "char (65 symbols)", "byte", "sentencepiece (8000 pieces)".
    public static func describe(_ tokenizer: any Tokenizer) -> String {
        switch tokenizer.kind {
        case .char: "char (\(tokenizer.vocabSize) symbols)"
        case .byte: "byte"
        case .sentencepiece: "sentencepiece (\(tokenizer.vocabSize) pieces)"
        }
    }
}
