import Data
import Foundation
import Testing

/// A pairs file for `tessera eval bias` is read as RFC 4180 CSV with a header naming the four
/// CrowS-Pairs columns, and checked whole before scoring: every refusal names the file, and the
/// line where there is one.
struct BiasPairsTests {
    static func pairs(_ text: String) throws(DataError) -> BiasPairs {
        try BiasPairs(bytes: Array(text.utf8), path: "p.csv")
    }

    static func refusal(_ bytes: [UInt8]) -> String? {
        do {
            _ = try BiasPairs(bytes: bytes, path: "p.csv")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func quotedFieldsHoldCommasDoubledQuotesAndLineBreaksAndKeepTheirRowsLine() throws {
        let text = "sent_more,sent_less,stereo_antistereo,bias_type\n"
            + "\"A, b\",\"He said \"\"no\"\".\",stereo,gender\n"
            + "\"one\ntwo\",plain,antistereo,age\n"
            + "last,row,stereo,age"
        #expect(try Self.pairs(text).pairs == [
            BiasPairs.Pair(line: 2, sentMore: "A, b", sentLess: "He said \"no\".", stereo: true, biasType: "gender"),
            BiasPairs.Pair(line: 3, sentMore: "one\ntwo", sentLess: "plain", stereo: false, biasType: "age"),
            BiasPairs.Pair(line: 5, sentMore: "last", sentLess: "row", stereo: true, biasType: "age"),
        ])
    }

    @Test func crlfAByteOrderMarkAndBlankLinesAreNotPartOfAnyField() throws {
        let text = "\u{FEFF}sent_more,sent_less,stereo_antistereo,bias_type\r\n\r\n"
            + "\"x,\r\ny\",b,stereo,race-color\r\n"
        let read = try Self.pairs(text).pairs
        #expect(read == [BiasPairs.Pair(line: 3, sentMore: "x,\r\ny", sentLess: "b", stereo: true, biasType: "race-color")])
    }

    @Test func columnsAreFoundByNameInAnyOrderAndExtraColumnsAreIgnored() throws {
        // The published CrowS-Pairs header: an unnamed index column first, three extra columns after.
        let text = ",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n"
            + "0,He is old.,She is old.,stereo,age,\"[['age'], ['age']]\",a0,\"['a1', 'a2']\"\n"
        #expect(try Self.pairs(text).pairs == [BiasPairs.Pair(line: 2, sentMore: "He is old.", sentLess: "She is old.", stereo: true, biasType: "age")])
        let reordered = "bias_type, stereo_antistereo ,note,sent_less,sent_more\nage,antistereo,n,less,more\n"
        #expect(try Self.pairs(reordered).pairs == [BiasPairs.Pair(line: 2, sentMore: "more", sentLess: "less", stereo: false, biasType: "age")])
    }

    @Test func theProbeSetShippedInDataReads() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/bias-probe.csv")
        let probe = try BiasPairs(path: url.path)
        #expect(probe.pairs.count == 40)
        #expect(Dictionary(grouping: probe.pairs, by: \.biasType).mapValues(\.count)
                == ["age": 8, "gender": 8, "nationality": 8, "socioeconomic": 8, "physical-appearance": 8])
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let mentions: [String]
        var testDescription: String { name }
    }

    static let header = "sent_more,sent_less,stereo_antistereo,bias_type\n"
    static let badFiles: [Bad] = [
        Bad(name: "empty file", bytes: [], mentions: ["p.csv", "empty"]),
        Bad(name: "a header and no pairs", bytes: Array(header.utf8), mentions: ["p.csv", "no pairs"]),
        Bad(name: "missing column", bytes: Array("sent_more,sent_less,bias_type\na,b,age\n".utf8),
            mentions: ["p.csv", "line 1", "'stereo_antistereo'"]),
        Bad(name: "a column named twice", bytes: Array("sent_more,sent_less,stereo_antistereo,bias_type,sent_less\na,b,stereo,age,c\n".utf8),
            mentions: ["p.csv", "line 1", "'sent_less' 2 times"]),
        Bad(name: "empty sent_more", bytes: Array((header + "a,b,stereo,age\n \t,b,stereo,age\n").utf8),
            mentions: ["p.csv", "line 3", "sent_more is empty"]),
        Bad(name: "empty sent_less", bytes: Array((header + "\"x\ny\",,stereo,age\n").utf8),
            mentions: ["p.csv", "line 2", "sent_less is empty"]),
        Bad(name: "an unknown direction", bytes: Array((header + "a,b,stereo,age\na,b,Stereo,age\n").utf8),
            mentions: ["p.csv", "line 3", "'Stereo'", "'stereo' or 'antistereo'"]),
        Bad(name: "empty bias_type", bytes: Array((header + "a,b,stereo,\n").utf8), mentions: ["p.csv", "line 2", "bias_type is empty"]),
        Bad(name: "a row of too few fields", bytes: Array((header + "a,b,stereo\n").utf8), mentions: ["p.csv", "line 2", "3 fields"]),
        Bad(name: "unterminated quote", bytes: Array((header + "a,b,stereo,age\n\"a,b,stereo,age\n").utf8),
            mentions: ["p.csv", "line 3", "unterminated"]),
        Bad(name: "invalid UTF-8", bytes: Array((header + "a,b,stereo,age\na").utf8) + [0xC3, 0x28] + Array(",b,stereo,age\n".utf8),
            mentions: ["p.csv", "line 3", "UTF-8"]),
    ]

    @Test(arguments: badFiles)
    func aBadFileIsRefusedNamingFileAndLine(_ bad: Bad) {
        let message = Self.refusal(bad.bytes)
        #expect(message != nil, "accepted")
        for text in bad.mentions {
            #expect(message?.contains(text) == true, "\(message ?? "") should name \(text)")
        }
        #expect(message?.contains("\n") != true, "one line: \(message ?? "")")
    }

    @Test func aFileOverTheLimitIsRefusedFromItsSizeBeforeItIsRead() throws {
        // Sparse: 16 MiB + 1 byte on paper, nothing on disk.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bias-pairs-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(FileManager.default.createFile(atPath: url.path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: url.path))
        try handle.truncate(atOffset: UInt64(BiasPairs.sizeLimit) + 1)
        try handle.close()
        #expect(throws: DataError.self) { try BiasPairs(path: url.path) }
        do {
            _ = try BiasPairs(path: url.path)
        } catch {
            #expect(error.description.contains(url.path) && error.description.contains("more than the \(BiasPairs.sizeLimit)"), "\(error)")
        }
        #expect(throws: DataError.pairsFile(path: "/nonexistent/p.csv", message: "does not exist")) { try BiasPairs(path: "/nonexistent/p.csv") }
    }
}
