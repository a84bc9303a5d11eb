import Kernels
import Model
import Testing

/// T5 generation from the cache: the input encoded once, the decoder appended token by token or in
/// chunks, gives at every target position the logits of a full `GPT.forward` over the same tokens.
@Suite struct EncoderDecoderGeneratorTests {
    static let t5 = GPTDimensions(nLayer: 4, nHead: 2, nEmbd: 16, blockSize: 9, vocabSize: 23,
                                  parts: .t5(nHead: 2, ffnHidden: 24, buckets: 8, maxDistance: 12),
                                  encoder: EncoderShape(layers: 2, blockSize: 11))
    static let padding: Int32 = 22

    /// Logit rows (T, V) of a full forward over `input` and `decoderInputs` (T ids), padded as training pads.
    static func fullLogits(_ model: GPT, input: [Int32], decoderInputs: [Int32]) throws -> [[Float]] {
        let acts = model.makeActivations(batch: 1)
        let tokens = model.encoderDecoderTokens(input: input, decoderInputs: decoderInputs, padding: padding)
        try tokens.withUnsafeBufferPointer { _ = try model.forward(acts, tokens: $0.baseAddress!, targets: nil) }
        let logits = try model.fullLogits(acts), V = model.dims.vocabSize
        return decoderInputs.indices.map { t in (0..<V).map { logits.values[t * logits.ld + $0] } }
    }

    static func expectClose(_ a: UnsafePointer<Float>, _ b: [Float], _ what: String) {
        let scale = b.map(abs).max() ?? 1
        let worst = b.indices.map { abs(a[$0] - b[$0]) }.max() ?? 0
        #expect(worst <= 1e-5 * max(scale, 1), "\(what): differs by \(worst) (scale \(scale))")
    }

    @Test func everyTargetPositionMatchesAFullForward() throws {
        let dims = Self.t5, T = dims.blockSize
        let model = GPT(dims: dims, seed: 5)
        // Weights away from their initial scale, so that every part (bias tables, cross-attention) shapes the logits.
        for j in 0..<model.store.count { model.store.values[j] *= 3 }
        let generator = EncoderDecoderGenerator(model: model)
        // Inputs shorter than S (padding the full forward masks) and of exactly S.
        let inputs: [[Int32]] = [[3, 9, 14, 1, 7, Self.padding], (0..<dims.encoderBlockSize).map { Int32(($0 * 5 + 2) % 22) }]
        for (k, input) in inputs.enumerated() {
            let decoderInputs: [Int32] = [Self.padding] + (1..<T).map { Int32(($0 * 7 + k) % 22) }
            let reference = try Self.fullLogits(model, input: input, decoderInputs: decoderInputs)
            generator.encode(input)
            for t in 0..<T {
                let logits = [decoderInputs[t]].withUnsafeBufferPointer { generator.append($0) }
                Self.expectClose(logits, reference[t], "input \(k), one at a time, position \(t)")
            }
            #expect(generator.encodings == 2 * k + 1, "the encoder runs once per input, not per target token")
            // The same input again, the target in chunks of four and five.
            generator.encode(input)
            var position = 0
            for chunk in [4, 5] {
                let logits = decoderInputs[position..<(position + chunk)].withUnsafeBufferPointer { generator.append($0) }
                position += chunk
                Self.expectClose(logits, reference[position - 1], "input \(k), chunk ending at \(position - 1)")
            }
        }
    }
}
