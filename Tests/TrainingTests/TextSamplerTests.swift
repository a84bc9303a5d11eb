import Data
import Model
@testable import Training
import Testing

/// Sampling through the key/value cache picks what recomputing the window picks.
struct TextSamplerTests {
    @Test(arguments: [
        GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 32, vocabSize: 256),
        GPTDimensions(nLayer: 2, nHead: 4, nEmbd: 16, blockSize: 32, vocabSize: 256, parts: DecoderParts(
            norm: .rmsNorm, normEps: 1e-5, position: .rotary(theta: 10_000), kvHeads: 2, mlp: .swiglu, ffnHidden: 40,
            bias: false, tiedEmbeddings: false)),
    ])
    func greedyAndSampledTextEqualRecomputationWithinTheBlock(dims: GPTDimensions) throws {
        let model = GPT(dims: dims, seed: 11)
        for j in 0..<model.store.count { model.store.values[j] *= 20 }
        let incremental = TextSampler(model: model, tokenizer: ByteTokenizer())
        let recomputed = TextSampler(model: model, tokenizer: ByteTokenizer(), incremental: false)
        for settings in [SamplingSettings(temperature: 1, topK: 1, seed: 1), SamplingSettings(temperature: 0.8, topK: 0, seed: 5)] {
            // A prompt of 7 and 25 new tokens fill the block of 32 exactly.
            var a: [Int32] = Array("To be, o".utf8.prefix(7)).map { Int32($0) }, b = a
            try incremental.generate(after: &a, tokens: 25, settings: settings)
            try recomputed.generate(after: &b, tokens: 25, settings: settings)
            #expect(a == b, "top-k \(settings.topK)")
            #expect(Set(a.suffix(25)).count > 1, "the generation varies, or equality would prove little")
        }
        // Past the block the cache restarts from half a block: the generation goes on.
        var long: [Int32] = [65]
        try incremental.generate(after: &long, tokens: 100, settings: SamplingSettings(temperature: 1, topK: 1, seed: 1))
        #expect(long.count == 101)
    }
}

/// The top-k threshold is the k-th largest value, ties included.
@Test func theKthLargestIsTheSortedValue() {
    var state: UInt64 = 9
    for count in [1, 2, 7, 100] {
        let values = (0..<count).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return Float(state >> 58)  // few distinct values: ties
        }
        for k in 1...count {
            #expect(TextSampler.largest(k, of: values) == values.sorted(by: >)[k - 1], "k \(k) of \(values)")
        }
    }
}
