import Config

/// A data problem found before training starts. `description` is one line naming the file (or
/// the character) and what is wrong; the command line prints it after `error: ` and exits 2.
public enum DataError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    /// Token-shard folders come with `tessera prepare`; until then only text files are read.
    case folderNotSupported(path: String)
    case unreadable(path: String, reason: String)
    case emptyFile(path: String)
    case notUTF8(path: String, byteOffset: Int)
    case splitTooShort(path: String, split: String, tokens: Int, needed: Int)
    case unsupportedTokenizer(TokenizerKind)
    /// Text to encode holds a character the char vocabulary (built from the corpus) lacks.
    case unknownCharacter(Unicode.Scalar)
    /// A serialized char vocabulary that is empty or not strictly sorted: a corrupt checkpoint.
    case badVocabulary(reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "data file '\(path)' does not exist"
        case .folderNotSupported(let path):
            "data.path '\(path)' is a folder; token shards are not supported yet, give a UTF-8 text file"
        case .unreadable(let path, let reason):
            "cannot read data file '\(path)': \(reason)"
        case .emptyFile(let path):
            "data file '\(path)' is empty"
        case .notUTF8(let path, let offset):
            "data file '\(path)' is not valid UTF-8 (byte \(offset)); use data.tokenizer = \"byte\" for it"
        case .splitTooShort(let path, let split, let tokens, let needed):
            "data file '\(path)': the \(split) split has \(tokens) tokens, fewer than model.block_size + 1 = "
                + "\(needed); use more text, a smaller block_size or another data.val_fraction"
        case .unsupportedTokenizer(let kind):
            "data.tokenizer = \"\(kind.rawValue)\" is not supported yet; use \"char\" or \"byte\""
        case .unknownCharacter(let scalar):
            "character '\(scalar.escaped(asASCII: false))' (U+\(String(scalar.value, radix: 16, uppercase: true))) "
                + "is not in the char tokenizer's vocabulary"
        case .badVocabulary(let reason):
            "corrupt char tokenizer vocabulary: \(reason)"
        }
    }
}
