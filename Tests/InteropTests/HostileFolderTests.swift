import Foundation
import Interop
import SafeTensors
import Testing

/// A folder that is not a GPT-2 Tessera can represent, or is damaged or hostile, is refused in one
/// line naming the file and the key or tensor, before any weight is read.
@Suite struct HostileFolderTests {
    static let weights = fixture("gpt2") + "/model.safetensors"

    /// The refusal of a folder holding `config` and the fixture's tensors after `edit`.
    static func refusal(config: String,
                        edit: (inout [(name: String, shape: [Int], values: [Float])]) -> Void = { _ in }) throws -> String? {
        try withTemporaryDirectory { folder in
            var stored = try tensors(of: weights)
            edit(&stored)
            try writeFolder(folder, config: config, tensors: stored)
            return failure { _ = try HFCheckpoint(folder: folder) }.map { $0.replacingOccurrences(of: folder + "/", with: "") }
        }
    }

    @Test func aFolderOfAnotherArchitectureIsRefusedNamingTheFamiliesTesseraReads() throws {
        let error = try Self.refusal(config: try fixtureConfig(set: ["model_type": #""mistral""#]))
        #expect(error == "config.json: model_type = \"mistral\" (GPT2LMHeadModel): Tessera reads gpt2 (GPT2LMHeadModel), llama (LlamaForCausalLM), t5 (T5ForConditionalGeneration)",
                "\(error ?? "nil")")
    }

    /// Settings that change GPT-2's network into one Tessera's model is not.
    @Test(arguments: [
        ("activation_function", #""relu""#), ("layer_norm_epsilon", "1e-06"),
        ("scale_attn_weights", "false"), ("scale_attn_by_inverse_layer_idx", "true"), ("reorder_and_upcast_attn", "true"),
        ("add_cross_attention", "true"), ("tie_word_embeddings", "false"), ("architectures", #"["GPT2DoubleHeadsModel"]"#),
        ("activation_function", "1"), ("n_layer", "2.5"), ("n_embd", "30"), ("n_head", "0"), ("vocab_size", #""96""#),
    ])
    func aSettingTesseraCannotRepresentIsRefusedByKey(_ key: String, _ value: String) throws {
        let error = try Self.refusal(config: try fixtureConfig(set: [key: value]))
        let named = key == "architectures" ? "architectures names GPT2DoubleHeadsModel" : "\(key) = "
        #expect(error?.hasPrefix("config.json: " + named) == true, "\(error ?? "nil")")
    }

    @Test(arguments: ["n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "model_type"])
    func aMissingKeyIsNamed(_ key: String) throws {
        let error = try Self.refusal(config: try fixtureConfig(remove: [key]))
        #expect(error?.hasPrefix("config.json: has no \(key == "model_type" ? "model_type" : "'\(key)'")") == true, "\(error ?? "nil")")
    }

    @Test(arguments: [
        ("{\"model_type\": \"gpt2\",", "is not JSON: "), ("", "is not JSON: "), ("[1, 2]", "holds [1,2], not a JSON object"),
        ("{\"model_type\": \"gpt2\", \"model_type\": \"llama\"}", "gives key 'model_type' twice"),
        (String(repeating: "[", count: 600), "is not JSON: nested too deeply"),
        ("{\"pad\": \"" + String(repeating: "x", count: 1 << 20) + "\"}", "more than the 1048576 this file may hold"),
    ])
    func aConfigThatIsNotAnObjectOfUniqueKeysIsRefused(_ text: String, _ message: String) throws {
        let error = try Self.refusal(config: text)
        #expect(error?.hasPrefix("config.json") == true && error?.contains(message) == true, "\(error ?? "nil")")
    }

    @Test func aConfigThatIsNotUTF8IsRefused() throws {
        try withTemporaryDirectory { folder in
            try Data([0x7B, 0xFF, 0x7D]).write(to: URL(fileURLWithPath: folder + "/config.json"))
            #expect(failure { _ = try HFCheckpoint(folder: folder) } == folder + "/config.json: is not valid UTF-8 text")
        }
    }

    @Test func aTensorOfAnotherShapeIsRefused() throws {
        let error = try Self.refusal(config: try fixtureConfig()) { stored in
            let i = stored.firstIndex { $0.name == "transformer.h.1.mlp.c_fc.weight" }!
            stored[i].shape = [128, 32]
        }
        #expect(error == "model.safetensors: tensor 'transformer.h.1.mlp.c_fc.weight' has shape [128, 32]; config.json's sizes give [32, 128]")
    }

    @Test func aMissingTensorIsNamed() throws {
        let error = try Self.refusal(config: try fixtureConfig()) { $0.removeAll { $0.name == "transformer.h.1.mlp.c_fc.weight" } }
        #expect(error == "model.safetensors: has no tensor 'transformer.h.1.mlp.c_fc.weight', which a gpt2 model of config.json's sizes has")
    }

    /// More layers than the file holds: refused before anything is made for them.
    @Test func layersTheFileDoesNotHoldAreRefused() throws {
        let error = try Self.refusal(config: try fixtureConfig(set: ["n_layer": "16000000"]))
        #expect(error == "config.json: n_layer = 16000000, but model.safetensors holds 28 tensors in all")
        let third = try Self.refusal(config: try fixtureConfig(set: ["n_layer": "3"]))
        #expect(third == "model.safetensors: has no tensor 'transformer.h.2.ln_1.weight', which a gpt2 model of config.json's sizes has")
    }

    @Test func aTensorNoParameterTakesIsRefused() throws {
        let error = try Self.refusal(config: try fixtureConfig()) { $0.append(("transformer.h.0.attn.rotary", [4], [1, 2, 3, 4])) }
        #expect(error == "model.safetensors: holds tensor 'transformer.h.0.attn.rotary', which GPT2LMHeadModel has no place for")
    }

    @Test func anIntegerTensorIsRefused() throws {
        try withTemporaryDirectory { folder in
            let stored = try tensors(of: Self.weights)
            try fixtureConfig().write(toFile: folder + "/config.json", atomically: false, encoding: .utf8)
            try writeSafeTensors(path: folder + "/model.safetensors", tensors: stored.map {
                $0.name == "transformer.ln_f.bias" ? TensorToWrite(name: $0.name, shape: [32], integers: Array(repeating: 0, count: 32))
                    : TensorToWrite(name: $0.name, shape: $0.shape, values: $0.values)
            })
            #expect(failure { _ = try HFCheckpoint(folder: folder) } == folder + "/model.safetensors: tensor 'transformer.ln_f.bias' is I64, not floating-point")
        }
    }

    /// Values are read when a parameter is asked for; one that is not finite stops the load.
    @Test func aNonFiniteWeightIsRefused() throws {
        try withTemporaryDirectory { folder in
            var stored = try tensors(of: Self.weights)
            let i = stored.firstIndex { $0.name == "transformer.h.0.attn.c_proj.weight" }!
            stored[i].values[37] = .nan
            try writeFolder(folder, config: try fixtureConfig(), tensors: stored)
            let checkpoint = try HFCheckpoint(folder: folder)
            #expect(failure { _ = try checkpoint.tensor("h.0.attn.c_proj.weight", shape: [32, 32]) }
                == folder + "/model.safetensors: tensor 'transformer.h.0.attn.c_proj.weight' holds nan at element 37; weights must be finite")
        }
    }

    /// The weights file is checked by the safetensors reader: a header length past the file's end
    /// is one line, and nothing is allocated for it.
    @Test func aHostileWeightsFileIsOneLine() throws {
        try withTemporaryDirectory { folder in
            try fixtureConfig().write(toFile: folder + "/config.json", atomically: false, encoding: .utf8)
            var bytes = [UInt8](repeating: 0, count: 16)
            bytes[5] = 1  // a header of 2^40 bytes
            try Data(bytes).write(to: URL(fileURLWithPath: folder + "/model.safetensors"))
            let error = failure { _ = try HFCheckpoint(folder: folder) }
            #expect(error == folder + "/model.safetensors: header length 1099511627776 is over the 100000000 bytes a header may have")
        }
    }

    @Test func aFolderWithoutWeightsOrConfigIsRefused() throws {
        try withTemporaryDirectory { folder in
            try fixtureConfig().write(toFile: folder + "/config.json", atomically: false, encoding: .utf8)
            #expect(failure { _ = try HFCheckpoint(folder: folder) } == folder + ": holds neither model.safetensors nor model.safetensors.index.json")
            try FileManager.default.removeItem(atPath: folder + "/config.json")
            #expect(!HFCheckpoint.holdsConfig(folder))
            #expect(failure { _ = try HFCheckpoint(folder: folder) }?.hasPrefix(folder + "/config.json: ") == true)
            #expect(failure { _ = try HFCheckpoint(folder: folder + "/missing") } == folder + "/missing: does not exist")
        }
    }
}
