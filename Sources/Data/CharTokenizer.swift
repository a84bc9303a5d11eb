import Config

/// nanoGPT's character-level tokenizer: the vocabulary is the corpus's unique Unicode scalars in
/// code-point order (65 symbols for tinyshakespeare), a token is a scalar's index.
///
/// Scalars, not `Character`s: "\r\n" is one Character but two scalars, as in Python.
/// Encoding text with a scalar outside the vocabulary (e.g. a sampling prompt) throws
/// `DataError.unknownCharacter` rather than silently dropping or replacing it.
public struct CharTokenizer: Tokenizer {
    public let symbols: [Unicode.Scalar]
    private let ids: [Unicode.Scalar: Int32]

    /// The vocabulary of `corpus`.
    public init(corpus: String) {
        self.init(sortedSymbols: Set(corpus.unicodeScalars).sorted { $0.value < $1.value })
    }

    /// Rebuilds from `serialized`: the vocabulary's scalars concatenated, strictly increasing.
    public init(serialized: String) throws {
        let symbols = Array(serialized.unicodeScalars)
        guard !symbols.isEmpty else { throw DataError.badVocabulary(reason: "it is empty") }
        guard zip(symbols, symbols.dropFirst()).allSatisfy({ $0.value < $1.value }) else {
            throw DataError.badVocabulary(reason: "its symbols are not sorted and unique")
        }
        self.init(sortedSymbols: symbols)
    }

    private init(sortedSymbols: [Unicode.Scalar]) {
        symbols = sortedSymbols
        ids = Dictionary(uniqueKeysWithValues: sortedSymbols.enumerated().map { ($1, Int32($0)) })
    }

    public var kind: TokenizerKind { .char }
    public var vocabSize: Int { symbols.count }
    public var serialized: String { String(String.UnicodeScalarView(symbols)) }

    public func encode(_ text: String) throws -> [Int32] {
        var tokens: [Int32] = []
        tokens.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            guard let id = ids[scalar] else { throw DataError.unknownCharacter(scalar) }
            tokens.append(id)
        }
        return tokens
    }

    /// The end-of-text id (the vocabulary's size) decodes to a newline, other ids outside the
    /// vocabulary to U+FFFD.
    public func decode(_ tokens: [Int32]) -> String {
        var text = String.UnicodeScalarView()
        for token in tokens {
            text.append(symbols.indices.contains(Int(token)) ? symbols[Int(token)] : token == endOfText ? "\n" : "\u{FFFD}")
        }
        return String(text)
    }
}
