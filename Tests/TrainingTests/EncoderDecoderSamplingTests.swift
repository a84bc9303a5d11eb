import Data
import Foundation
import Model
@testable import Training
import Testing

/// A t5 model's targets and choice scores: the generator's cache against full forwards, and the
/// inputs each refuses.
struct EncoderDecoderSamplingTests {
    static let bytes = ByteTokenizer()
    /// Bytes and the end-of-text id (256), an input of 12 ids and a target of 10.
    static let dims = GPTDimensions(nLayer: 4, nHead: 2, nEmbd: 16, blockSize: 10, vocabSize: 257,
                                    parts: .t5(nHead: 2, ffnHidden: 24, buckets: 8, maxDistance: 12),
                                    encoder: EncoderShape(layers: 2, blockSize: 12))

    static func model() -> GPT {
        let model = GPT(dims: dims, seed: 13)
        for j in 0..<model.store.count { model.store.values[j] *= 4 }
        return model
    }

    @Test func cachedTargetsEqualRecomputedOnesAndEndAtTheBlock() throws {
        let model = Self.model()
        let cached = TextSampler(model: model, tokenizer: Self.bytes)
        let recomputed = TextSampler(model: model, tokenizer: Self.bytes, incremental: false)
        var lengths: [Int] = []
        for settings in [SamplingSettings(temperature: 1, topK: 1, seed: 1), SamplingSettings(temperature: 0.9, topK: 0, seed: 5)] {
            for prompt in ["", "abc", "eleven byte"] {
                let a = try cached.generate(prompt: prompt, tokens: 100, settings: settings)
                let b = try recomputed.generate(prompt: prompt, tokens: 100, settings: settings)
                #expect(a == b, "prompt '\(prompt)', top-k \(settings.topK)")
                #expect(cached.generatedTokens <= Self.dims.blockSize && cached.generatedTokens == recomputed.generatedTokens)
                lengths.append(cached.generatedTokens)
            }
        }
        #expect(lengths.contains { $0 > 2 }, "targets of a few tokens at least, or equality would prove little: \(lengths)")
        _ = try cached.generate(prompt: "abc", tokens: 3, settings: SamplingSettings(temperature: 1, topK: 0, seed: 2))
        #expect(cached.generatedTokens <= 3)
    }

    @Test func aPromptLongerThanTheEncoderBlockIsRefused() throws {
        let sampler = TextSampler(model: Self.model(), tokenizer: Self.bytes)
        // 11 bytes and the end of text fill S = 12; one more byte does not fit.
        _ = try sampler.generate(prompt: "eleven byte", tokens: 2, settings: SamplingSettings(temperature: 1, topK: 1, seed: 1))
        #expect(throws: RunError.self) {
            try sampler.generate(prompt: "twelve bytes", tokens: 2, settings: SamplingSettings(temperature: 1, topK: 1, seed: 1))
        }
    }

    /// The scorer's one forward with labels gives Σ log softmax of the generator's cached logits
    /// at the choice's positions.
    @Test func aChoiceScoresAsItsTargetTokensLogLikelihood() throws {
        let model = Self.model()
        let scorer = ChoiceScorer(model: model, tokenizer: Self.bytes)
        let endOfText = Self.bytes.endOfText
        let context = Self.bytes.encode("question"), choice = Self.bytes.encode("answer")
        let value = try scorer.logLikelihood(ofTarget: choice, input: context)

        let generator = EncoderDecoderGenerator(model: model)
        generator.encode(context + [endOfText])
        var direct = 0.0
        for (t, token) in ([endOfText] + choice.dropLast()).enumerated() {
            let logits = [token].withUnsafeBufferPointer { generator.append($0) }
            direct += ChoiceScorer.logSoftmax(logits, V: Self.dims.vocabSize, at: Int(choice[t]))
        }
        #expect(abs(value - direct) <= 1e-4 * abs(direct), "scorer \(value), cached logits \(direct)")
        #expect(value < -1)

        let task = try ChoiceTask(bytes: Array(#"{"context": "question", "choices": ["answer", "no"], "answer": 0}"#.utf8),
                                  path: "task.jsonl")
        let score = try scorer.score(try scorer.encode(task)[0])
        #expect(abs(score.logLikelihoods[0] - value) <= 1e-9 * abs(value) && score.truncated == [0, 0])
        let long = try ChoiceTask(bytes: Array(#"{"context": "a question too long", "choices": ["x"], "answer": 0}"#.utf8),
                                  path: "long.jsonl")
        #expect(throws: DataError.self) { try scorer.encode(long) }
    }
}
