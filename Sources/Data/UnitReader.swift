#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A unit's documents, rendered as text (or, for a binary file, as its tag line and bytes).
public struct UnitDocuments: Sendable {
    /// Text documents; the last one continues in the next unit when `lastIsComplete` is false
    /// (a text file's chunk before its end).
    public var texts: [String] = []
    public var lastIsComplete = true
    /// A binary file's document: the tag line and the file's bytes.
    public var binary: [UInt8]?
    /// Input bytes this unit covers.
    public var sourceBytes = 0
    /// A seq2seq unit's pairs (then `texts` is empty), and the file they come from.
    public var pairs: [TextPair]?
    public var path = ""

    /// Every text the unit holds, pairs' inputs and targets included: what a char vocabulary needs.
    public var allTexts: [String] {
        texts + (pairs ?? []).flatMap { [$0.input, $0.target] }
    }
}

/// Reads units and encodes them into token ids with each complete document's end-of-text id.
public struct UnitReader: Sendable {
    public let template: JSONLTemplate?

    public init(template: JSONLTemplate?) { self.template = template }

    public func documents(_ unit: PrepareUnit) throws(DataError) -> UnitDocuments {
        let bytes = try FileBytes.range(unit.bytes, of: unit.path)
        var result = UnitDocuments(sourceBytes: bytes.count, path: unit.path)
        if unit.format == .seq2seq {
            // Checked line by line, so that every error, a long line or bad UTF-8 included, names its line.
            result.pairs = try Seq2SeqPairs.read(bytes: bytes, path: unit.path)
            return result
        }
        if unit.format == .binary {
            result.binary = Array((InputFormat.modalityTag(path: unit.path) + "\n").utf8) + bytes
            return result
        }
        if let offset = UTF8Check.firstInvalidOffset(bytes) {
            let absolute = unit.bytes.lowerBound + offset
            throw .badInput(path: unit.path, location: "byte \(absolute)", reason: "not valid UTF-8 text; give binary files another extension or --format binary")
        }
        switch unit.format {
        case .text:
            result.texts = [String(decoding: bytes, as: UTF8.self)]
            result.lastIsComplete = unit.endsFile
        case .jsonl: result.texts = try StructuredText.jsonl(bytes, path: unit.path, template: template)
        case .csv: result.texts = try StructuredText.table(bytes, path: unit.path, separator: UInt8(ascii: ","))
        case .tsv: result.texts = try StructuredText.table(bytes, path: unit.path, separator: 0x09)
        case .triples: result.texts = try StructuredText.nTriples(bytes, path: unit.path)
        case .binary, .seq2seq: break
        }
        result.texts.removeAll { $0.isEmpty }
        return result
    }

    /// The unit's token ids: each document's, followed by `tokenizer.endOfText` when it ends here;
    /// for seq2seq, each pair's input and target so (`PairShards`), and the count of pairs.
    public static func encode(_ documents: UnitDocuments, tokenizer: any Tokenizer) throws -> (tokens: [Int32], documents: Int) {
        if let pairs = documents.pairs {
            return (try PairShards.encode(pairs, tokenizer: tokenizer, path: documents.path).tokens, pairs.count)
        }
        var tokens: [Int32] = [], count = 0
        if let binary = documents.binary {
            precondition(tokenizer.kind == .byte, "binary documents need the byte tokenizer")
            return (binary.map { Int32($0) } + [tokenizer.endOfText], 1)
        }
        for (i, text) in documents.texts.enumerated() {
            tokens += try tokenizer.encode(text)
            if i < documents.texts.count - 1 || documents.lastIsComplete {
                tokens.append(tokenizer.endOfText)
                count += 1
            }
        }
        return (tokens, count)
    }
}

extension FileBytes {
    /// The bytes `range` of `path`.
    static func range(_ range: Range<Int>, of path: String) throws(DataError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw errno == ENOENT ? .fileNotFound(path: path) : .unreadable(path: path, reason: systemReason())
        }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: range.count), done = 0
        while done < range.count {
            let count = bytes.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress! + done, $0.count - done, off_t(range.lowerBound + done))
            }
            guard count > 0 else {
                throw .unreadable(path: path, reason: count == 0 ? "file shrank while reading" : systemReason())
            }
            done += count
        }
        return bytes
    }
}
