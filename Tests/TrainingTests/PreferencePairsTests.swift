import Data
import Foundation
@testable import Training
import Testing

/// A preference file's encoded size is checked against the memory a rank has before it is
/// encoded: more pairs than fit are refused in one line instead of exhausting memory.
struct PreferencePairsTests {
    static func file(pairs: Int) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pairs-\(UUID().uuidString).jsonl")
        let line = #"{"prompt": "ab", "chosen": "cd", "rejected": "ef"}"#
        try (Array(repeating: line, count: pairs).joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func pairsThatFitAreEncoded() throws {
        let pairs = try PreferencePairs(path: try Self.file(pairs: 100).path, tokenizer: ByteTokenizer(), blockSize: 16,
                                        memory: 100 * 2 * 16 * 12)
        #expect(pairs.count == 100 && pairs.tokens.count == 100 * 2 * 16)
    }

    @Test func morePairsThanMemoryAreRefusedBeforeEncoding() throws {
        let error = try #require(throws: SetupError.self) {
            try PreferencePairs(path: try Self.file(pairs: 100).path, tokenizer: ByteTokenizer(), blockSize: 16,
                                memory: 100 * 2 * 16 * 12 - 1)
        }
        #expect(error.description.contains("holds 100 pairs") && error.description.contains("block_size = 16"), "\(error)")
    }
}
