import Kernels
import Model
import Testing

/// Decoding with the key/value cache gives, at every position, the logits of a full forward over the
/// same tokens: appended one at a time, in chunks, and after a reset.
@Suite struct IncrementalDecoderTests {
    static let gpt2 = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 12, vocabSize: 23)
    static let llama = GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 16, blockSize: 12, vocabSize: 23, parts: DecoderParts(
        norm: .rmsNorm, normEps: 1e-5, position: .rotary(theta: 10_000), kvHeads: 2, mlp: .swiglu, ffnHidden: 40,
        bias: false, tiedEmbeddings: false))
    static let multiQuery = GPTDimensions(nLayer: 1, nHead: 4, nEmbd: 16, blockSize: 12, vocabSize: 23, parts: DecoderParts(
        norm: .layerNorm, normEps: 1e-5, position: .learned, kvHeads: 1, mlp: .gelu, ffnHidden: 32,
        bias: true, tiedEmbeddings: true))

    /// Logit rows (T, V) of a full forward over `tokens`.
    static func fullLogits(_ model: GPT, _ tokens: [Int32]) throws -> [[Float]] {
        let acts = model.makeActivations(batch: 1)
        try tokens.withUnsafeBufferPointer { _ = try model.forward(acts, tokens: $0.baseAddress!, targets: nil, T: tokens.count) }
        let logits = try model.fullLogits(acts), V = model.dims.vocabSize
        return (0..<tokens.count).map { t in (0..<V).map { logits.values[t * logits.ld + $0] } }
    }

    static func expectClose(_ a: UnsafePointer<Float>, _ b: [Float], _ what: String) {
        let scale = b.map(abs).max() ?? 1
        let worst = b.indices.map { abs(a[$0] - b[$0]) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "\(what): differs by \(worst) (scale \(scale))")
    }

    @Test(arguments: [gpt2, llama, multiQuery])
    func everyPositionMatchesAFullForward(dims: GPTDimensions) throws {
        let model = GPT(dims: dims, seed: 3)
        // Weights well away from their initial scale, so that every part shapes the logits.
        for j in 0..<model.store.count { model.store.values[j] *= 8 }
        let tokens: [Int32] = (0..<dims.blockSize).map { Int32(($0 * 7 + 3) % dims.vocabSize) }
        let reference = try Self.fullLogits(model, tokens)
        let decoder = IncrementalDecoder(model: model)
        for t in tokens.indices {
            let logits = [tokens[t]].withUnsafeBufferPointer { decoder.append($0) }
            Self.expectClose(logits, reference[t], "one at a time, position \(t)")
        }
        #expect(decoder.length == dims.blockSize)
        // A prompt of five in one append, then chunks of three and four.
        decoder.reset()
        var position = 0
        for chunk in [5, 3, 4] {
            let logits = tokens[position..<(position + chunk)].withUnsafeBufferPointer { decoder.append($0) }
            position += chunk
            Self.expectClose(logits, reference[position - 1], "chunk ending at \(position - 1)")
        }
    }
}
