import FileSystem

/// Sentence pairs for `tessera eval bias`, in CrowS-Pairs' CSV format: a header row naming at
/// least `sent_more`, `sent_less`, `stereo_antistereo` and `bias_type` (in any order; other
/// columns, such as the published file's unnamed index, `annotations`, `anon_writer` and
/// `anon_annotators`, are ignored), then one pair per row. Fields follow RFC 4180: a field in
/// double quotes may hold commas, line breaks and doubled quotes (`""`); rows end in LF or CRLF.
///
/// Everything is checked before the first pair is scored: the file is read only when it is a
/// regular file of at most `sizeLimit` bytes (its size is checked before anything is allocated),
/// it must be UTF-8, the header must name the four columns, and every row must have as many
/// fields as the header, two non-empty sentences, a non-empty `bias_type` and a
/// `stereo_antistereo` of `stereo` or `antistereo`. Errors name the file and the line.
public struct BiasPairs: Sendable {
    public struct Pair: Sendable, Equatable {
        /// The line of the file where the pair's row starts, from 1 (a quoted field may span lines).
        public let line: Int
        /// The more stereotypical sentence, by the dataset's labelling.
        public let sentMore: String
        public let sentLess: String
        /// The direction the dataset labels the pair with: true for `stereo`, false for
        /// `antistereo`. sent_more is the more stereotypical sentence either way; the score does
        /// not read the label (as in lm-evaluation-harness).
        public let stereo: Bool
        public let biasType: String

        public init(line: Int, sentMore: String, sentLess: String, stereo: Bool, biasType: String) {
            self.line = line
            self.sentMore = sentMore
            self.sentLess = sentLess
            self.stereo = stereo
            self.biasType = biasType
        }
    }

    /// The columns every pairs file names in its header.
    public static let columns = ["sent_more", "sent_less", "stereo_antistereo", "bias_type"]

    /// The largest pairs file read: 16 MiB (CrowS-Pairs' 1,508 pairs are 0.5 MB).
    public static let sizeLimit = 16 << 20

    public let path: String
    public let pairs: [Pair]

    public init(path: String) throws(DataError) {
        let bytes: [UInt8]
        do {
            bytes = try readRegularFile(path, limit: Self.sizeLimit)
        } catch {
            throw .pairsFile(path: path, message: error.message)
        }
        try self.init(bytes: bytes, path: path)
    }

    /// The pairs of a pairs file's `bytes`; `path` is for messages.
    public init(bytes: [UInt8], path: String) throws(DataError) {
        let body = try UTF8Check.textBody(bytes, path: path)
        let rows = try StructuredText.parseTable(body, path: path, separator: UInt8(ascii: ","))
        guard let header = rows.first else {
            throw .pairsFile(path: path, message: "is empty; it needs a header row naming \(Self.columns.joined(separator: ", "))")
        }
        let names = header.fields.map(\.trimmingSpaces)
        var index: [String: Int] = [:]
        for column in Self.columns {
            let positions = names.indices.filter { names[$0] == column }
            guard let first = positions.first else {
                throw .badInput(path: path, location: "line \(header.line)",
                                reason: "the header names no column '\(column)'; a pairs file's header names "
                                    + Self.columns.joined(separator: ", ") + " (in any order)")
            }
            guard positions.count == 1 else {
                throw .badInput(path: path, location: "line \(header.line)", reason: "the header names column '\(column)' \(positions.count) times")
            }
            index[column] = first
        }
        var pairs: [Pair] = []
        for row in rows.dropFirst() {
            func bad(_ reason: String) -> DataError { .badInput(path: path, location: "line \(row.line)", reason: reason) }
            let sentMore = row.fields[index["sent_more"]!], sentLess = row.fields[index["sent_less"]!]
            let label = row.fields[index["stereo_antistereo"]!].trimmingSpaces
            let biasType = row.fields[index["bias_type"]!].trimmingSpaces
            guard !sentMore.allSatisfy(\.isWhitespace) else { throw bad("sent_more is empty") }
            guard !sentLess.allSatisfy(\.isWhitespace) else { throw bad("sent_less is empty") }
            guard label == "stereo" || label == "antistereo" else {
                throw bad("stereo_antistereo is '\(label)', not 'stereo' or 'antistereo'")
            }
            guard !biasType.isEmpty else { throw bad("bias_type is empty") }
            pairs.append(Pair(line: row.line, sentMore: sentMore, sentLess: sentLess, stereo: label == "stereo", biasType: biasType))
        }
        guard !pairs.isEmpty else {
            throw .pairsFile(path: path, message: "holds a header but no pairs")
        }
        self.path = path
        self.pairs = pairs
    }
}
