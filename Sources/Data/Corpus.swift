import Config

/// The tokenized training text, split nanoGPT-style: the first (1 − val_fraction) of the tokens
/// train, the rest validate (train 1,003,854 / val 111,540 for tinyshakespeare at 0.1).
public struct Corpus: Sendable {
    public let path: String
    public let tokenizer: any Tokenizer
    public let train: [Int32]
    public let val: [Int32]

    /// The corpus `config.data` names, checked to hold a whole sequence in each split.
    public init(config: TesseraConfig) throws {
        try self.init(path: config.data.path, tokenizer: config.data.tokenizer,
                      valFraction: config.data.valFraction, blockSize: config.model.blockSize)
    }

    /// Reads `path` as raw text, builds a `tokenizer` of that kind from it and splits the tokens.
    /// Each split must hold `blockSize + 1` tokens: one sequence and its shifted targets. The split
    /// point is nanoGPT's `int(n * (1 - val_fraction))`.
    public init(path: String, tokenizer kind: TokenizerKind, valFraction: Double, blockSize: Int) throws {
        precondition(valFraction > 0 && valFraction < 1, "valFraction must be in (0, 1), got \(valFraction)")
        let bytes = try FileBytes.contents(of: path)
        guard !bytes.isEmpty else { throw DataError.emptyFile(path: path) }

        let tokens: [Int32]
        switch kind {
        case .sentencepiece:
            throw DataError.unsupportedTokenizer(kind)
        case .byte:
            tokenizer = ByteTokenizer()
            tokens = bytes.map { Int32($0) }
        case .char:
            if let offset = UTF8Check.firstInvalidOffset(bytes) {
                throw DataError.notUTF8(path: path, byteOffset: offset)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let chars = CharTokenizer(corpus: text)
            tokenizer = chars
            tokens = try chars.encode(text)
        }

        let trainCount = Int(Double(tokens.count) * (1 - valFraction))
        for (split, count) in [("train", trainCount), ("validation", tokens.count - trainCount)]
        where count < blockSize + 1 {
            throw DataError.splitTooShort(path: path, split: split, tokens: count, needed: blockSize + 1)
        }
        self.path = path
        train = Array(tokens[..<trainCount])
        val = Array(tokens[trainCount...])
    }
}
