import Data
import Foundation
import Interop
import Model
import SafeTensors
import Testing
import Training

/// A T5 v1.1 saved by transformers read into Tessera's t5 parts gives transformers' logits and
/// exports back bit for bit; a Tessera t5 exports as T5ForConditionalGeneration and reads back with
/// the same logits; a T5 Tessera's model does not represent (original T5's rescaled output, relu
/// MLP, an attention wider than d_model) is refused by key.
@Suite struct T5ImportTests {
    @Test func logitsEqualTransformersWithin1e4Relative() throws {
        let file = try SafeTensorsFile(path: fixture("t5") + "/expected.safetensors")
        let whole = try WholeModel(huggingFace: fixture("t5"))
        let d = whole.model.dims
        #expect(d.parts == DecoderParts.t5(nHead: 4, ffnHidden: 64, buckets: 8, maxDistance: 16))
        #expect(d.encoderLayers == 2 && d.nLayer == 4 && d.nEmbd == 32 && d.vocabSize == 96)
        let logits = try whole.seq2seqLogits(inputs: try file.integers("input_ids").map { Int32($0) },
                                             decoderInputs: try file.integers("decoder_input_ids").map { Int32($0) }, batch: 2)
        let expected = try file.floats("logits")
        let error = relativeError(logits, expected)
        #expect(error <= 1e-4, "t5: max |a − b| / max |b| = \(error)")
        let absolute = zip(logits, expected).map { abs($0 - $1) }.max()!
        print("t5 fixture: max abs difference of Tessera's logits against transformers' \(absolute), relative \(error)")
    }

    @Test func huggingFaceToTesseraAndBackIsBitExact() throws {
        try expectRoundTripIsBitExact("t5", modelType: "t5", endOfText: 1)
    }

    /// A Tessera t5 (model.h5) → T5ForConditionalGeneration folder: T5 v1.1's config keys, the
    /// end-of-text id as decoder start, pad and eos; read back, the same parameters and logits.
    @Test func aTesseraT5ExportsAsT5V11AndReadsBackWithTheSameLogits() throws {
        let tokenizer = try CharTokenizer(serialized: "\n !',.?abcdefghijklmnopqrstuvwxyz")
        try withTemporaryDirectory { folder in
            let model = try ExportTests.writeModelFile(folder, model: """
                family = "t5"
                n_encoder_layer = 2
                n_decoder_layer = 3
                n_head = 2
                n_embd = 16
                ffn_hidden = 24
                encoder_block_size = 10
                block_size = 6
                relative_buckets = 8
                relative_max_distance = 20
                [train]
                objective = "span_corruption"
                """, tokenizer: tokenizer, vocabSize: tokenizer.vocabSize + 1)
            let export = try HuggingFaceExport(source: folder)
            #expect(export.family.modelType == "t5")
            try export.write(to: folder + "/hf")
            let checkpoint = try HFCheckpoint(folder: folder + "/hf")
            try checkpoint.check(against: model.dims)
            for (i, spec) in model.store.specs.enumerated() {
                let values = Array(UnsafeBufferPointer(start: model.store.values + model.store.offsets[i], count: spec.globalCount))
                #expect(try checkpoint.tensor(spec.name, shape: spec.globalShape) == values, "\(spec.name)")
            }
            let inputs: [Int32] = [3, 0, 33, 7, 1, 12, 33, 5, 9, 2, 30, 31, 4, 8, 16, 20, 22, 6, 19, 11]
            let decoderInputs: [Int32] = [33, 5, 9, 2, 30, 1, 33, 17, 3, 3, 28, 12]
            let tessera = try WholeModel(modelFile: folder).seq2seqLogits(inputs: inputs, decoderInputs: decoderInputs, batch: 2)
            let imported = try WholeModel(huggingFace: folder + "/hf").seq2seqLogits(inputs: inputs, decoderInputs: decoderInputs, batch: 2)
            #expect(imported == tessera, "max |a − b| / max |b| = \(relativeError(imported, tessera))")

            let config = try ExportTests.json(folder + "/hf/config.json")
            #expect(config["architectures"] as? [String] == ["T5ForConditionalGeneration"] && config["model_type"] as? String == "t5")
            #expect(config["d_model"] as? Int == 16 && config["d_kv"] as? Int == 8 && config["d_ff"] as? Int == 24)
            #expect(config["num_heads"] as? Int == 2 && config["num_layers"] as? Int == 2 && config["num_decoder_layers"] as? Int == 3)
            #expect(config["relative_attention_num_buckets"] as? Int == 8 && config["relative_attention_max_distance"] as? Int == 20)
            #expect(config["feed_forward_proj"] as? String == "gated-gelu" && config["layer_norm_epsilon"] as? Double == Double("\(model.dims.parts.normEps)"))
            #expect(config["tie_word_embeddings"] as? Bool == false && config["scale_decoder_outputs"] as? Bool == false)
            #expect(config["is_encoder_decoder"] as? Bool == true && config["vocab_size"] as? Int == 34)
            for key in ["decoder_start_token_id", "eos_token_id", "pad_token_id"] { #expect(config[key] as? Int == 33, "\(key)") }
        }
    }

    /// Settings of a T5 that Tessera's t5 does not represent are refused by key: original T5's
    /// rescaled output (transformers 5's `scale_decoder_outputs`, or a tied config without it) and
    /// relu MLP (T5Config's default), heads narrower than d_model / num_heads.
    @Test(arguments: [
        ("feed_forward_proj", #""relu""#, nil), ("feed_forward_proj", nil, "feed_forward_proj"),
        ("scale_decoder_outputs", "true", nil), ("tie_word_embeddings", nil, "scale_decoder_outputs"),
        ("d_kv", "4", nil), ("is_encoder_decoder", "false", nil),
    ] as [(String, String?, String?)])
    func aSettingTesseraCannotRepresentIsRefusedByKey(_ key: String, _ value: String?, _ removed: String?) throws {
        let error = try withTemporaryDirectory { folder in
            try writeFolder(folder, config: try fixtureConfig("t5", set: value.map { [key: $0] } ?? [:], remove: Set([removed].compactMap { $0 })),
                            tensors: try tensors(of: fixture("t5") + "/model.safetensors"))
            return failure { _ = try HFCheckpoint(folder: folder) }.map { $0.replacingOccurrences(of: folder + "/", with: "") }
        }
        #expect(error?.hasPrefix("config.json: \(key) = ") == true, "\(error ?? "nil")")
    }

    /// A t5 run's model that is not the folder's (another encoder depth) is refused naming both keys.
    @Test func aRunOfOtherSizesIsRefused() throws {
        let checkpoint = try HFCheckpoint(folder: fixture("t5"))
        let d = checkpoint.dims
        let run = GPTDimensions(nLayer: d.nLayer, nHead: d.nHead, nEmbd: d.nEmbd, blockSize: 7, vocabSize: d.vocabSize,
                                parts: d.parts, encoder: EncoderShape(layers: 1, blockSize: 12))
        #expect(failure { try checkpoint.check(against: run) } == fixture("t5") + "/config.json: num_layers = 2, but model.n_encoder_layer = 1")
        let same = GPTDimensions(nLayer: d.nLayer, nHead: d.nHead, nEmbd: d.nEmbd, blockSize: 7, vocabSize: d.vocabSize,
                                 parts: d.parts, encoder: EncoderShape(layers: 2, blockSize: 12))
        #expect(failure { try checkpoint.check(against: same) } == nil)
    }
}
