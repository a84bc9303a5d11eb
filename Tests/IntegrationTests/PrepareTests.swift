import Foundation
import Testing

/// `tessera tokenize train` and `tessera prepare` under real mpirun, and training on the shards.
@Suite(.serialized)
struct PrepareTests {
    static let samples = ["qa.jsonl", "plays.csv", "characters.tsv", "facts.tsv", "geography.nt", "notes.md"]
        .map { packageRoot.appendingPathComponent("data/samples/\($0)").path }
    static let shakespeare = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path

    static func prepare(np: Int, _ arguments: [String], output: URL) -> (status: Int32, stdout: String, stderr: String) {
        runMPI(np: np, executable: Tessera.executable, arguments: ["prepare"] + arguments + ["--output", output.path], timeout: 120)
    }

    /// Every file of a folder: name → bytes.
    static func contents(_ folder: URL) -> [String: Foundation.Data] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return Dictionary(uniqueKeysWithValues: names.map {
            ($0, (try? Foundation.Data(contentsOf: folder.appendingPathComponent($0))) ?? Foundation.Data())
        })
    }

    @Test func oneRankAndThreeRanksWriteByteIdenticalShardsAndIndex() throws {
        let root = Tessera.temporaryDirectory("prepare-ranks")
        defer { try? FileManager.default.removeItem(at: root) }
        // char: the vocabulary is united across ranks; 200 kB chunks cut tinyshakespeare into 6 shards.
        // byte: every format, the PNG as a tagged binary document.
        let runs: [(String, [String])] = [
            ("char", ["--tokenizer", "char", "--chunk-bytes", "200000", "--input", Self.shakespeare] + Self.samples),
            ("byte", ["--tokenizer", "byte", "--jsonl-template", "{question}\\n{answer}", "--input"] + Self.samples
                + [packageRoot.appendingPathComponent("data/samples/pixel.png").path]),
        ]
        for (name, arguments) in runs {
            let one = root.appendingPathComponent("\(name)-1"), three = root.appendingPathComponent("\(name)-3")
            let a = Self.prepare(np: 1, arguments, output: one)
            let b = Self.prepare(np: 3, arguments, output: three)
            #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
            #expect(a.stdout.contains("documents") && a.stdout.contains("bytes/token") && a.stdout.contains("tokens/s"), "\(a.stdout)")
            let files = Self.contents(one)
            #expect(files.keys.contains("index.json") && files.keys.filter { $0.hasPrefix("shard_") }.count >= 7,
                    "\(name): \(files.keys.sorted())")
            #expect(files == Self.contents(three), "\(name): 1 and 3 ranks differ")
        }
        let index = try #require(try JSONSerialization.jsonObject(with: Self.contents(root.appendingPathComponent("char-1"))["index.json"]!) as? [String: Any])
        #expect(index["vocab_size"] as? Int == (index["end_of_text"] as? Int).map { $0 + 1 })
        #expect(index["documents"] as? Int == 1 + 3 + 3 + 2 + 2 + 2 + 1)
    }

    @Test func badInputExitsTwoNamingTheLineAndLeavesNothingBehind() throws {
        let root = Tessera.temporaryDirectory("prepare-bad")
        defer { try? FileManager.default.removeItem(at: root) }
        let bad = root.appendingPathComponent("zz-bad.jsonl")
        try Foundation.Data("{\"text\": \"fine\"}\n{\"text\": fine}\n".utf8).write(to: bad)
        let output = root.appendingPathComponent("out")
        let result = Self.prepare(np: 2, ["--tokenizer", "byte", "--input"] + Self.samples + [bad.path], output: output)
        #expect(result.status == 2, "\(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors[0].contains("'\(bad.path)' line 2: not JSON"), "\(result.stderr)")
        #expect(Self.contents(output).isEmpty, "left behind: \(Self.contents(output).keys.sorted())")
    }

    /// `--format seq2seq`: pair shards (input, end of text, target, end of text per pair) and an
    /// index split by pairs, the same bytes on any number of ranks; a bad line, or pairs too few
    /// to split, exit 2 with one line and leave nothing behind.
    @Test func seq2seqPairShardsAreTheSameOnOneAndThreeRanksAndBadPairsLeaveNothing() throws {
        let root = Tessera.temporaryDirectory("prepare-seq2seq")
        defer { try? FileManager.default.removeItem(at: root) }
        let inputs = try (0..<3).map { file in
            let url = root.appendingPathComponent("pairs-\(file).txt")  // the extension does not matter: --format decides
            let lines = (0..<(4 + file)).map { #"{"input": "Übersetze \#(file)-\#($0)", "target": "translate \#(file)-\#($0)"}"# }
            try Foundation.Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
            return url.path
        }
        let one = root.appendingPathComponent("one"), three = root.appendingPathComponent("three")
        let arguments = ["--tokenizer", "char", "--format", "seq2seq", "--val-fraction", "0.25", "--input"] + inputs
        let a = Self.prepare(np: 1, arguments, output: one), b = Self.prepare(np: 3, arguments, output: three)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(a.stdout.contains("prepared \(one.path): 15 pairs") && a.stdout.contains("3 pair shards"), "\(a.stdout)")
        let files = Self.contents(one)
        #expect(files.keys.sorted() == ["index.json", "shard_00000.bin", "shard_00001.bin", "shard_00002.bin"], "\(files.keys.sorted())")
        #expect(files == Self.contents(three), "1 and 3 ranks differ")
        let index = try #require(try JSONSerialization.jsonObject(with: files["index.json"]!) as? [String: Any])
        #expect(index["format"] as? String == "tessera-pair-shards" && index["documents"] as? Int == 15)
        // int(15 × 0.75) = 11 pairs train: all of the first two files (4 + 5) and 2 of the third.
        let shards = try #require(index["shards"] as? [[String: Any]])
        let tokens = shards.compactMap { $0["tokens"] as? Int }
        #expect(shards.compactMap { $0["documents"] as? Int } == [4, 5, 6])
        let pairTokens = ("Übersetze 2-0".count + 1) + ("translate 2-0".count + 1)
        #expect(index["train_tokens"] as? Int == tokens[0] + tokens[1] + 2 * pairTokens, "\(index)")

        let bad = root.appendingPathComponent("bad.jsonl")
        try Foundation.Data((#"{"input": "a", "target": "b"}"# + "\n" + #"{"input": "a", "target": 7}"# + "\n").utf8).write(to: bad)
        let few = root.appendingPathComponent("few.jsonl")
        try Foundation.Data((#"{"input": "a", "target": "b"}"# + "\n").utf8).write(to: few)
        for (input, mentions) in [(bad.path, "'\(bad.path)' line 2: \"target\" is a number, not a string"), (few.path, "holds 1 pair, too few")] {
            let output = root.appendingPathComponent("out-" + URL(fileURLWithPath: input).lastPathComponent)
            let result = Self.prepare(np: 2, ["--tokenizer", "byte", "--format", "seq2seq", "--input", input], output: output)
            let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            #expect(result.status == 2 && errors.count == 1 && errors[0].contains(mentions), "\(result.stderr)")
            #expect(Self.contents(output).isEmpty, "left behind: \(Self.contents(output).keys.sorted())")
        }
    }

    @Test func sentencePieceShardsTrainOnTwoRanksAndTheLossFalls() throws {
        let root = Tessera.temporaryDirectory("prepare-spm")
        defer { try? FileManager.default.removeItem(at: root) }
        let prefix = root.appendingPathComponent("sp256").path
        let trained = runMPI(np: 1, executable: Tessera.executable, arguments: [
            "tokenize", "train", "--input", Self.shakespeare, "--vocab-size", "256", "--model-type", "bpe", "--output", prefix,
        ], timeout: 120)
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(FileManager.default.fileExists(atPath: prefix + ".vocab"))
        let shards = root.appendingPathComponent("shards")
        let prepared = Self.prepare(np: 2, ["--tokenizer", "sentencepiece", "--tokenizer-model", prefix + ".model",
                                            "--input", Self.shakespeare], output: shards)
        #expect(prepared.status == 0, "\(prepared.stderr)")

        let run = Tessera.train(np: 2, overrides: ["data.path=\(shards.path)", "train.steps=40", "train.log_every=1",
                                                   "train.eval_every=40", "train.eval_steps=2"], label: "spm-train")
        #expect(run.status == 0, "\(run.stderr)")
        let first = try #require(run.losses[1]), last = try #require(run.losses[40])
        #expect(first > 5.0 && last < first - 0.4, "loss went \(first) → \(last)")
        let sample = runMPI(np: 1, executable: Tessera.executable, arguments: [
            "sample", "--checkpoint", run.runDir.path, "--prompt", "ROMEO:", "--tokens", "20", "--seed", "3",
        ], timeout: 60)
        #expect(sample.status == 0 && sample.stdout.hasPrefix("ROMEO:") && sample.stdout.count > 20, "\(sample.stderr)")

        // A damaged shard stops training before it starts: exit 2, one line naming the shard.
        let shard = shards.appendingPathComponent("shard_00000.bin")
        var bytes = try Foundation.Data(contentsOf: shard)
        bytes[1000] ^= 0x40
        try bytes.write(to: shard)
        let damaged = Tessera.train(np: 2, overrides: ["data.path=\(shards.path)"], label: "spm-damaged", timeout: 60)
        #expect(damaged.status == 2)
        #expect(damaged.errorLines.count == 1 && damaged.errorLines[0].contains("shard_00000.bin': checksum mismatch"),
                "\(damaged.stderr)")
    }
}
