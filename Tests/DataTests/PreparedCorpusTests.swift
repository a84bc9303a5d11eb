import Data
import Foundation
import Testing

/// Writes a prepared folder as `tessera prepare` would: one shard per token array, then the index.
func writeFolder(_ shards: [[Int32]], tokenizer: any Tokenizer, in scratch: Scratch,
                 valFraction: Double = 0.1, name: String = "prepared") throws -> String {
    let folder = scratch.folder.appendingPathComponent(name).path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let width = TokenShard.width(vocabSize: tokenizer.vocabSizeWithEndOfText)
    var records: [ShardRecord] = []
    for (i, tokens) in shards.enumerated() {
        let (bytes, crc) = TokenShard.encode(tokens, width: width)
        let name = PrepareUnit.shardName(i)
        try TokenShard.writeFile(bytes, to: folder + "/" + name)
        records.append(ShardRecord(file: name, source: "test", tokens: tokens.count, documents: 1, sourceBytes: tokens.count, crc32c: crc))
    }
    let index = ShardIndex(tokenizer: tokenizer, valFraction: valFraction, shards: records)
    try TokenShard.writeFile(index.encoded(), to: folder + "/index.json")
    return folder
}

private func batch(_ sampler: BatchSampler, step: Int, eval: Bool = false) -> [Int32] {
    var inputs = [Int32](repeating: -1, count: sampler.batchSize * sampler.blockSize), targets = inputs
    inputs.withUnsafeMutableBufferPointer { x in
        targets.withUnsafeMutableBufferPointer { y in
            if eval {
                sampler.fillEval(batch: step, sequences: 0..<sampler.batchSize, inputs: x.baseAddress!, targets: y.baseAddress!)
            } else {
                sampler.fill(step: step, sequences: 0..<sampler.batchSize, inputs: x.baseAddress!, targets: y.baseAddress!)
            }
        }
    }
    return inputs + targets
}

@Test func shardedBatchesEqualTheSameTokensInMemory() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let bytes = (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 256) }
    let text = try Corpus(path: try scratch.file("c.bin", bytes), tokenizer: .byte, valFraction: 0.1, blockSize: 16)
    let tokens = bytes.map { Int32($0) }
    // Shards of 700, 650 and 650 tokens: many windows straddle a boundary.
    let folder = try writeFolder([Array(tokens[..<700]), Array(tokens[700..<1350]), Array(tokens[1350...])],
                                 tokenizer: ByteTokenizer(), in: scratch)
    let sharded = try Corpus(path: folder, tokenizer: .char, valFraction: 0.5, blockSize: 16)
    #expect(sharded.tokenizer.kind == .byte && sharded.tokenizer.vocabSize == 257)
    #expect(Array(sharded.train) == Array(text.train) && Array(sharded.val) == Array(text.val))
    let a = BatchSampler(corpus: text, seed: 7, blockSize: 16, batchSize: 32)
    let b = BatchSampler(corpus: sharded, seed: 7, blockSize: 16, batchSize: 32)
    for step in [0, 1, 5, 99] {
        #expect(batch(a, step: step) == batch(b, step: step))
        #expect(batch(a, step: step, eval: true) == batch(b, step: step, eval: true))
    }
}

@Test func aShardWithAFlippedByteFailsItsChecksum() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let folder = try writeFolder([Array(repeating: 5, count: 100), Array(repeating: 6, count: 100)],
                                 tokenizer: ByteTokenizer(), in: scratch)
    let shard = folder + "/shard_00001.bin"
    var bytes = Array(try Foundation.Data(contentsOf: URL(fileURLWithPath: shard)))
    bytes[40] ^= 1
    try Foundation.Data(bytes).write(to: URL(fileURLWithPath: shard))
    let error = try #require(throws: DataError.self) { try Corpus(preparedFolder: folder, blockSize: 8) }
    guard case .checksumMismatch(let path, _, _) = error else { Issue.record("got \(error)"); return }
    #expect(path == shard)
    #expect(error.description.hasPrefix("token shard '\(shard)': checksum mismatch"))
}

@Test func anIdOutsideTheVocabularyIsNamedWithItsPosition() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    // 257 ids (256 bytes and end of text): 300 is out of range, with a valid checksum.
    let folder = try writeFolder([Array(repeating: 1, count: 50) + [300] + Array(repeating: 1, count: 49)],
                                 tokenizer: ByteTokenizer(), in: scratch)
    #expect(throws: DataError.tokenOutOfRange(path: folder + "/shard_00000.bin", position: 50, id: 300, vocabSize: 257)) {
        try Corpus(preparedFolder: folder, blockSize: 8)
    }
}

@Test func aTruncatedShardIsRejected() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let folder = try writeFolder([Array(repeating: 3, count: 100)], tokenizer: ByteTokenizer(), in: scratch)
    truncate(folder + "/shard_00000.bin", 100)
    let error = try #require(throws: DataError.self) { try Corpus(preparedFolder: folder, blockSize: 8) }
    guard case .badShard(_, let reason) = error else { Issue.record("got \(error)"); return }
    #expect(reason.contains("truncated"))
}

@Test func charShardsUseOneMoreIdAndUint16() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let chars = CharTokenizer(corpus: "abc")
    #expect(chars.endOfText == 3 && chars.vocabSizeWithEndOfText == 4)
    let folder = try writeFolder([try chars.encode(String(repeating: "abcab", count: 20)) + [3]], tokenizer: chars, in: scratch)
    let index = try ShardIndex.read(folder: folder)
    #expect(index.dtype == "uint16" && index.vocabSize == 4 && index.endOfText == 3 && index.tokens == 101)
    #expect(index.trainTokens == 90 && index.valTokens == 11)
    let corpus = try Corpus(preparedFolder: folder, blockSize: 4)
    #expect(corpus.tokenizer.vocabSize == 4 && corpus.val.last == 3)
    #expect(corpus.tokenizer.decode([0, 1, 3, 2]) == "ab\nc")
}

@Test func shardWidthFollowsTheVocabulary() {
    #expect(TokenShard.width(vocabSize: 65_536) == 2 && TokenShard.width(vocabSize: 65_537) == 4)
    let (bytes, crc) = TokenShard.encode([1, 70_000, 2], width: 4)
    #expect(bytes.count == 32 + 12 && Array(bytes[..<8]) == Array("TSTOKENS".utf8))
    #expect(bytes[24] == UInt8(crc & 0xFF) && bytes[12] == 4 && bytes[16] == 3)
}

/// Edits `folder/index.json` as a JSON object.
private func editIndex(_ folder: String, _ edit: (inout [String: Any]) -> Void) throws {
    let url = URL(fileURLWithPath: folder + "/index.json")
    var object = try #require(try JSONSerialization.jsonObject(with: Foundation.Data(contentsOf: url)) as? [String: Any])
    edit(&object)
    try JSONSerialization.data(withJSONObject: object).write(to: url)
}

private func editFirstShard(_ object: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
    var shards = object["shards"] as! [[String: Any]]
    edit(&shards[0])
    object["shards"] = shards
}

/// Index entries that would lead outside the folder or size anything past the file: refused with
/// the index named. Before: `..` was opened as a shard and 2^62 tokens overflowed (SIGILL).
@Test(arguments: [
    ("..", "not a plain file name"), ("", "not a plain file name"), ("/etc/passwd", "not a plain file name"),
    ("../prepared/shard_00000.bin", "not a plain file name"),
])
func aShardNameThatLeavesTheFolderIsRefused(_ name: String, _ mentions: String) throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let folder = try writeFolder([Array(repeating: 3, count: 100)], tokenizer: ByteTokenizer(), in: scratch)
    try editIndex(folder) { editFirstShard(&$0) { $0["file"] = name } }
    let error = try #require(throws: DataError.self) { try Corpus(preparedFolder: folder, blockSize: 8) }
    #expect(error.description.contains(mentions) && error.description.contains("index.json"), "\(error)")
}

@Test(arguments: [Int.max, 1 << 62, -1])
func aTokenCountThatDisagreesWithTheFileIsRefused(_ tokens: Int) throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let folder = try writeFolder([Array(repeating: 3, count: 100)], tokenizer: ByteTokenizer(), in: scratch)
    try editIndex(folder) { editFirstShard(&$0) { $0["tokens"] = tokens } }
    #expect(throws: DataError.self) { try Corpus(preparedFolder: folder, blockSize: 8) }
}

/// A header that declares 2^63 + 5 tokens, past any Int: refused by value, nothing sized from it.
@Test func aHugeHeaderCountIsBoundedByTheFileSize() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let folder = try writeFolder([Array(repeating: 3, count: 100)], tokenizer: ByteTokenizer(), in: scratch)
    let shard = folder + "/shard_00000.bin"
    var bytes = Array(try Foundation.Data(contentsOf: URL(fileURLWithPath: shard)))
    withUnsafeBytes(of: (UInt64(1) << 63 + 5).littleEndian) { bytes.replaceSubrange(16..<24, with: $0) }
    try Foundation.Data(bytes).write(to: URL(fileURLWithPath: shard))
    let error = try #require(throws: DataError.self) { try Corpus(preparedFolder: folder, blockSize: 8) }
    #expect(error.description.contains("9223372036854775813 tokens in its header"), "\(error)")
}

/// Before: a header CRC that disagreed with tokens and index alike printed one number twice.
@Test func aWrongHeaderChecksumNamesBothNumbers() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let folder = try writeFolder([Array(repeating: 3, count: 100)], tokenizer: ByteTokenizer(), in: scratch)
    let shard = folder + "/shard_00000.bin"
    var bytes = Array(try Foundation.Data(contentsOf: URL(fileURLWithPath: shard)))
    bytes[24] ^= 0xFF
    try Foundation.Data(bytes).write(to: URL(fileURLWithPath: shard))
    let error = try #require(throws: DataError.self) { try Corpus(preparedFolder: folder, blockSize: 8) }
    let numbers = error.description.matches(of: /0x[0-9a-f]{8}/).map { String($0.output) }
    #expect(numbers.count == 2 && numbers[0] != numbers[1] && error.description.contains("header"), "\(error)")
}

/// Before: totals that disagreed only in the split printed the token count twice.
@Test func splitTotalsThatDoNotAddUpNameTheSplit() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let folder = try writeFolder([Array(repeating: 3, count: 100)], tokenizer: ByteTokenizer(), in: scratch)
    try editIndex(folder) { $0["val_tokens"] = 50 }
    let error = try #require(throws: DataError.self) { try Corpus(preparedFolder: folder, blockSize: 8) }
    #expect(error.description.contains("train_tokens 90 + val_tokens 50 do not add up to its 100 tokens"), "\(error)")
}

/// A device or FIFO as data is refused at once instead of read without end.
@Test func aDeviceIsNotData() throws {
    let error = try #require(throws: DataError.self) {
        try Corpus(path: "/dev/urandom", tokenizer: .byte, valFraction: 0.1, blockSize: 8)
    }
    #expect(error.description.contains("not a regular file"), "\(error)")
}
