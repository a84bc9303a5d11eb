import Foundation
import Testing

/// `tessera export --format hf` and `train.init_from` from the exported folder, with the real
/// executable under real mpirun: the exported weights start a run exactly as the checkpoint they
/// came from does, on every layout; bad input is one `error:` line and exit 2.
@Suite(.serialized)
struct HuggingFaceTests {
    /// `tessera export --format hf SOURCE OUT [extra]` on one process.
    static func export(_ source: String, to out: String, extra: [String] = []) -> TesseraRun {
        let result = runCommand([Tessera.executable.path, "export", "--format", "hf", source, out] + extra, timeout: 120)
        return TesseraRun(status: result.status, stdout: result.stdout, stderr: result.stderr, runDir: URL(fileURLWithPath: out))
    }

    /// The tiny model at block size 64 (as DPO's pairs need), for every run here.
    static let model = ["model.block_size=64"]

    /// That model trained for 12 steps on one rank, and its export (a folder export makes).
    static let trained: (run: TesseraRun, export: TesseraRun) = trainAndExport([], label: "gpt2")
    /// The same with the llama family's parts (two kv heads, so that tp 2 splits them).
    static let llama = ["model.family=llama", "model.n_kv_head=2"]
    static let trainedLlama: (run: TesseraRun, export: TesseraRun) = trainAndExport(llama, label: "llama")
    /// The encoder-decoder (T5ForConditionalGeneration), pretrained with span corruption.
    static let t5 = ["model.family=t5", "train.objective=span_corruption"]
    static let trainedT5: (run: TesseraRun, export: TesseraRun) = trainAndExport(t5, label: "t5")

    /// Each family's overrides, its trained run and export, and the class it exports as.
    static func family(_ name: String) -> (overrides: [String], trained: (run: TesseraRun, export: TesseraRun), architecture: String) {
        switch name {
        case "llama": (llama, trainedLlama, "LlamaForCausalLM")
        case "t5": (t5, trainedT5, "T5ForConditionalGeneration")
        default: ([], trained, "GPT2LMHeadModel")
        }
    }

    static func trainAndExport(_ family: [String], label: String) -> (run: TesseraRun, export: TesseraRun) {
        let run = Tessera.train(np: 1, overrides: model + family, label: "hf-trained-\(label)")
        let out = Tessera.temporaryDirectory("hf-export").appendingPathComponent(label).path
        return (run, export(run.runDir.path, to: out))
    }

    static func files(_ folder: URL) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
    }

    @Test(arguments: [("gpt2", ["parallel.tp=1"]), ("gpt2", ["parallel.tp=2"]), ("llama", ["parallel.tp=1"]),
                      ("llama", ["parallel.tp=2"]), ("t5", ["parallel.tp=1"]), ("t5", ["parallel.tp=2"])])
    func anExportStartsARunExactlyAsItsCheckpointDoes(_ family: String, _ layout: [String]) throws {
        let (overrides, (trained, exported), architecture) = Self.family(family)
        try #require(trained.status == 0, "\(trained.stderr)")
        try #require(exported.status == 0, "\(exported.stderr)")
        #expect(Self.files(exported.runDir) == ["model.safetensors", "config.json", "tessera_vocab.json"])
        #expect(exported.stdout.contains("as \(architecture)"), "\(exported.stdout)")
        let steps = Self.model + overrides + ["train.steps=3"]
        let fromExport = Tessera.train(np: 2, overrides: layout + steps + ["train.init_from=\(exported.runDir.path)"], label: "hf-init")
        let fromCheckpoint = Tessera.train(np: 2, overrides: layout + steps + ["train.init_from=\(trained.runDir.path)"],
                                           label: "hf-init-ckpt")
        #expect(fromExport.status == 0, "\(fromExport.stderr)")
        #expect(fromCheckpoint.status == 0, "\(fromCheckpoint.stderr)")
        #expect(fromExport.losses.count == 3)
        // The same weights on the same layout: the same curve, bit for bit.
        for step in 1...3 {
            #expect(fromExport.losses[step] == fromCheckpoint.losses[step],
                    "step \(step): \(fromExport.losses[step] ?? .nan) vs \(fromCheckpoint.losses[step] ?? .nan)")
        }
        // And they are the trained weights, not a fresh start (ln 65 ≈ 4.17).
        let start = try #require(fromExport.losses[1]), fresh = try #require(trained.losses[1])
        #expect(start < fresh - 0.3, "step 1 from the export \(start), fresh \(fresh)")
    }

    @Test func aFolderOfOtherSizesIsOneErrorOnEveryRank() throws {
        let (_, exported) = Self.trained
        try #require(exported.status == 0, "\(exported.stderr)")
        let run = Tessera.train(np: 2, overrides: Self.model + ["model.n_layer=3", "train.init_from=\(exported.runDir.path)"], label: "hf-layers")
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.errorLines == ["error: train.init_from: \(exported.runDir.path)/config.json: n_layer = 2, but model.n_layer = 3"],
                "\(run.stderr)")
        #expect(run.losses.isEmpty)
    }

    /// DPO from a model trained elsewhere: the export is its policy's start and its reference.
    @Test func dpoStartsFromAnExportAsFromItsCheckpoint() throws {
        let (trained, exported) = Self.trained
        try #require(exported.status == 0, "\(exported.stderr)")
        let dpo = Self.model + ["train.objective=dpo", "data.preferences=\(PreferenceTests.pairs)", "train.lr=1e-4",
                                "train.steps=3", "parallel.tp=2"]
        let fromExport = Tessera.train(np: 2, overrides: dpo + ["train.init_from=\(exported.runDir.path)"], label: "hf-dpo")
        let fromCheckpoint = Tessera.train(np: 2, overrides: dpo + ["train.init_from=\(trained.runDir.path)"], label: "hf-dpo-ckpt")
        #expect(fromExport.status == 0 && fromCheckpoint.status == 0, "\(fromExport.stderr)\n\(fromCheckpoint.stderr)")
        #expect(abs((fromExport.losses[1] ?? 0) - log(2)) < 1e-6, "step 1: \(fromExport.losses[1] ?? .nan)")
        #expect(fromExport.losses.count == 3 && fromExport.losses == fromCheckpoint.losses,
                "\(fromExport.losses) vs \(fromCheckpoint.losses)")
    }

    /// A Llama folder given to a GPT-2 run (and a GPT-2 folder to a llama run) is one error line.
    @Test func aFolderOfAnotherFamilyIsOneError() {
        let llama = packageRoot.appendingPathComponent("Tests/Fixtures/hf/llama").path
        let run = Tessera.train(np: 2, overrides: ["train.init_from=\(llama)"], label: "hf-llama")
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].hasPrefix("error: train.init_from: \(llama)/config.json: "
            + "the run's model: LlamaForCausalLM is RMSNorm, rotary positions, SwiGLU and no biases; this model has layernorm"),
                "\(run.stderr)")
        let gpt2 = packageRoot.appendingPathComponent("Tests/Fixtures/hf/gpt2").path
        let other = Tessera.train(np: 2, overrides: Self.llama + ["train.init_from=\(gpt2)"], label: "hf-gpt2")
        #expect(other.status == 2 && other.errorLines.count == 1 && other.errorLines[0].contains("GPT2LMHeadModel is LayerNorm"),
                "\(other.stderr)")
    }

    @Test func anExportIsReplacedOnlyWithOverwrite() throws {
        let (trained, exported) = Self.trained
        try #require(exported.status == 0, "\(exported.stderr)")
        let again = Self.export(trained.runDir.path, to: exported.runDir.path)
        #expect(again.status == 2 && again.errorLines.count == 1 && again.errorLines[0].contains("--overwrite"), "\(again.stderr)")
        let replaced = Self.export(trained.runDir.path, to: exported.runDir.path, extra: ["--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        let missing = Self.export("/nonexistent/run", to: exported.runDir.path + "-missing")
        #expect(missing.status == 2 && missing.errorLines == ["error: checkpoint '/nonexistent/run' does not exist"], "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: exported.runDir.path + "-missing"))
    }

    @Test func aMixtureOfExpertsModelIsNotExported() {
        let run = Tessera.train(np: 1, overrides: ["model.n_experts=2", "model.top_k=1", "train.steps=2"], label: "hf-moe")
        #expect(run.status == 0, "\(run.stderr)")
        let out = Tessera.temporaryDirectory("hf-moe-export").appendingPathComponent("out").path
        let exported = Self.export(run.runDir.path, to: out)
        #expect(exported.status == 2, "\(exported.stderr)")
        #expect(exported.errorLines.count == 1 && exported.errorLines[0].hasPrefix("error: \(run.runDir.path)/model.h5: "
            + "no Hugging Face class represents this model: a mixture-of-experts model (model.n_experts = 2)"), "\(exported.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
