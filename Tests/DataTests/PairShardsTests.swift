import Data
import Foundation
import Testing

/// Prepares `inputs` as `tessera prepare --format seq2seq` does on one rank: one pair shard per
/// file, then the index (split after int(pairs × (1 − valFraction)) pairs).
@discardableResult
func preparePairs(_ inputs: [String], tokenizer: any Tokenizer, folder: String, valFraction: Double = 0.2) throws -> ShardIndex {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let plan = try PreparePlan(inputs: inputs, format: .seq2seq)
    var records: [ShardRecord] = []
    for (i, unit) in plan.units.enumerated() {
        let documents = try UnitReader(template: nil).documents(unit)
        let (tokens, count) = try UnitReader.encode(documents, tokenizer: tokenizer)
        let (bytes, crc) = TokenShard.encode(tokens, width: TokenShard.width(vocabSize: tokenizer.vocabSizeWithEndOfText))
        try TokenShard.writeFile(bytes, to: folder + "/" + PrepareUnit.shardName(i))
        records.append(ShardRecord(file: PrepareUnit.shardName(i), source: unit.path, tokens: tokens.count, documents: count,
                                   sourceBytes: documents.sourceBytes, crc32c: crc))
    }
    let index = try PairShards.index(folder: folder, tokenizer: tokenizer, valFraction: valFraction, shards: records)
    try TokenShard.writeFile(index.encoded(), to: folder + "/index.json")
    return index
}

/// A pair folder of byte-tokenizer shards holding `streams` as they are, its index recording
/// `documents` pairs per shard and the split at `trainTokens`.
private func writeRawPairFolder(_ streams: [[Int32]], documents: [Int], trainTokens: Int, folder: String) throws {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var records: [ShardRecord] = []
    for (i, tokens) in streams.enumerated() {
        let (bytes, crc) = TokenShard.encode(tokens, width: 2)
        try TokenShard.writeFile(bytes, to: folder + "/" + PrepareUnit.shardName(i))
        records.append(ShardRecord(file: PrepareUnit.shardName(i), source: "s\(i).jsonl", tokens: tokens.count,
                                   documents: documents[i], sourceBytes: 0, crc32c: crc))
    }
    let index = ShardIndex(tokenizer: ByteTokenizer(), valFraction: 0.5, shards: records, format: ShardIndex.pairFormatName,
                           trainTokens: trainTokens)
    try TokenShard.writeFile(index.encoded(), to: folder + "/index.json")
}

private func ids(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } + [256] }

struct PairShardsTests {
    /// Ten pairs in one JSONL file, and the same ten in three files (4, 3 and 3 pairs) prepared.
    static func tenPairs(_ scratch: Scratch) throws -> (jsonl: Seq2SeqPairs, folder: Seq2SeqPairs, index: ShardIndex) {
        let whole = try scratch.file("all.jsonl", text: pairLines(10))
        let parts = [try scratch.file("a.jsonl", text: pairLines(4)), try scratch.file("b.jsonl", text: "\n" + pairLines(3, from: 4)),
                     try scratch.file("c.jsonl", text: pairLines(3, from: 7))]
        let folder = scratch.folder.appendingPathComponent("pairs").path
        let index = try preparePairs(parts, tokenizer: ByteTokenizer(), folder: folder)
        return (try Seq2SeqPairs(path: whole, tokenizer: .byte, valFraction: 0.2, encoderLength: 16, decoderLength: 16),
                try Seq2SeqPairs(path: folder, tokenizer: .char, valFraction: 0.5, encoderLength: 16, decoderLength: 16), index)
    }

    @Test func aPreparedFolderHoldsTheSamePairsSplitAndBatchesAsItsJSONL() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let (jsonl, folder, index) = try Self.tenPairs(scratch)
        #expect(index.format == ShardIndex.pairFormatName && index.documents == 10 && index.shards.map(\.documents) == [4, 3, 3])
        // The split falls inside the third shard: after 8 pairs of 11 + 9 ids each.
        #expect(index.trainTokens == 8 * 20 && index.valTokens == 2 * 20 && index.tokens == 200)
        #expect(folder.tokenizer.kind == .byte && folder.tokenizer.vocabSize == 257)
        #expect(folder.train.count == 8 && folder.val.count == 2)
        for i in 0..<8 { #expect(folder.train.input(i) == jsonl.train.input(i) && folder.train.target(i) == jsonl.train.target(i)) }
        #expect(folder.val.input(1) == ids("question 9") && folder.val.target(1) == ids("answer 9"))
        let a = PairSampler(pairs: jsonl, seed: 3, batchSize: 12), b = PairSampler(pairs: folder, seed: 3, batchSize: 12)
        for step in [0, 1, 7] {
            #expect(FilledRows(a, step: step, 0..<12) == FilledRows(b, step: step, 0..<12))
            #expect(FilledRows(a, step: step, 0..<12, eval: true) == FilledRows(b, step: step, 0..<12, eval: true))
        }
    }

    @Test func aPairTooLongInAFolderNamesTheShardThePairAndItsSource() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let parts = [try scratch.file("a.jsonl", text: pairLines(3)),
                     try scratch.file("b.jsonl", text: pairLines(1) + #"{"input": "a long question", "target": "b"}"# + "\n")]
        let folder = scratch.folder.appendingPathComponent("pairs").path
        try preparePairs(parts, tokenizer: ByteTokenizer(), folder: folder)
        let error = #expect(throws: DataError.self) {
            try Seq2SeqPairs(preparedFolder: folder, encoderLength: 12, decoderLength: 16)
        }
        #expect(error?.description.hasPrefix("'\(folder)/shard_00001.bin' pair 2 (from '\(parts[1])'): the input is 16 tokens") == true,
                "\(String(describing: error))")
    }

    @Test func tokenAndPairFoldersAreNotTakenForEachOther() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let pairs = scratch.folder.appendingPathComponent("pairs").path
        try preparePairs([try scratch.file("a.jsonl", text: pairLines(5))], tokenizer: ByteTokenizer(), folder: pairs)
        let asCorpus = #expect(throws: DataError.self) { try Corpus(preparedFolder: pairs, blockSize: 4) }
        #expect(asCorpus?.description.contains("format is 'tessera-pair-shards' (seq2seq pairs, from `tessera prepare --format seq2seq`), "
            + "but token shards are needed here") == true, "\(String(describing: asCorpus))")
        let tokens = scratch.folder.appendingPathComponent("tokens").path
        try writeRawPairFolder([Array(repeating: 3, count: 100)], documents: [1], trainTokens: 0, folder: tokens)
        try editIndexFormat(tokens, to: ShardIndex.formatName)
        let asPairs = #expect(throws: DataError.self) { try Seq2SeqPairs(preparedFolder: tokens, encoderLength: 8, decoderLength: 8) }
        #expect(asPairs?.description.contains("format is 'tessera-token-shards' (token shards), but seq2seq pairs") == true,
                "\(String(describing: asPairs))")
    }

    private func editIndexFormat(_ folder: String, to format: String) throws {
        let url = URL(fileURLWithPath: folder + "/index.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Foundation.Data(contentsOf: url)) as? [String: Any])
        object["format"] = format
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    struct Damage: CustomTestStringConvertible, Sendable {
        let name: String, streams: [[Int32]], documents: [Int], trainTokens: Int, mentions: String
        var testDescription: String { name }
    }

    /// Shards with valid checksums whose pairs are not whole, or an index that miscounts them.
    @Test(arguments: [
        Damage(name: "ends inside a target", streams: [ids("ab") + ids("c") + ids("d") + [70]], documents: [2], trainTokens: 5,
               mentions: "shard_00000.bin': pair 2 has no end-of-text id after its target: the shard ends inside a pair"),
        Damage(name: "ends after an input", streams: [ids("ab") + ids("c") + ids("d")], documents: [2], trainTokens: 5,
               mentions: "pair 2 has no end-of-text id after its target"),
        Damage(name: "an empty input", streams: [ids("ab") + ids("c") + [256] + ids("d")], documents: [2], trainTokens: 5,
               mentions: "pair 2 has an empty input"),
        Damage(name: "an empty target", streams: [ids("ab") + [256, 256]], documents: [1], trainTokens: 0,
               mentions: "pair 1 has an empty target"),
        Damage(name: "a miscount", streams: [ids("ab") + ids("c"), ids("x") + ids("y")], documents: [1, 2], trainTokens: 5,
               mentions: "shard 'shard_00001.bin' holds 1 pairs, but the index records 2"),
        Damage(name: "a split inside a pair", streams: [ids("ab") + ids("c") + ids("d") + ids("e")], documents: [2], trainTokens: 6,
               mentions: "train_tokens 6 does not fall between two pairs"),
        Damage(name: "no validation pair", streams: [ids("ab") + ids("c") + ids("d") + ids("e")], documents: [2], trainTokens: 9,
               mentions: "holds 2 pairs, too few"),
    ])
    func aDamagedPairFolderIsOneError(_ damage: Damage) throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let folder = scratch.folder.appendingPathComponent("pairs").path
        try writeRawPairFolder(damage.streams, documents: damage.documents, trainTokens: damage.trainTokens, folder: folder)
        let error = #expect(throws: DataError.self) { try Seq2SeqPairs(preparedFolder: folder, encoderLength: 8, decoderLength: 8) }
        #expect(error?.description.contains(damage.mentions) == true, "\(String(describing: error))")
    }

    @Test func aBadLineInAPrepareInputIsNamedAndPairsAreTooFewToSplit() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let folder = scratch.folder.appendingPathComponent("pairs").path
        let bad = try scratch.file("bad.jsonl", text: pairLines(2) + #"{"input": "a"}"# + "\n")
        let error = #expect(throws: DataError.self) { try preparePairs([bad], tokenizer: ByteTokenizer(), folder: folder) }
        #expect(error?.description == "'\(bad)' line 3: no \"target\"", "\(String(describing: error))")
        let one = try scratch.file("one.jsonl", text: pairLines(1))
        let few = #expect(throws: DataError.self) { try preparePairs([one], tokenizer: ByteTokenizer(), folder: folder) }
        #expect(few?.description.contains("holds 1 pair, too few") == true, "\(String(describing: few))")
    }
}

struct PairSamplerTests {
    @Test func rowsArePairsDrawnBySeedStepAndSequenceWhateverTheBatch() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let pairs = try Seq2SeqPairs(path: try scratch.file("p.jsonl", text: pairLines(50)), tokenizer: .byte, valFraction: 0.1,
                                     encoderLength: 16, decoderLength: 12)
        let sampler = PairSampler(pairs: pairs, seed: 1337, batchSize: 8), larger = PairSampler(pairs: pairs, seed: 1337, batchSize: 40)
        let whole = FilledRows(sampler, step: 4, 0..<8)
        #expect(FilledRows(sampler, step: 4, 0..<5) + FilledRows(sampler, step: 4, 5..<8) == whole)
        #expect(FilledRows(larger, step: 4, 0..<8) == whole && FilledRows(sampler, step: 5, 0..<8) != whole)
        #expect(whole.isWellFormed(S: 16, T: 12, start: 256, padding: 256))
        for b in 0..<8 {
            let i = sampler.pairIndex(step: 4, sequence: b)
            #expect(whole.row(b, S: 16, T: 12) == (pairs.train.input(i), pairs.train.target(i)))
        }
        // Over many steps every train pair is drawn, and no validation pair.
        var seen = Set<[Int32]>()
        for step in 0..<60 {
            let rows = FilledRows(sampler, step: step, 0..<8)
            for b in 0..<8 { seen.insert(rows.row(b, S: 16, T: 12).input) }
        }
        #expect(seen == Set((0..<45).map { ids("question \($0)") }))
        let eval = FilledRows(sampler, step: 1, 0..<8, eval: true)
        #expect(eval == FilledRows(sampler, step: 1, 0..<8, eval: true))
        #expect((0..<8).allSatisfy { [ids("question 45"), ids("question 49"), ids("question 46"), ids("question 47"), ids("question 48")]
            .contains(eval.row($0, S: 16, T: 12).input) })
        let started = PairSampler(pairs: pairs, seed: 1337, batchSize: 8, decoderStart: 0)
        #expect(FilledRows(started, step: 4, 0..<8).isWellFormed(S: 16, T: 12, start: 0, padding: 256))
    }
}
