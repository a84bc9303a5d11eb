import Config
import FileSystem

/// One line of a seq2seq JSONL file: its number (from 1) and its two texts.
public struct TextPair: Sendable, Equatable {
    public let line: Int
    public let input: String
    public let target: String

    public init(line: Int, input: String, target: String) {
        self.line = line
        self.input = input
        self.target = target
    }
}

/// Tokenized (input, target) pairs for a seq2seq model, split into train and validation pairs.
///
/// `data.path` is a JSONL file, one pair a non-blank line `{"input": "...", "target": "..."}`
/// (other keys are ignored), or a folder made from such files by `tessera prepare --format
/// seq2seq`. Every pair is checked before training and the first fault is one `DataError` naming
/// the file and line: a line over `lineLimit` bytes, bytes that are not UTF-8, a line that is not
/// a JSON object, a missing, repeated, non-string or empty "input" or "target", a text that
/// encodes to no tokens. The file itself is read only when it is a regular file of at most
/// `fileLimit` bytes, checked before anything is read.
///
/// Input and target each end with the tokenizer's end-of-text id (as T5's end with EOS), and the
/// model embeds that id too (`tokenizer` is a `DocumentTokenizer`). A pair whose input is longer
/// than `encoderLength` ids or whose target is longer than `decoderLength` ids, end of text
/// included, is refused, not cut: a cut target teaches a wrong answer and a cut input may drop
/// what the target depends on, so the error names the first such pair and how many there are.
///
/// The split is by pairs: the first int(n × (1 − valFraction)) pairs train, the rest validate
/// (for a prepared folder, as fixed by `--val-fraction` when it was prepared).
public struct Seq2SeqPairs: Sendable {
    /// The largest JSONL file read directly: 1 GiB (larger sets go through `tessera prepare`).
    public static let fileLimit = 1 << 30
    /// The longest line: 4 MiB, far past any pair that fits an encoder of thousands of tokens.
    public static let lineLimit = 1 << 22

    public let path: String
    /// The tokenizer with its end-of-text id in the vocabulary: `tokenizer.vocabSize` ids.
    public let tokenizer: any Tokenizer
    /// S: the most ids an input may have, end of text included (model.encoder_block_size).
    public let encoderLength: Int
    /// T: the most ids a target may have, end of text included (model.block_size).
    public let decoderLength: Int
    public let train: PairStore
    public let val: PairStore

    /// `path`: a folder from `tessera prepare --format seq2seq` (its tokenizer and split), or a
    /// JSONL file tokenized with a new tokenizer of `kind` (char: the characters of all inputs and
    /// targets; sentencepiece: `tokenizerModel`) and split at `valFraction`.
    public init(path: String, tokenizer kind: TokenizerKind, tokenizerModel: String = "", valFraction: Double,
                encoderLength: Int, decoderLength: Int) throws {
        if Corpus.isPreparedFolder(path) {
            try self.init(preparedFolder: path, encoderLength: encoderLength, decoderLength: decoderLength)
            return
        }
        let pairs = try Self.read(bytes: try FileBytes.contents(of: path, limit: Self.fileLimit), path: path)
        let tokenizer: any Tokenizer
        switch kind {
        case .byte: tokenizer = ByteTokenizer()
        case .sentencepiece:
            guard !tokenizerModel.isEmpty else { throw DataError.missingTokenizerModel }
            tokenizer = try SentencePieceTokenizer(modelPath: tokenizerModel)
        case .char:
            var scalars = Set<Unicode.Scalar>()
            for pair in pairs {
                scalars.formUnion(pair.input.unicodeScalars)
                scalars.formUnion(pair.target.unicodeScalars)
            }
            tokenizer = CharTokenizer(corpus: String(String.UnicodeScalarView(scalars.sorted { $0.value < $1.value })))
        }
        try self.init(pairs: pairs, path: path, tokenizer: tokenizer, valFraction: valFraction,
                      encoderLength: encoderLength, decoderLength: decoderLength)
    }

    /// The pairs of a JSONL file, encoded with a given `tokenizer` (say, a checkpoint's).
    public init(jsonl path: String, tokenizer: any Tokenizer, valFraction: Double, encoderLength: Int,
                decoderLength: Int) throws {
        let pairs = try Self.read(bytes: try FileBytes.contents(of: path, limit: Self.fileLimit), path: path)
        try self.init(pairs: pairs, path: path, tokenizer: tokenizer, valFraction: valFraction,
                      encoderLength: encoderLength, decoderLength: decoderLength)
    }

    /// `pairs` (from `read`), encoded, checked against the lengths and split; `path` for messages.
    public init(pairs: [TextPair], path: String, tokenizer: any Tokenizer, valFraction: Double, encoderLength: Int,
                decoderLength: Int) throws {
        precondition(valFraction > 0 && valFraction < 1, "valFraction must be in (0, 1), got \(valFraction)")
        precondition(encoderLength >= 1 && decoderLength >= 1, "bad lengths \(encoderLength), \(decoderLength)")
        let (tokens, spans) = try PairShards.encode(pairs, tokenizer: tokenizer, path: path)
        try Self.checkLengths(spans, encoderLength: encoderLength, decoderLength: decoderLength) { (path, "line \(pairs[$0].line)") }
        let trainCount = Int(Double(spans.count) * (1 - valFraction))
        guard trainCount >= 1, trainCount < spans.count else {
            throw DataError.tooFewPairs(path: path, pairs: spans.count, valFraction: valFraction)
        }
        let store = TokenStore(tokens)
        self.init(path: path, tokenizer: DocumentTokenizer(base: tokenizer), encoderLength: encoderLength,
                  decoderLength: decoderLength, train: PairStore(tokens: store, spans: Array(spans[..<trainCount])),
                  val: PairStore(tokens: store, spans: Array(spans[trainCount...])))
    }

    /// The pairs of a folder made by `tessera prepare --format seq2seq`: its shards mapped and
    /// checked (as a token corpus's are), every shard's pairs found and counted against the index,
    /// and every pair checked against the lengths.
    public init(preparedFolder folder: String, encoderLength: Int, decoderLength: Int) throws {
        let prepared = try PreparedFolder(folder: folder, format: ShardIndex.pairFormatName)
        let index = prepared.index, endOfText = prepared.base.endOfText
        var spans: [PairSpan] = [], firstPair: [Int] = []
        for (record, segment) in zip(index.shards, prepared.segments) {
            let found = try PairShards.spans(of: segment, endOfText: endOfText, path: folder + "/" + record.file)
            guard found.count == record.documents else {
                throw DataError.badIndex(path: prepared.indexPath, reason: "shard '\(record.file)' holds \(found.count) pairs, "
                    + "but the index records \(record.documents)")
            }
            firstPair.append(spans.count)
            spans += found
        }
        try Self.checkLengths(spans, encoderLength: encoderLength, decoderLength: decoderLength) { pair in
            let shard = firstPair.lastIndex { $0 <= pair }!
            return (folder + "/" + index.shards[shard].file, "pair \(pair - firstPair[shard] + 1) (from '\(index.shards[shard].source)')")
        }
        let trainCount = index.trainTokens == index.tokens ? spans.count : spans.firstIndex { $0.start >= index.trainTokens }
        guard let trainCount, trainCount == spans.count || spans[trainCount].start == index.trainTokens else {
            throw DataError.badIndex(path: prepared.indexPath, reason: "train_tokens \(index.trainTokens) does not fall between two pairs")
        }
        guard trainCount >= 1, trainCount < spans.count else {
            throw DataError.tooFewPairs(path: folder, pairs: spans.count, valFraction: index.valFraction)
        }
        let store = prepared.tokens
        self.init(path: folder, tokenizer: DocumentTokenizer(base: prepared.base), encoderLength: encoderLength,
                  decoderLength: decoderLength, train: PairStore(tokens: store, spans: Array(spans[..<trainCount])),
                  val: PairStore(tokens: store, spans: Array(spans[trainCount...])))
    }

    private init(path: String, tokenizer: any Tokenizer, encoderLength: Int, decoderLength: Int, train: PairStore, val: PairStore) {
        self.path = path
        self.tokenizer = tokenizer
        self.encoderLength = encoderLength
        self.decoderLength = decoderLength
        self.train = train
        self.val = val
    }

    /// The pairs of a JSONL file's `bytes`, every line checked; `path` is for messages. A UTF-8
    /// byte order mark before the first line is skipped; blank lines are skipped; a line of more
    /// than `lineLimit` bytes is refused before it is parsed.
    public static func read(bytes: [UInt8], path: String) throws(DataError) -> [TextPair] {
        var pairs: [TextPair] = []
        for (number, whole) in StructuredText.lines(bytes) {
            let line = number == 1 && whole.starts(with: [0xEF, 0xBB, 0xBF]) ? whole.dropFirst(3) : whole
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { continue }
            func bad(_ reason: String) -> DataError { .badInput(path: path, location: "line \(number)", reason: reason) }
            guard line.count <= lineLimit else {
                throw bad("\(line.count) bytes, more than the \(lineLimit) a line of pairs may hold")
            }
            let text = Array(line)
            if let offset = UTF8Check.firstInvalidOffset(text) {
                throw bad("not valid UTF-8 (byte \(line.startIndex + offset) of the file)")
            }
            let value: JSONValue
            do {
                value = try JSONReader.parse(text)
            } catch {
                throw bad("not JSON (column \(error.column): \(error.reason)); each line is one object {\"input\": ..., \"target\": ...}")
            }
            guard case .object(let members) = value else { throw bad("not a JSON object, but \(value.kindPhrase)") }
            func field(_ key: String) throws(DataError) -> String {
                let values = members.filter { $0.key == key }
                guard let value = values.first?.value else { throw bad("no \"\(key)\"") }
                guard values.count == 1 else { throw bad("\"\(key)\" appears \(values.count) times") }
                guard case .string(let string) = value else { throw bad("\"\(key)\" is \(value.kindPhrase), not a string") }
                guard !string.isEmpty else { throw bad("\"\(key)\" is empty") }
                return string
            }
            pairs.append(TextPair(line: number, input: try field("input"), target: try field("target")))
        }
        return pairs
    }

    /// Refuses the first pair longer than the lengths, counting all that are.
    static func checkLengths(_ spans: [PairSpan], encoderLength: Int, decoderLength: Int,
                             locate: (Int) -> (path: String, location: String)) throws(DataError) {
        var first: Int?, tooLong = 0, longestInput = 0, longestTarget = 0
        for (i, span) in spans.enumerated() {
            longestInput = max(longestInput, Int(span.inputCount))
            longestTarget = max(longestTarget, Int(span.targetCount))
            if span.inputCount > encoderLength || span.targetCount > decoderLength {
                tooLong += 1
                first = first ?? i
            }
        }
        guard let first else { return }
        let span = spans[first], (path, location) = locate(first)
        let what = span.inputCount > encoderLength
            ? "the input is \(span.inputCount) tokens with its end of text, more than model.encoder_block_size = \(encoderLength)"
            : "the target is \(span.targetCount) tokens with its end of text, more than model.block_size = \(decoderLength)"
        throw .badInput(path: path, location: location, reason: "\(what); \(tooLong) of \(spans.count) pairs are too long "
            + "(longest input \(longestInput), longest target \(longestTarget) tokens). Pairs are refused, not cut: "
            + "raise the lengths or leave those pairs out")
    }
}

/// One split's pairs: the token stream they lie in and where each lies.
public struct PairStore: Sendable {
    /// The ids its pairs lie in (shared by both splits' stores).
    let tokens: TokenStore
    let spans: [PairSpan]

    public var count: Int { spans.count }

    /// Pair `i`'s input ids, end of text included.
    public func input(_ i: Int) -> [Int32] { ids(spans[i].start, Int(spans[i].inputCount)) }

    /// Pair `i`'s target ids, end of text included.
    public func target(_ i: Int) -> [Int32] { ids(spans[i].start + Int(spans[i].inputCount), Int(spans[i].targetCount)) }
    /// Ids of pair i's target, end of text included.
    public func targetCount(_ i: Int) -> Int { Int(spans[i].targetCount) }
    /// Ids in all of the store's pairs, inputs and targets.
    public var tokenCount: Int { spans.reduce(0) { $0 + Int($1.inputCount) + Int($1.targetCount) } }

    private func ids(_ start: Int, _ count: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { tokens.copy(from: start, count: count, into: $0.baseAddress!) }
        return out
    }
}

/// Where a pair lies in a token stream: its input's ids from `start`, then its target's, each
/// count including its end-of-text id.
struct PairSpan: Sendable, Equatable {
    let start: Int
    let inputCount: Int32
    let targetCount: Int32
}

extension JSONValue {
    /// "a string", "a number", ...: for messages about a value of the wrong kind.
    var kindPhrase: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
