import Foundation
import Interop
import Model
import SafeTensors
import Testing
import Training

/// Llama models saved by transformers (grouped-query and multi-query attention, untied and tied
/// heads, one file and shards) read into Tessera's llama parts give transformers' logits; an
/// export of them reads back bit for bit; a Tessera model of llama parts exports as
/// LlamaForCausalLM with the same logits.
@Suite struct LlamaImportTests {
    @Test(arguments: ["llama", "llama-sharded", "llama-mqa"])
    func logitsEqualTransformersWithin1e4Relative(_ name: String) throws {
        let file = try SafeTensorsFile(path: fixture(name) + "/expected.safetensors")
        let ids = try file.integers("input_ids").map { Int32($0) }
        let whole = try WholeModel(huggingFace: fixture(name))
        let parts = whole.model.dims.parts
        #expect(parts.norm == .rmsNorm && parts.mlp == .swiglu && !parts.bias && parts.position == .rotary(theta: 10_000))
        #expect(parts.kvHeads == (name == "llama-mqa" ? 1 : 2) && parts.tiedEmbeddings == (name == "llama-mqa"))
        let error = relativeError(try whole.logits(tokens: ids, batch: 2), try file.floats("logits"))
        #expect(error <= 1e-4, "\(name): max |a − b| / max |b| = \(error)")
        print("\(name) fixture: max relative error of Tessera's logits against transformers' \(error)")
    }

    @Test(arguments: ["llama", "llama-mqa"])
    func huggingFaceToTesseraAndBackIsBitExact(_ name: String) throws {
        try expectRoundTripIsBitExact(name, modelType: "llama", endOfText: nil)
    }

    /// Settings of a Llama that Tessera's parts do not represent are refused by key.
    @Test(arguments: [
        ("hidden_act", #""gelu""#), ("rope_scaling", #"{"rope_type": "linear", "factor": 2.0}"#),
        ("attention_bias", "true"), ("mlp_bias", "true"), ("pretraining_tp", "2"), ("head_dim", "16"),
        ("num_key_value_heads", "3"),
    ])
    func aSettingTesseraCannotRepresentIsRefusedByKey(_ key: String, _ value: String) throws {
        let error = try withTemporaryDirectory { folder in
            try writeFolder(folder, config: try fixtureConfig("llama", set: [key: value]),
                            tensors: try tensors(of: fixture("llama") + "/model.safetensors"))
            return failure { _ = try HFCheckpoint(folder: folder) }.map { $0.replacingOccurrences(of: folder + "/", with: "") }
        }
        #expect(error?.hasPrefix("config.json: \(key) = ") == true, "\(error ?? "nil")")
    }

    /// A run whose parts differ from the folder's (here its rotary base) is refused, naming both.
    @Test func aRunOfOtherPartsIsRefused() throws {
        let checkpoint = try HFCheckpoint(folder: fixture("llama"))
        var parts = checkpoint.dims.parts
        parts.position = .rotary(theta: 500_000)
        let d = checkpoint.dims
        let run = GPTDimensions(nLayer: d.nLayer, nHead: d.nHead, nEmbd: d.nEmbd, blockSize: d.blockSize,
                                vocabSize: d.vocabSize, parts: parts)
        let error = failure { try checkpoint.check(against: run) }
        #expect(error?.contains("rope (theta 10000)") == true && error?.contains("rope (theta 500000)") == true, "\(error ?? "nil")")
        #expect(failure { try checkpoint.check(against: d) } == nil)
    }
}
