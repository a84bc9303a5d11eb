import Foundation
import Testing

/// A t5 trained on a task it learns in seconds (reverse a three-letter word) generates the held-out
/// targets with `tessera sample --prompts`, scores the reversed word above its distractors with
/// `tessera eval --task`, and refuses a prompt longer than its encoder block (and bias pairs).
@Suite(.serialized)
struct EncoderDecoderGenerationTests {
    /// Three-letter words of a–h whose reversal differs from the word: 336 of them, 56 held out
    /// (neither trained nor validated on), the rest the pairs file's.
    static func words() -> (train: [String], heldOut: [String]) {
        let letters = Array("abcdefgh")
        var all: [String] = []
        for a in letters { for b in letters { for c in letters where a != c && a != b && b != c { all.append(String([a, b, c])) } } }
        let heldOut = all.enumerated().filter { $0.offset % 6 == 2 }.map(\.element)
        return (all.filter { !heldOut.contains($0) }, heldOut)
    }

    static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func aTrainedT5ReversesHeldOutWordsAndPicksTheReversedChoice() throws {
        let folder = Tessera.temporaryDirectory("t5-generate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (train, heldOut) = Self.words()
        let pairs = folder.appendingPathComponent("pairs.jsonl")
        try (train.map { try Self.jsonLine(["input": $0, "target": String($0.reversed())]) }.joined(separator: "\n") + "\n")
            .write(to: pairs, atomically: true, encoding: .utf8)
        let runDir = folder.appendingPathComponent("run"), config = folder.appendingPathComponent("t5.toml")
        try """
            [data]
            path = "\(pairs.path)"
            tokenizer = "char"
            val_fraction = 0.1
            [model]
            family = "t5"
            n_encoder_layer = 2
            n_decoder_layer = 2
            n_head = 4
            n_embd = 64
            encoder_block_size = 6
            block_size = 6
            relative_buckets = 8
            relative_max_distance = 16
            [train]
            objective = "seq2seq"
            batch_size = 32
            steps = 1000
            lr = 3e-3
            min_lr = 3e-4
            warmup_steps = 20
            log_every = 50
            eval_every = 0
            [checkpoint]
            every = 0
            """.write(to: config, atomically: true, encoding: .utf8)
        let started = Date()
        let trained = runMPI(np: 1, executable: Tessera.executable,
                             arguments: ["train", "--config", config.path, "--set", "run.dir=\(runDir.path)"], timeout: 240)
        #expect(trained.status == 0, "\(trained.stderr)")
        let trainSeconds = Date().timeIntervalSince(started)

        // Greedy targets of the held-out words: deterministic, so the bound holds on any machine.
        let prompts = folder.appendingPathComponent("prompts.txt"), out = folder.appendingPathComponent("targets.jsonl")
        try (heldOut.joined(separator: "\n") + "\n").write(to: prompts, atomically: true, encoding: .utf8)
        let sampled = runMPI(np: 1, executable: Tessera.executable,
                             arguments: ["sample", "--checkpoint", runDir.path, "--prompts", prompts.path, "--out", out.path,
                                         "--top-k", "1"], timeout: 60)
        #expect(sampled.status == 0, "\(sampled.stderr)")
        let records = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] ?? [:]
        }
        #expect(records.map { $0["prompt"] } == heldOut)
        let exact = zip(records, heldOut).count { $0.0["text"] == String($0.1.reversed()) }
        // 56 of 56 measured; at least 80% (45) must be exact.
        #expect(exact * 5 >= heldOut.count * 4, "\(exact) of \(heldOut.count) held-out words reversed exactly: \(records)")

        // The cache and recomputation give the same greedy target.
        func target(_ extra: [String]) -> String {
            let result = runMPI(np: 1, executable: Tessera.executable,
                                arguments: ["sample", "--checkpoint", runDir.path, "--prompt", heldOut[0], "--top-k", "1"] + extra,
                                timeout: 60)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout
        }
        #expect(target([]) == target(["--recompute"]))

        // Choices: the reversed word, the word itself, and its rotation.
        let task = folder.appendingPathComponent("task.jsonl")
        try (heldOut.map { word -> String in
            let w = Array(word)
            return try Self.jsonLine(["context": word, "choices": [String(word.reversed()), word, String([w[1], w[2], w[0]])],
                                      "answer": 0])
        }.joined(separator: "\n") + "\n").write(to: task, atomically: true, encoding: .utf8)
        let scored = runMPI(np: 1, executable: Tessera.executable,
                            arguments: ["eval", "--checkpoint", runDir.path, "--task", task.path, "--json"], timeout: 60)
        #expect(scored.status == 0, "\(scored.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as? [String: Double] ?? [:]
        #expect((summary["accuracy"] ?? 0) >= 0.9 && summary["n"] == Double(heldOut.count), "\(scored.stdout)")

        // Eight letters and the end of text do not fit the encoder's 6 positions.
        let long = runMPI(np: 1, executable: Tessera.executable,
                          arguments: ["sample", "--checkpoint", runDir.path, "--prompt", "abcdefgh"], timeout: 60)
        let errors = long.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(long.status == 2 && errors.count == 1 && errors[0].contains("encoder_block_size of 6"), "\(long.stderr)")
        // In a prompts file, before anything is written.
        try "abc\nabcdefgh\n".write(to: prompts, atomically: true, encoding: .utf8)
        let unwritten = folder.appendingPathComponent("unwritten.jsonl")
        let longLine = runMPI(np: 1, executable: Tessera.executable,
                              arguments: ["sample", "--checkpoint", runDir.path, "--prompts", prompts.path, "--out", unwritten.path],
                              timeout: 60)
        let lineErrors = longLine.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(longLine.status == 2 && lineErrors.count == 1 && lineErrors[0].contains("prompt 2: the prompt is 9 tokens"),
                "\(longLine.stderr)")
        #expect(!FileManager.default.fileExists(atPath: unwritten.path))
        // Bias pairs need a decoder's sentence likelihood: refused in one line.
        let bias = runMPI(np: 1, executable: Tessera.executable,
                          arguments: ["eval", "bias", "--checkpoint", runDir.path,
                                      "--pairs", packageRoot.appendingPathComponent("data/bias-probe.csv").path], timeout: 60)
        let biasErrors = bias.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(bias.status == 2 && biasErrors.count == 1 && biasErrors[0].contains("t5 model"), "\(bias.stderr)")
        print("t5 generation: trained 1000 steps in \(String(format: "%.1f", trainSeconds)) s; \(exact)/\(heldOut.count) held-out "
              + "targets exact; eval \(scored.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
}
