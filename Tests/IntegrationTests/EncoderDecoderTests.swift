import Foundation
import Testing

/// The encoder-decoder (family t5) under real mpirun: span corruption and seq2seq pairs on every
/// layout against one rank (fp32, dropout 0: the same curve within 2e-4), bf16 compute, experts,
/// a checkpoint resumed on another layout, pretraining then adapting, and the inputs it refuses.
@Suite(.serialized)
struct EncoderDecoderTests {
    /// 2 encoder and 2 decoder layers over inputs of 24 and targets of 12 characters.
    static let t5 = [
        "model.family=t5", "model.encoder_block_size=24", "model.block_size=12", "model.relative_buckets=8",
        "model.relative_max_distance=16", "train.eval_every=6", "train.eval_steps=2",
    ]
    static let spanCorruption = t5 + ["train.objective=span_corruption"]

    /// Pairs a model can learn: a word of the corpus in, the word reversed out.
    static let pairsFile: URL = {
        let text = (try? String(contentsOf: packageRoot.appendingPathComponent("data/tinyshakespeare.txt"), encoding: .utf8)) ?? ""
        var seen = Set<String>(), lines: [String] = []
        for word in text.lowercased().split(whereSeparator: { !$0.isLetter }) where (3...8).contains(word.count) {
            guard seen.insert(String(word)).inserted else { continue }
            let pair = ["input": String(word), "target": String(word.reversed())]
            lines.append(String(decoding: try! JSONSerialization.data(withJSONObject: pair, options: .sortedKeys), as: UTF8.self))
            if lines.count == 600 { break }
        }
        let file = Tessera.temporaryDirectory("t5-pairs").appendingPathComponent("reverse.jsonl")
        try! (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        return file
    }()

    static var seq2seq: [String] { t5 + ["train.objective=seq2seq", "data.path=\(pairsFile.path)"] }

    static let spanReference = Tessera.train(np: 1, overrides: spanCorruption, label: "t5-span-ref")
    static let pairsReference = Tessera.train(np: 1, overrides: seq2seq, label: "t5-pairs-ref")

    /// The first step's loss is the untrained model's, about ln V over the target tokens (it was
    /// once divided by every padded position too), and both objectives learn.
    @Test func bothObjectivesStartNearLnVAndLearn() {
        for (run, vocabulary) in [(Self.spanReference, 66.0 + 100), (Self.pairsReference, 27.0)] {
            #expect(run.status == 0, "\(run.stderr)")
            let first = run.losses[1] ?? 0, last = run.losses[12] ?? 0
            #expect(abs(first - log(vocabulary)) < 0.6, "first loss \(first), ln V \(log(vocabulary))")
            #expect(first - last > 0.5, "loss went \(first) → \(last)")
            #expect(run.stderr.contains("2 encoder + 2 decoder layers"), "\(run.stderr)")
        }
    }

    static let layouts = [
        TensorPipelineTests.Layout(ranks: 2, overrides: []),                                            // dp 2
        TensorPipelineTests.Layout(ranks: 2, overrides: ["parallel.tp=2"]),
        TensorPipelineTests.Layout(ranks: 2, overrides: ["parallel.pp=2", "parallel.microbatches=2"]),
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2"]),
        // One layer per stage: the encoder's bias table and output, and the decoder's table, cross stages.
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.pp=4", "parallel.microbatches=4",
                                                         "parallel.schedule=gpipe"]),
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.zero=1"]),
    ]

    @Test(arguments: layouts)
    func spanCorruptionLayoutReproducesTheSingleRankCurve(_ layout: TensorPipelineTests.Layout) {
        let run = Tessera.train(np: layout.ranks, overrides: Self.spanCorruption + layout.overrides, label: "t5-span")
        expectSameCurve(run, as: Self.spanReference)
    }

    @Test(arguments: layouts.prefix(4))
    func seq2seqLayoutReproducesTheSingleRankCurve(_ layout: TensorPipelineTests.Layout) {
        let run = Tessera.train(np: layout.ranks, overrides: Self.seq2seq + layout.overrides, label: "t5-pairs")
        expectSameCurve(run, as: Self.pairsReference)
    }

    /// bf16 compute against fp32 on one rank (within 5e-2, as the decoders'), and dp 2 × tp 2 with
    /// an fp16 gradient wire against one bf16 rank (within 2e-3).
    @Test func bf16ComputeAndSixteenBitWires() {
        let bf16 = Self.spanCorruption + ["precision.compute=bf16"]
        let one = Tessera.train(np: 1, overrides: bf16, label: "t5-bf16-one")
        expectSameCurve(one, as: Self.spanReference, tolerance: 5e-2)
        let four = Tessera.train(np: 4, overrides: bf16 + ["parallel.tp=2", "precision.grad_allreduce=fp16"],
                                 label: "t5-bf16-four")
        expectSameCurve(four, as: one, tolerance: 2e-3)
    }

    /// Experts in both stacks' feed-forward, spread over two expert ranks, against one rank holding
    /// them all (capacity factor 2 = n_experts / top_k: no token dropped, so no layout decides).
    @Test func expertsInBothStacksAcrossExpertRanks() {
        let experts = Self.spanCorruption + ["model.n_experts=4", "model.top_k=2", "model.capacity_factor=2"]
        let one = Tessera.train(np: 1, overrides: experts, label: "t5-moe-one")
        #expect(one.status == 0, "\(one.stderr)")
        let run = Tessera.train(np: 2, overrides: experts + ["parallel.ep=2"], label: "t5-moe-ep")
        expectSameCurve(run, as: one, tolerance: 3e-4)
    }

    /// Span corruption on prepared shards (`tessera prepare`, char ids): it learns, and tp 2 gives
    /// the one-rank curve there too.
    @Test func spanCorruptionTrainsOnPreparedShards() {
        let shards = Tessera.temporaryDirectory("t5-shards").appendingPathComponent("shards")
        let text = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        let prepared = runCommand([Tessera.executable.path, "prepare", "--tokenizer", "char", "--input", text,
                                   "--output", shards.path], timeout: 60)
        #expect(prepared.status == 0, "\(prepared.stderr)")
        let overrides = Self.spanCorruption + ["data.path=\(shards.path)"]
        let one = Tessera.train(np: 1, overrides: overrides, label: "t5-shards-one")
        #expect(one.status == 0, "\(one.stderr)")
        let first = one.losses[1] ?? 0, last = one.losses[12] ?? 0
        #expect(first - last > 0.5, "loss went \(first) → \(last)")
        let run = Tessera.train(np: 2, overrides: overrides + ["parallel.tp=2"], label: "t5-shards-tp")
        expectSameCurve(run, as: one)
    }

    /// Saved on tp 2, resumed on pp 2: the uninterrupted curve continues (within 3e-4).
    @Test func aCheckpointResumesOnAnotherLayout() throws {
        let twenty = ["train.steps=20", "checkpoint.every=10"]
        let full = Tessera.train(np: 2, overrides: Self.spanCorruption + twenty + ["parallel.tp=2"], label: "t5-ckpt-full")
        #expect(full.status == 0, "\(full.stderr)")
        let dir = try CheckpointResumeTests.interrupted(full, at: 10, label: "t5-ckpt")
        let resumed = Tessera.train(np: 2, overrides: Self.spanCorruption + twenty
                                        + ["parallel.pp=2", "parallel.microbatches=2"], label: "t5-ckpt-resumed", runDir: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming from"), "\(resumed.stderr)")
        for step in 11...20 {
            let (a, b) = (resumed.losses[step] ?? .nan, full.losses[step] ?? .nan)
            #expect(abs(a - b) / b <= 3e-4, "step \(step): \(a) vs \(b)")
        }
    }

    /// Pretrain with span corruption on the corpus, then adapt to pairs from that run: the pairs
    /// are read with the pretrained model's tokenizer and vocabulary (sentinels included), and the
    /// adapted run starts where the pretrained weights put it, below a fresh start.
    @Test func seq2seqStartsFromASpanCorruptionRun() {
        let pretrained = Tessera.train(np: 2, overrides: Self.spanCorruption + ["train.steps=40"], label: "t5-pretrain")
        #expect(pretrained.status == 0, "\(pretrained.stderr)")
        let adapted = Tessera.train(np: 2, overrides: Self.seq2seq + ["train.init_from=\(pretrained.runDir.path)"],
                                    label: "t5-adapt")
        #expect(adapted.status == 0, "\(adapted.stderr)")
        #expect(adapted.stderr.contains("vocab 166"), "\(adapted.stderr)")
        let fresh = adapted.losses[1] ?? .nan, scratch = Self.pairsReference.losses[1] ?? .nan
        #expect(fresh < scratch + log(166.0 / 27.0) - 0.3, "adapted starts at \(fresh), scratch at \(scratch)")
    }

    struct BadInput: CustomTestStringConvertible, Sendable {
        let label: String
        let overrides: [String]
        let pairs: String?
        let mentions: String
        var testDescription: String { label }
    }

    @Test(arguments: [
        BadInput(label: "a line without a target", overrides: [], pairs: "{\"input\": \"abc\"}\n", mentions: "target"),
        BadInput(label: "a target longer than block_size", overrides: [],
                 pairs: (0..<20).map { _ in "{\"input\": \"ab\", \"target\": \"abcdefghijklmnopqrstu\"}" }.joined(separator: "\n"),
                 mentions: "block_size"),
        BadInput(label: "dpo on t5", overrides: ["train.objective=dpo"], pairs: nil, mentions: "span_corruption"),
        BadInput(label: "span corruption on a decoder", overrides: ["model.family=gpt2", "train.objective=span_corruption"],
                 pairs: nil, mentions: "t5"),
        BadInput(label: "an input too short for its spans", overrides: ["model.encoder_block_size=2"], pairs: nil,
                 mentions: "encoder_block_size"),
        BadInput(label: "relative positions on llama", overrides: ["model.family=llama", "model.position=relative"],
                 pairs: nil, mentions: "relative"),
    ])
    func badInputExitsTwoWithOneErrorLine(_ bad: BadInput) throws {
        var overrides = bad.pairs == nil ? Self.spanCorruption : Self.seq2seq
        if let pairs = bad.pairs {
            let file = Tessera.temporaryDirectory("t5-bad").appendingPathComponent("pairs.jsonl")
            try pairs.write(to: file, atomically: true, encoding: .utf8)
            overrides.append("data.path=\(file.path)")
        }
        let run = Tessera.train(np: 2, overrides: overrides + bad.overrides, label: "t5-bad")
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains(bad.mentions), "\(run.stderr)")
        #expect(run.losses.isEmpty)
    }
}
