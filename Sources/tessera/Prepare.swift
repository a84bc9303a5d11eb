import ArgumentParser
import Config
import Data
import Foundation
import MPI

/// `tessera prepare`: encodes inputs into token shards plus index.json, on one rank or many.
///
/// Every rank builds the same plan (files in order, large text files cut into chunks at
/// newlines, one shard per unit) and encodes units rank, rank + size, ...; shard bytes depend on
/// the unit alone, and the index on all of them in plan order, so any rank count writes the same
/// folder. Shards are written under temporary names and renamed only once every rank has
/// finished without error; rank 0 then writes index.json (also renamed into place).
struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text, JSONL, CSV/TSV, N-Triples and binary files into token shards, or seq2seq pairs into pair shards.")

    @Option(help: "char, byte or sentencepiece.")
    var tokenizer: String

    @Option(name: .customLong("tokenizer-model"), help: "A SentencePiece .model for --tokenizer sentencepiece.")
    var tokenizerModel: String = ""

    @Option(parsing: .upToNextOption, help: "Files and folders (read recursively, in sorted order).")
    var input: [String]

    @Option(help: "The folder for the shards and index.json.")
    var output: String

    @Option(help: "auto (by extension: .txt/.md text, .jsonl, .csv, .tsv, .nt, anything else binary) or one of text, jsonl, csv, tsv, triples, binary for every input; seq2seq: every input is JSONL of {\"input\": ..., \"target\": ...} pairs, written as pair shards for an encoder-decoder model.")
    var format: String = "auto"

    @Option(name: .customLong("jsonl-template"), help: "How a JSONL record becomes text, e.g. \"{question}\\n{answer}\" (default: its \"text\" field, else every field as key: value lines).")
    var jsonlTemplate: String?

    @Option(name: .customLong("val-fraction"), help: "The last fraction of all tokens held out for validation.")
    var valFraction: Double = 0.1

    @Option(name: .customLong("chunk-bytes"), help: "Text files larger than this are cut at newlines into shards of about this size.")
    var chunkBytes: Int = PreparePlan.chunkBytes

    func validate() throws {
        guard TokenizerKind(rawValue: tokenizer) != nil else {
            throw ValidationError("--tokenizer must be char, byte or sentencepiece, got '\(tokenizer)'")
        }
        guard (tokenizer == "sentencepiece") == !tokenizerModel.isEmpty else {
            throw ValidationError("--tokenizer-model goes with --tokenizer sentencepiece, and only with it")
        }
        guard format == "auto" || InputFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be auto, " + InputFormat.allCases.map(\.rawValue).joined(separator: ", ") + "; got '\(format)'")
        }
        guard format != InputFormat.seq2seq.rawValue || jsonlTemplate == nil else {
            throw ValidationError("--jsonl-template does not go with --format seq2seq: pairs are read from \"input\" and \"target\"")
        }
        guard !input.isEmpty else { throw ValidationError("--input needs at least one file or folder") }
        guard valFraction > 0 && valFraction < 1 else { throw ValidationError("--val-fraction must be in (0, 1), got \(valFraction)") }
        guard chunkBytes >= 1 else { throw ValidationError("--chunk-bytes must be ≥ 1, got \(chunkBytes)") }
    }

    func run() throws {
        MPIEnvironment.initialize()
        let world = Communicator.world
        let started = MPIEnvironment.wallTime()
        let kind = TokenizerKind(rawValue: tokenizer)!

        // 1. The plan and the tokenizer, the same on every rank.
        var plan: PreparePlan?, reader: UnitReader?, encoder: (any Tokenizer)?
        var failure: String?
        do {
            let planned = try PreparePlan(inputs: input, format: InputFormat(rawValue: format), chunkBytes: chunkBytes)
            if kind != .byte, let binary = planned.units.first(where: { $0.format == .binary }) {
                throw DataError.binaryNeedsByteTokenizer(path: binary.path)
            }
            guard !planned.units.isEmpty else { throw ValidationError("--input names no files") }
            plan = planned
            reader = UnitReader(template: try jsonlTemplate.map { try JSONLTemplate($0) })
            switch kind {
            case .byte: encoder = ByteTokenizer()
            case .sentencepiece: encoder = try SentencePieceTokenizer(modelPath: tokenizerModel)
            case .char: break
            }
            try checkOutputFolder()
        } catch {
            failure = "\(error)"
        }
        try agreeOrExit(world, failure)
        let units = plan!.units, mine = Array(stride(from: world.rank, to: units.count, by: world.size))

        // 2. The char vocabulary: every rank's characters, united on rank 0 and shared.
        if kind == .char {
            var scalars = Set<Unicode.Scalar>()
            failure = nil
            do {
                for i in mine { for text in try reader!.documents(units[i]).allTexts { scalars.formUnion(text.unicodeScalars) } }
            } catch {
                failure = "\(error)"
            }
            try agreeOrExit(world, failure)
            let local = Array(String(String.UnicodeScalarView(scalars.sorted { $0.value < $1.value })).utf8)
            let all = try world.gatherv(local, root: 0).map { String(decoding: $0, as: UTF8.self) }
            let vocabulary = try world.broadcast(string: all.map { CharTokenizer(corpus: $0).serialized } ?? "", root: 0)
            failure = vocabulary.isEmpty ? "the inputs hold no text" : nil
            try agreeOrExit(world, failure)
            encoder = try CharTokenizer(serialized: vocabulary)
        }
        let tokenizer = encoder!
        let width = TokenShard.width(vocabSize: tokenizer.vocabSizeWithEndOfText)

        // 3. This rank's shards, under temporary names.
        var results: [Int64] = [], temporary: [(from: String, to: String)] = []
        failure = nil
        do {
            for i in mine {
                let documents = try reader!.documents(units[i])
                let (tokens, count) = try UnitReader.encode(documents, tokenizer: tokenizer)
                let (bytes, crc) = TokenShard.encode(tokens, width: width)
                let name = PrepareUnit.shardName(i)
                let path = (output as NSString).appendingPathComponent("." + name + ".tmp")
                temporary.append((path, (output as NSString).appendingPathComponent(name)))
                try TokenShard.writeFile(bytes, to: path)
                results += [Int64(i), Int64(tokens.count), Int64(count), Int64(documents.sourceBytes), Int64(crc)]
            }
        } catch {
            failure = "\(error)"
        }
        // Any rank's failure leaves nothing behind on any rank.
        if try world.allReduce(Int32(failure == nil ? 0 : 1), op: .max) != 0 {
            for file in temporary { unlink(file.from) }
        }
        try agreeOrExit(world, failure)

        // Pairs split by count: too few to give each split one is bad input, agreed on by every
        // rank before any shard is in place.
        if format == InputFormat.seq2seq.rawValue {
            let local = stride(from: 2, to: results.count, by: 5).reduce(Int64(0)) { $0 + results[$1] }
            let pairs = Int(try world.allReduce(local, op: .sum))
            failure = nil
            if !(1..<pairs).contains(Int(Double(pairs) * (1 - valFraction))) {
                let source = input.count == 1 ? input[0] : "the --input files"
                failure = "\(DataError.tooFewPairs(path: source, pairs: pairs, valFraction: valFraction))"
                for file in temporary { unlink(file.from) }
            }
            try agreeOrExit(world, failure)
        }

        // 4. Every rank finished: shards into place, then the index from rank 0.
        failure = nil
        for file in temporary where rename(file.from, file.to) != 0 {
            failure = "cannot rename \(file.from): \(String(cString: strerror(errno)))"
        }
        try agreeOrExit(world, failure, code: 1)
        let gathered = try world.gatherv(results, root: 0)
        if let gathered {
            failure = nil
            do {
                try writeIndex(gathered, units: units, tokenizer: tokenizer, started: started, ranks: world.size)
            } catch {
                failure = "\(error)"
                // No index, so no shard either (a folder of pairs too few to split, say).
                for i in units.indices { unlink((output as NSString).appendingPathComponent(PrepareUnit.shardName(i))) }
            }
        }
        try agreeOrExit(world, failure, code: 1)
        try MPIEnvironment.finalize()
    }

    /// The output folder exists (made if need be) and holds no stale index: a crash before the
    /// new index is written leaves no index naming the wrong shards.
    private func checkOutputFolder() throws {
        guard launchRank == 0 else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("--output '\(output)' is a file, not a folder")
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let index = (output as NSString).appendingPathComponent(ShardIndex.fileName)
        if FileManager.default.fileExists(atPath: index) { try FileManager.default.removeItem(atPath: index) }
    }

    /// Rank 0: index.json from every rank's shard records (5 numbers each), stale shards of an
    /// earlier run removed, and the statistics.
    private func writeIndex(_ gathered: [Int64], units: [PrepareUnit], tokenizer: any Tokenizer,
                            started: Double, ranks: Int) throws {
        var records = [ShardRecord?](repeating: nil, count: units.count)
        for r in stride(from: 0, to: gathered.count, by: 5) {
            let i = Int(gathered[r])
            records[i] = ShardRecord(file: PrepareUnit.shardName(i), source: units[i].path, tokens: Int(gathered[r + 1]),
                                     documents: Int(gathered[r + 2]), sourceBytes: Int(gathered[r + 3]),
                                     crc32c: UInt32(gathered[r + 4]))
        }
        let pairs = format == InputFormat.seq2seq.rawValue
        let index = pairs
            ? try PairShards.index(folder: output, tokenizer: tokenizer, valFraction: valFraction, shards: records.map { $0! })
            : ShardIndex(tokenizer: tokenizer, valFraction: valFraction, shards: records.map { $0! })
        guard index.trainTokens >= 1, index.valTokens >= 1 else {
            throw ValidationError("the inputs hold only \(index.tokens) tokens, too few to split")
        }
        let keep = Set(index.shards.map(\.file))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        where name.hasPrefix("shard_") && name.hasSuffix(".bin") && !keep.contains(name) {
            unlink((output as NSString).appendingPathComponent(name))
        }
        let path = (output as NSString).appendingPathComponent(ShardIndex.fileName)
        try TokenShard.writeFile(index.encoded(), to: path + ".tmp")
        guard rename(path + ".tmp", path) == 0 else {
            throw ValidationError("cannot rename \(path).tmp: \(String(cString: strerror(errno)))")
        }

        let seconds = MPIEnvironment.wallTime() - started
        let f = { (x: Double) in String(format: "%.2f", x) }
        print("prepared \(output): \(index.documents) \(pairs ? "pairs" : "documents"), \(index.tokens) tokens "
              + "(train \(index.trainTokens), val \(index.valTokens)) in \(index.shards.count) \(pairs ? "pair " : "")shards of \(index.dtype)")
        print("  \(index.sourceBytes) input bytes, \(f(Double(index.sourceBytes) / Double(max(index.tokens, 1)))) bytes/token, "
              + "vocabulary \(index.vocabSize) (end-of-text id \(index.endOfText)), \(tokenizer.kind.rawValue) tokenizer")
        print("  \(f(seconds)) s on \(ranks) rank\(ranks == 1 ? "" : "s"): \(Int(Double(index.tokens) / seconds)) tokens/s")
    }
}
