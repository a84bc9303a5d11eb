import Checkpoint
import Foundation
import Testing

/// Tensor and pipeline parallelism, alone and combined with each other and with data parallelism,
/// against one rank: the same loss curve, the same gradients, the same model.h5.
@Suite(.serialized)
struct TensorPipelineTests {
    /// Evaluation every 6 steps, so that eval is checked on every layout too.
    static let withEval = ["train.eval_every=6", "train.eval_steps=2"]

    static func single(_ extra: [String] = [], label: String) -> TesseraRun {
        let run = Tessera.train(np: 1, overrides: withEval + extra, label: label)
        #expect(run.status == 0, "single rank failed: \(run.stderr)")
        // The curve must move, or equality would prove nothing.
        let first = run.losses[1] ?? 0, last = run.losses[12] ?? 0
        #expect(first - last > 0.3, "loss went \(first) → \(last)")
        return run
    }

    struct Layout: CustomTestStringConvertible, Sendable {
        let ranks: Int
        let overrides: [String]
        var testDescription: String { "\(ranks) ranks: " + overrides.joined(separator: " ") }
    }

    static let layouts = [
        Layout(ranks: 2, overrides: ["parallel.tp=2"]),
        Layout(ranks: 2, overrides: ["parallel.pp=2", "parallel.microbatches=2", "parallel.schedule=1f1b"]),
        Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2"]),
        Layout(ranks: 4, overrides: ["parallel.tp=2"]),                              // dp 2 × tp 2
        Layout(ranks: 4, overrides: ["parallel.pp=2", "parallel.microbatches=2"]),   // dp 2 × pp 2
        // Vocabulary 65 padded to 68: the padding must not change the loss.
        Layout(ranks: 4, overrides: ["parallel.tp=4"]),
    ]

    @Test(arguments: layouts)
    func layoutReproducesTheSingleRankCurve(_ layout: Layout) {
        let reference = Self.single(label: "tp-pp-ref")
        let run = Tessera.train(np: layout.ranks, overrides: Self.withEval + layout.overrides, label: "tp-pp")
        expectSameCurve(run, as: reference)
    }

    /// Four stages need four layers; GPipe with four microbatches.
    @Test func fourStagesWithGPipeReproduceTheSingleRankCurve() {
        let deeper = ["model.n_layer=4"]
        let reference = Self.single(deeper, label: "pp4-ref")
        let run = Tessera.train(np: 4, overrides: Self.withEval + deeper
            + ["parallel.pp=4", "parallel.microbatches=4", "parallel.schedule=gpipe"], label: "pp4")
        expectSameCurve(run, as: reference)
    }

    /// Dropout masks are keyed by global position, so every tensor rank drops the same elements
    /// and every stage the same as one rank would.
    @Test func dropoutIsIndependentOfTensorAndPipelineLayout() {
        let dropout = ["model.dropout=0.1"]
        let reference = Self.single(dropout, label: "tp-pp-drop-ref")
        let run = Tessera.train(np: 4, overrides: Self.withEval + dropout
            + ["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2"], label: "tp-pp-drop")
        expectSameCurve(run, as: reference)
    }

    /// One step's gradients, gathered to full tensors, against one rank's (checked by the tool).
    /// The last layout's vocabulary (20 000 rows a tensor rank) and microbatches of 384 tokens run
    /// the head in two blocks of rows on each rank, three on the single rank.
    @Test(arguments: [
        Layout(ranks: 2, overrides: ["parallel.tp=2"]),
        Layout(ranks: 2, overrides: ["parallel.pp=2", "parallel.microbatches=2"]),
        Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2"]),
        Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2",
                                     "model.vocab_size=40000", "train.batch_size=48"]),
    ])
    func gradientsMatchOneRank(_ layout: Layout) throws {
        let config = Tessera.temporaryDirectory("grad").appendingPathComponent("empty.toml")
        try Data().write(to: config)
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        let result = runMPI(np: layout.ranks, executable: builtExecutable(named: "tessera-layout-check"),
                            arguments: [config.path, "data.path=\(data)"] + Tessera.tinyModel + layout.overrides,
                            timeout: 120)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("layout-check:") }
        let error = line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        #expect(error != nil && error! <= 1e-5, "\(result.stdout)")
    }

    /// model.h5 holds the same names, shapes and (up to summation order) values on any layout.
    @Test func modelFileIsLayoutIndependent() throws {
        let reference = Self.single(label: "h5-ref")
        let run = Tessera.train(np: 4, overrides: ["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2"],
                                label: "h5")
        #expect(run.status == 0, "\(run.stderr)")
        let expected = try ModelFile.read(path: reference.runDir.appendingPathComponent("model.h5").path)
        let actual = try ModelFile.read(path: run.runDir.appendingPathComponent("model.h5").path)
        #expect(Set(actual.tensors.keys) == Set(expected.tensors.keys))
        for (name, tensor) in expected.tensors {
            guard let other = actual.tensors[name] else { continue }
            #expect(other.shape == tensor.shape, "\(name)")
            let scale = tensor.data.reduce(0) { max($0, abs($1)) }
            let difference = zip(tensor.data, other.data).reduce(0) { max($0, abs($1.0 - $1.1)) }
            // The absolute term covers the QKV key bias, whose true gradient is zero: AdamW turns the
            // round-off there into steps of a few 1e-6 that differ with the summation order.
            #expect(difference <= 1e-4 * scale + 1e-5, "\(name): differs by \(difference) (scale \(scale))")
        }
    }

    /// 1F1B keeps at most (stages − stage) microbatches' activations; GPipe all of them. The
    /// figures come from the startup line, which reports what each stage allocated.
    @Test func oneFOneBHoldsLessActivationMemoryThanGPipe() throws {
        func stageMemory(_ schedule: String) -> [Double] {
            Tessera.train(np: 2, overrides: ["parallel.pp=2", "parallel.microbatches=4",
                                             "parallel.schedule=\(schedule)", "train.steps=1"],
                          label: "mem-\(schedule)").activationMemoryPerStage
        }
        let gpipe = stageMemory("gpipe"), oneFOneB = stageMemory("1f1b")
        try #require(gpipe.count == 2 && oneFOneB.count == 2, "gpipe \(gpipe), 1f1b \(oneFOneB)")
        // Stage 0 holds 2 of 4 microbatches under 1F1B, stage 1 one: half and a quarter of GPipe's.
        #expect(abs(oneFOneB[0] / gpipe[0] - 0.5) < 0.01, "stage 0: 1f1b \(oneFOneB[0]) vs gpipe \(gpipe[0])")
        #expect(abs(oneFOneB[1] / gpipe[1] - 0.25) < 0.01, "stage 1: 1f1b \(oneFOneB[1]) vs gpipe \(gpipe[1])")
    }
}
