import Foundation
import Interop
import Model
import SafeTensors
import Testing
import Training

/// A GPT-2 saved by transformers, read into Tessera's model, gives transformers' logits; the ways
/// other checkpoints of the same model are saved (base-class names, mask buffers, a copy of the
/// tied head, shards) read the same weights.
@Suite struct GPT2ImportTests {
    static let expected = fixture("gpt2") + "/expected.safetensors"
    static let C = 32

    /// Tessera's logits for the fixture's ids from the Hugging Face folder `folder`.
    static func logits(_ folder: String) throws -> (got: [Float], want: [Float]) {
        let file = try SafeTensorsFile(path: expected)
        let ids = try file.integers("input_ids")
        let got = try WholeModel(huggingFace: folder).logits(tokens: ids.map { Int32($0) }, batch: 2)
        return (got, try file.floats("logits"))
    }

    /// fp32 on both sides; Tessera's GELU and exp are polynomial fits (errors below 4e-7).
    @Test func logitsEqualTransformersWithin1e4Relative() throws {
        let (got, want) = try Self.logits(fixture("gpt2"))
        let error = relativeError(got, want)
        #expect(error <= 1e-4, "max |a − b| / max |b| = \(error)")
        print("gpt2 fixture: max relative error of Tessera's logits against transformers' \(error)")
        // The ids run to 95: every row of the vocabulary takes part.
        #expect(try SafeTensorsFile(path: Self.expected).integers("input_ids").max() == 95)
    }

    @Test func conv1DMatricesAreTransposedAndTheRestCopied() throws {
        let whole = try WholeModel(huggingFace: fixture("gpt2"))
        let hf = try SafeTensorsFile(path: fixture("gpt2") + "/model.safetensors")
        let C = Self.C
        for (name, rows, columns) in [("h.1.attn.c_attn.weight", 3 * C, C), ("h.0.attn.c_proj.weight", C, C),
                                      ("h.0.mlp.c_fc.weight", 4 * C, C), ("h.1.mlp.c_proj.weight", C, 4 * C)] {
            let stored = try hf.floats("transformer." + name), ours = whole.parameter(name)  // (in, out), (out, in)
            let transposed = (0..<rows).allSatisfy { r in (0..<columns).allSatisfy { ours[r * columns + $0] == stored[$0 * rows + r] } }
            #expect(transposed, "\(name)")
            let differs = Array(ours) != stored
            #expect(differs, "\(name) equals its transpose: the check would not see a missing transpose")
        }
        for name in ["wte", "wpe", "h.0.attn.c_attn.bias", "h.1.ln_2.weight", "h.1.mlp.c_fc.bias", "ln_f.bias"] {
            let stored = try hf.floats(name.hasPrefix("w") ? "transformer.\(name).weight" : "transformer." + name)
            #expect(Array(whole.parameter(name)) == stored, "\(name)")
        }
    }

    /// GPT2Model's checkpoints (openai-community/gpt2's own) name tensors without `transformer.`;
    /// older ones hold the causal-mask buffers `attn.bias` and `attn.masked_bias`; some hold the
    /// tied head's copy `lm_head.weight`. None of them changes the weights.
    @Test func baseClassNamesMaskBuffersAndAHeadCopyReadTheSameWeights() throws {
        let reference = try Self.logits(fixture("gpt2")).got
        try withTemporaryDirectory { folder in
            var stored = try tensors(of: fixture("gpt2") + "/model.safetensors").map {
                (name: String($0.name.dropFirst("transformer.".count)), shape: $0.shape, values: $0.values)
            }
            let wte = stored.first { $0.name == "wte.weight" }!
            let mask = (0..<(32 * 32)).map { Float($0 % 32 <= $0 / 32 ? 1 : 0) }
            stored += [("h.0.attn.bias", [1, 1, 32, 32], mask), ("h.1.attn.bias", [1, 1, 32, 32], mask),
                       ("h.0.attn.masked_bias", [], [-1e4]), ("lm_head.weight", wte.shape, wte.values)]
            try writeFolder(folder, config: try fixtureConfig(set: ["architectures": #"["GPT2Model"]"#]), tensors: stored)
            #expect(try Self.logits(folder).got == reference)
        }
    }

    @Test func shardsNamedByAnIndexReadTheSameWeights() throws {
        let reference = try Self.logits(fixture("gpt2")).got
        try withTemporaryDirectory { folder in
            let stored = try tensors(of: fixture("gpt2") + "/model.safetensors")
            var map: [String] = []
            for (shard, part) in [stored.prefix(10), stored.dropFirst(10)].enumerated() {
                let file = "model-0000\(shard + 1)-of-00002.safetensors"
                try writeSafeTensors(path: folder + "/" + file,
                                     tensors: part.map { TensorToWrite(name: $0.name, shape: $0.shape, values: $0.values) })
                map += part.map { "\"\($0.name)\": \"\(file)\"" }
            }
            try #"{"metadata": {"total_size": 120000}, "weight_map": {\#(map.joined(separator: ", "))}}"#
                .write(toFile: folder + "/model.safetensors.index.json", atomically: false, encoding: .utf8)
            try fixtureConfig().write(toFile: folder + "/config.json", atomically: false, encoding: .utf8)
            #expect(try Self.logits(folder).got == reference)
        }
    }

    /// transformers 4.x wrote `torch_dtype`, 5.x `dtype`; `gelu_pytorch_tanh` is the same GELU;
    /// n_inner may say 4·n_embd outright.
    @Test(arguments: [["torch_dtype": #""float32""#], ["activation_function": #""gelu_pytorch_tanh""#], ["n_inner": "128"],
                      ["transformers_version": #""4.46.0""#, "n_ctx": "32"]])
    func equivalentSettingsAreAccepted(_ set: [String: String]) throws {
        try withTemporaryDirectory { folder in
            try writeFolder(folder, config: try fixtureConfig(set: set, remove: ["dtype"]),
                            tensors: try tensors(of: fixture("gpt2") + "/model.safetensors"))
            #expect(try HFCheckpoint(folder: folder).dims == GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 32, vocabSize: 96))
        }
    }

    /// A run may use fewer positions than the checkpoint has: the first block_size rows.
    @Test func aShorterBlockSizeTakesTheFirstPositions() throws {
        let checkpoint = try HFCheckpoint(folder: fixture("gpt2"))
        try checkpoint.check(against: GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 16, vocabSize: 96))
        let wpe = try SafeTensorsFile(path: fixture("gpt2") + "/model.safetensors").floats("transformer.wpe.weight")
        #expect(try checkpoint.tensor("wpe", shape: [16, 32]) == Array(wpe.prefix(16 * 32)))
        #expect(failure { _ = try checkpoint.tensor("wpe", shape: [33, 32]) } != nil)
    }

    /// Each size config.json gives must be the run's; the message names both values.
    @Test(arguments: [
        (GPTDimensions(nLayer: 3, nHead: 4, nEmbd: 32, blockSize: 32, vocabSize: 96), "n_layer = 2, but model.n_layer = 3"),
        (GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 32, vocabSize: 96), "n_head = 4, but model.n_head = 2"),
        (GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 64, blockSize: 32, vocabSize: 96), "n_embd = 32, but model.n_embd = 64"),
        (GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 64, vocabSize: 96), "n_positions = 32 is less than model.block_size = 64"),
        (GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 32, vocabSize: 65), "vocab_size = 96, but the run's vocabulary"),
        (GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 32, vocabSize: 96,
                       experts: ExpertSettings(count: 2, topK: 1, capacityFactor: 1, auxLossCoefficient: 0)), "mixture-of-experts"),
    ])
    func aRunOfOtherSizesIsRefusedNamingBothValues(_ run: GPTDimensions, _ message: String) throws {
        let checkpoint = try HFCheckpoint(folder: fixture("gpt2"))
        let error = failure { try checkpoint.check(against: run) }
        #expect(error?.hasPrefix(fixture("gpt2") + "/config.json: ") == true && error?.contains(message) == true, "\(error ?? "nil")")
        #expect(error?.contains("\n") == false)
    }
}
