import Foundation
import Testing

/// The llama family (RMSNorm, rotary positions, grouped-query attention, SwiGLU, no biases, untied
/// head) on every layout GPT-2 runs on, experts included, against one rank: the same loss curve
/// (fp32, dropout 0) and the same gradients.
@Suite(.serialized)
struct ModelFamilyTests {
    /// Four query heads sharing two key/value heads.
    static let llama = ["model.family=llama", "model.n_kv_head=2", "train.eval_every=6", "train.eval_steps=2"]

    /// The single-rank run every layout is compared with, made once.
    static let reference: TesseraRun = {
        let run = Tessera.train(np: 1, overrides: llama, label: "llama-ref")
        return run
    }()

    @Test func theSingleRankCurveMoves() {
        let run = Self.reference
        #expect(run.status == 0, "\(run.stderr)")
        let first = run.losses[1] ?? 0, last = run.losses[12] ?? 0
        #expect(first - last > 0.3, "loss went \(first) → \(last)")
        #expect(run.stderr.contains("tessera: "), "\(run.stderr)")
    }

    @Test(arguments: [
        TensorPipelineTests.Layout(ranks: 2, overrides: []),                                            // dp 2
        TensorPipelineTests.Layout(ranks: 2, overrides: ["parallel.tp=2"]),
        TensorPipelineTests.Layout(ranks: 2, overrides: ["parallel.pp=2", "parallel.microbatches=2", "parallel.schedule=1f1b"]),
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.pp=2", "parallel.microbatches=2", "parallel.schedule=gpipe"]),
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2"]),
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.zero=1"]),
        // More tensor ranks than the two kv heads: each is copied on two ranks.
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.tp=4"]),
    ])
    func llamaLayoutReproducesTheSingleRankCurve(_ layout: TensorPipelineTests.Layout) {
        let run = Tessera.train(np: layout.ranks, overrides: Self.llama + layout.overrides, label: "llama")
        expectSameCurve(run, as: Self.reference)
    }

    /// bf16 compute with a 16-bit gradient wire on dp 2 × tp 2 against the one-rank bf16 curve (as
    /// GPT-2's within 2e-3: summation order moves bf16 roundings), and the one-rank bf16 curve
    /// against fp32 (within 5e-2, as GPT-2's).
    @Test func bf16ComputeAndSixteenBitWiresComposeWithLlamaParts() {
        let bf16 = Self.llama + ["precision.compute=bf16"]
        let one = Tessera.train(np: 1, overrides: bf16, label: "llama-bf16-one")
        expectSameCurve(one, as: Self.reference, tolerance: 5e-2)
        let four = Tessera.train(np: 4, overrides: bf16 + ["parallel.tp=2", "precision.grad_allreduce=fp16"],
                                 label: "llama-bf16-four")
        expectSameCurve(four, as: one, tolerance: 2e-3)
    }

    /// Multi-query attention on two tensor ranks (the one kv head on both), against one rank.
    @Test func multiQueryAttentionAcrossTensorRanksReproducesOneRank() {
        let mqa = Self.llama.filter { !$0.hasPrefix("model.n_kv_head") } + ["model.n_kv_head=1"]
        let reference = Tessera.train(np: 1, overrides: mqa, label: "mqa-ref")
        let run = Tessera.train(np: 4, overrides: mqa + ["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2"],
                                label: "mqa")
        expectSameCurve(run, as: reference)
    }

    /// One step's gradients gathered to full tensors against one rank's (the layout-check tool).
    @Test(arguments: [["model.n_kv_head=2", "parallel.tp=2", "parallel.pp=2", "parallel.microbatches=2"],
                      ["model.n_kv_head=1", "parallel.tp=4"]])
    func llamaGradientsMatchOneRankOnTensorAndPipelineRanks(_ layout: [String]) throws {
        let config = Tessera.temporaryDirectory("llama-grad").appendingPathComponent("empty.toml")
        try Data().write(to: config)
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        let result = runMPI(np: 4, executable: builtExecutable(named: "tessera-layout-check"),
                            arguments: [config.path, "data.path=\(data)"] + Tessera.tinyModel
                                + ["model.family=llama"] + layout,
                            timeout: 120)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("layout-check:") }
        let error = line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        #expect(error != nil && error! <= 1e-5, "\(result.stdout)")
    }

    /// LLaMA's experts (SwiGLU, no biases) on the expert layouts GPT-2's experts run on
    /// (ExpertParallelTests), against one rank within the same 3e-4. Capacity factor 2 = n_experts /
    /// top_k: nothing is dropped.
    static let experts = llama + ["model.n_experts=4", "model.top_k=2", "model.capacity_factor=2"]

    static let expertReference: TesseraRun = Tessera.train(np: 1, overrides: experts, label: "llama-moe-ref")

    @Test(arguments: [
        TensorPipelineTests.Layout(ranks: 2, overrides: ["parallel.ep=2"]),
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.ep=2"]),                          // dp 4: 2 expert groups
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.ep=2"]),
        TensorPipelineTests.Layout(ranks: 4, overrides: ["parallel.pp=2", "parallel.ep=2", "parallel.microbatches=2"]),
    ])
    func llamaExpertsReproduceTheSingleRankCurve(_ layout: TensorPipelineTests.Layout) {
        let reference = Self.expertReference
        #expect(reference.rows(key: "dropped_fraction").values.allSatisfy { $0 == 0 })
        let run = Tessera.train(np: layout.ranks, overrides: Self.experts + layout.overrides, label: "llama-moe")
        expectSameCurve(run, as: reference, tolerance: 3e-4)
        for key in ["expert_load_min", "expert_load_max"] {
            #expect(run.rows(key: key) == reference.rows(key: key), "\(key) differs from one rank")
        }
    }

    /// One step's gradients with SwiGLU experts split over expert and tensor ranks, picks dropped
    /// (capacity factor 1), gathered, against one rank's.
    @Test func llamaExpertGradientsMatchOneRankOnTensorAndExpertRanks() throws {
        let config = Tessera.temporaryDirectory("llama-moe-grad").appendingPathComponent("empty.toml")
        try Data().write(to: config)
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        let result = runMPI(np: 4, executable: builtExecutable(named: "tessera-layout-check"),
                            arguments: [config.path, "data.path=\(data)"] + Tessera.tinyModel
                                + ["model.family=llama", "model.n_kv_head=2", "model.n_experts=4", "model.top_k=2",
                                   "model.capacity_factor=1", "parallel.tp=2", "parallel.ep=2"],
                            timeout: 120)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("layout-check:") }
        let error = line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        #expect(error != nil && error! <= 1e-5, "\(result.stdout)")
    }
}
