import Config

/// A data problem found before training starts (or while preparing shards). `description` is one
/// line naming the file (with a line, row or byte offset where there is one) and what is wrong;
/// the command line prints it after `error: ` and exits 2.
public enum DataError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    /// A folder given as data that holds no `index.json` from `tessera prepare`.
    case folderNotSupported(path: String)
    case unreadable(path: String, reason: String)
    case emptyFile(path: String)
    case notUTF8(path: String, byteOffset: Int)
    case splitTooShort(path: String, split: String, tokens: Int, needed: Int)
    /// `data.tokenizer = "sentencepiece"` for a text file, without `data.tokenizer_model`.
    case missingTokenizerModel
    /// Text to encode holds a character the char vocabulary (built from the corpus) lacks.
    case unknownCharacter(Unicode.Scalar)
    /// A serialized char vocabulary that is empty or not strictly sorted: a corrupt checkpoint.
    case badVocabulary(reason: String)
    /// A SentencePiece model that does not load.
    case badTokenizerModel(path: String, reason: String)
    case tokenizerFailed(reason: String)
    case tokenizerTrainingFailed(reason: String)
    /// Input `tessera prepare` cannot read as its format: `location` is "line 3", "row 7 (line 8)"...
    case badInput(path: String, location: String, reason: String)
    /// A binary input file with a text tokenizer.
    case binaryNeedsByteTokenizer(path: String)
    /// A prepared folder's index.json that is missing pieces or not Tessera's.
    case badIndex(path: String, reason: String)
    /// A token shard whose header or size is wrong.
    case badShard(path: String, reason: String)
    case checksumMismatch(path: String, expected: UInt32, actual: UInt32)
    case tokenOutOfRange(path: String, position: Int, id: Int, vocabSize: Int)
    /// A multiple-choice task file that cannot be read or holds no items: `message` follows the
    /// path ("does not exist", "is a folder, not a file", ...).
    case taskFile(path: String, message: String)
    /// A span-corruption setting that cannot work: `reason` names the keys (`SpanCorruption`).
    case spanCorruption(String)
    /// Seq2seq pairs too few to give each split one: `pairs` read, `valFraction` the split asked.
    case tooFewPairs(path: String, pairs: Int, valFraction: Double)
    /// A sentence-pairs file for `tessera eval bias` that cannot be read or holds no pairs.
    case pairsFile(path: String, message: String)
    /// Two data sets (or a data set and a checkpoint) whose ids come from different tokenizers:
    /// each source named with its tokenizer described ("char (65 symbols)").
    case differentTokenizers(String, String, String, String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "data file '\(path)' does not exist"
        case .folderNotSupported(let path):
            "data.path '\(path)' is a folder without index.json; make token shards with `tessera prepare` or give a UTF-8 text file"
        case .unreadable(let path, let reason):
            "cannot read data file '\(path)': \(reason)"
        case .emptyFile(let path):
            "data file '\(path)' is empty"
        case .notUTF8(let path, let offset):
            "data file '\(path)' is not valid UTF-8 (byte \(offset)); use data.tokenizer = \"byte\" for it"
        case .splitTooShort(let path, let split, let tokens, let needed):
            "data file '\(path)': the \(split) split has \(tokens) tokens, fewer than model.block_size + 1 = "
                + "\(needed); use more text, a smaller block_size or another data.val_fraction"
        case .missingTokenizerModel:
            "data.tokenizer = \"sentencepiece\" needs data.tokenizer_model, a SentencePiece .model file"
        case .unknownCharacter(let scalar):
            "character '\(scalar.escaped(asASCII: false))' (U+\(String(scalar.value, radix: 16, uppercase: true))) "
                + "is not in the char tokenizer's vocabulary"
        case .badVocabulary(let reason):
            "corrupt char tokenizer vocabulary: \(reason)"
        case .badTokenizerModel(let path, let reason):
            "'\(path)' is not a SentencePiece model: \(oneLine(reason))"
        case .tokenizerFailed(let reason):
            "SentencePiece failed: \(oneLine(reason))"
        case .tokenizerTrainingFailed(let reason):
            "SentencePiece training failed: \(oneLine(reason))"
        case .badInput(let path, let location, let reason):
            "'\(path)' \(location): \(oneLine(reason))"
        case .binaryNeedsByteTokenizer(let path):
            "'\(path)' is a binary file (not .txt, .md, .jsonl, .csv, .tsv or .nt); binary files need --tokenizer byte"
        case .badIndex(let path, let reason):
            "token shard index '\(path)': \(oneLine(reason))"
        case .badShard(let path, let reason):
            "token shard '\(path)': \(oneLine(reason))"
        case .checksumMismatch(let path, let expected, let actual):
            "token shard '\(path)': checksum mismatch (CRC-32C \(hex(actual)), index records \(hex(expected))); prepare it again"
        case .tokenOutOfRange(let path, let position, let id, let vocabSize):
            "token shard '\(path)': token \(position) is id \(id), not below the vocabulary size \(vocabSize)"
        case .taskFile(let path, let message):
            "task file '\(path)' \(oneLine(message))"
        case .spanCorruption(let reason):
            "span corruption: \(oneLine(reason))"
        case .tooFewPairs(let path, let pairs, let valFraction):
            "seq2seq data '\(path)' holds \(pairs) pair\(pairs == 1 ? "" : "s"), too few to give the train and validation "
                + "splits one each at a validation fraction of \(valFraction)"
        case .pairsFile(let path, let message):
            "pairs file '\(path)' \(oneLine(message))"
        case .differentTokenizers(let first, let firstTokenizer, let second, let secondTokenizer):
            "data sets of different tokenizers: \(first) is \(firstTokenizer), \(second) is \(secondTokenizer)"
                + (firstTokenizer == secondTokenizer ? " with another vocabulary" : "")
                + "; their token ids mean different things: prepare both with the same tokenizer, or give text files"
        }
    }
}

/// A reason from a library, kept to one line.
private func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).joined(separator: " ")
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
