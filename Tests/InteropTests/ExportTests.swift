import Checkpoint
import Config
import Data
import Foundation
import Interop
import Model
import SafeTensors
import Testing
import Training

/// Export writes what import reads, bit for bit, in both directions; a model.h5 exports with its
/// tokenizer; a model no Hugging Face class represents, or a folder holding an export, is refused.
@Suite struct ExportTests {
    /// A model.h5 in `folder` of a config with `model` keys, every parameter drawn at random
    /// (biases and norms too, so that none is left at 0 or 1).
    static func writeModelFile(_ folder: String, model keys: String, tokenizer: any Tokenizer, vocabSize: Int) throws -> GPT {
        let config = try TesseraConfig.parse(toml: "[model]\n" + keys + "\n[data]\ntokenizer = \"\(tokenizer.kind.rawValue)\"\n")
        let model = GPT(dims: GPTDimensions(config: config.model, vocabSize: vocabSize), seed: 7)
        var state: UInt32 = 12345
        for i in 0..<model.store.count {
            state = state &* 1_664_525 &+ 1_013_904_223
            model.store.values[i] = Float(Int32(bitPattern: state)) * 0x1p-33
        }
        let store = model.store
        let tensors = store.specs.enumerated().map { i, spec in
            NamedTensor(name: spec.name, shape: spec.globalShape,
                        data: UnsafeBufferPointer(start: store.values + store.offsets[i], count: spec.globalCount))
        }
        try ModelFile.write(path: folder + "/model.h5", tensors: tensors, attributes: ModelAttributes(
            step: 3, config: config.tomlText(), strings: ["tokenizer": tokenizer.kind.rawValue, "tokenizer_data": tokenizer.serialized]))
        return model
    }

    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    /// transformers' checkpoint → Tessera → a Hugging Face folder holds the same tensors, bit for
    /// bit, and reads back as the same parameters.
    @Test func huggingFaceToTesseraAndBackIsBitExact() throws {
        try expectRoundTripIsBitExact("gpt2", modelType: "gpt2", endOfText: 95)
    }

    /// A char model trained on prepared shards (one id past the vocabulary ends documents).
    @Test func aModelFileExportsWithItsVocabularyAndTheSameLogits() throws {
        let tokenizer = try CharTokenizer(serialized: "\n !',.?abcdefghijklmnopqrstuvwxyzé")
        try withTemporaryDirectory { folder in
            let model = try Self.writeModelFile(folder, model: "n_layer = 2\nn_head = 2\nn_embd = 16\nblock_size = 8\ndropout = 0.1",
                                                tokenizer: tokenizer, vocabSize: tokenizer.vocabSize + 1)
            let export = try HuggingFaceExport(source: folder)
            #expect(export.whole.source == folder + "/model.h5")
            try export.checkDestination(folder + "/hf", overwrite: false)
            try export.write(to: folder + "/hf")

            let checkpoint = try HFCheckpoint(folder: folder + "/hf")
            #expect(checkpoint.dims == model.dims)
            for (i, spec) in model.store.specs.enumerated() {
                let values = Array(UnsafeBufferPointer(start: model.store.values + model.store.offsets[i], count: spec.globalCount))
                #expect(try checkpoint.tensor(spec.name, shape: spec.globalShape) == values, "\(spec.name)")
            }
            let ids: [Int32] = [3, 0, 34, 7, 1, 12, 33, 5, 9, 2, 30, 31]
            #expect(try WholeModel(huggingFace: folder + "/hf").logits(tokens: ids, batch: 2)
                == WholeModel(modelFile: folder).logits(tokens: ids, batch: 2))

            let config = try Self.json(folder + "/hf/config.json")
            #expect(config["architectures"] as? [String] == ["GPT2LMHeadModel"] && config["model_type"] as? String == "gpt2")
            #expect(config["n_positions"] as? Int == 8 && config["vocab_size"] as? Int == 35 && config["n_inner"] is NSNull)
            #expect(config["bos_token_id"] as? Int == 34 && config["eos_token_id"] as? Int == 34)
            #expect(config["resid_pdrop"] as? Double == 0.1 && config["embd_pdrop"] as? Double == 0.1 && config["attn_pdrop"] as? Double == 0)
            let vocabulary = try Self.json(folder + "/hf/tessera_vocab.json")
            #expect(vocabulary["tokenizer"] as? String == "char" && vocabulary["end_of_text"] as? Int == 34)
            #expect(vocabulary["tokens"] as? [String] == tokenizer.symbols.map { String($0) })
            #expect(vocabulary["vocab_size"] as? Int == 35)
        }
    }

    /// The byte tokenizer's vocabulary is the bytes; a model without the end-of-text id has none.
    @Test func aByteModelHasNoEndOfTextWhenItsVocabularyLacksOne() throws {
        try withTemporaryDirectory { folder in
            _ = try Self.writeModelFile(folder, model: "n_layer = 1\nn_head = 1\nn_embd = 8\nblock_size = 4",
                                        tokenizer: ByteTokenizer(), vocabSize: 256)
            try HuggingFaceExport(source: folder + "/model.h5").write(to: folder + "/hf")
            let vocabulary = try Self.json(folder + "/hf/tessera_vocab.json")
            #expect(vocabulary["tokenizer"] as? String == "byte" && vocabulary["end_of_text"] is NSNull && vocabulary["tokens"] == nil)
            #expect(try Self.json(folder + "/hf/config.json")["eos_token_id"] is NSNull)
        }
    }

    @Test func aSentencePieceModelIsCopiedAsTokenizerModel() throws {
        try withTemporaryDirectory { folder in
            let text = String(repeating: "the quick brown fox jumps over the lazy dog\nand runs away\n", count: 40)
            try text.write(toFile: folder + "/text.txt", atomically: false, encoding: .utf8)
            try SentencePieceTraining.train(inputs: [folder + "/text.txt"], vocabSize: 40, modelType: .bpe, outputPrefix: folder + "/sp")
            let tokenizer = try SentencePieceTokenizer(modelPath: folder + "/sp.model")
            let (files, endOfText) = TokenizerFiles.files(for: tokenizer, vocabSize: tokenizer.vocabSize)
            #expect(files == [TokenizerFile(name: "tokenizer.model", bytes: Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/sp.model"))))])
            #expect(endOfText == Int(tokenizer.endOfText) && endOfText! < tokenizer.vocabSize)
        }
    }

    @Test func aMixtureOfExpertsModelHasNoHuggingFaceClass() throws {
        try withTemporaryDirectory { folder in
            _ = try Self.writeModelFile(folder, model: "n_layer = 1\nn_head = 1\nn_embd = 8\nblock_size = 4\nn_experts = 2\ntop_k = 1",
                                        tokenizer: ByteTokenizer(), vocabSize: 256)
            let error = failure { _ = try HuggingFaceExport(source: folder) }
            #expect(error == folder + "/model.h5: no Hugging Face class represents this model: a mixture-of-experts model "
                + "(model.n_experts = 2) has no Hugging Face GPT-2 class: GPT2LMHeadModel has one dense MLP per block; "
                + "a mixture-of-experts model (model.n_experts = 2) has no Hugging Face Llama class: LlamaForCausalLM "
                + "has one dense MLP per block; T5ForConditionalGeneration is an encoder-decoder; this model is a decoder")
        }
    }

    @Test func anEarlierExportIsReplacedOnlyWhenAskedTo() throws {
        try withTemporaryDirectory { folder in
            _ = try Self.writeModelFile(folder, model: "n_layer = 1\nn_head = 1\nn_embd = 8\nblock_size = 4",
                                        tokenizer: ByteTokenizer(), vocabSize: 257)
            let export = try HuggingFaceExport(source: folder)
            try export.write(to: folder + "/hf")
            #expect(failure { try export.checkDestination(folder + "/hf", overwrite: false) }
                == folder + "/hf/model.safetensors: exists; tessera export replaces an export's files only with --overwrite")
            try export.checkDestination(folder + "/hf", overwrite: true)
            try FileManager.default.removeItem(atPath: folder + "/hf/model.safetensors")
            #expect(failure { try export.checkDestination(folder + "/hf", overwrite: false) }?.hasPrefix(folder + "/hf/config.json: exists") == true)
            #expect(failure { try export.checkDestination(folder + "/model.h5", overwrite: true) } == folder + "/model.h5: is a file, not a folder")
        }
    }
}
