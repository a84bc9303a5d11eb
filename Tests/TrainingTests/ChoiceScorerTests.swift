import Config
import Data
import Foundation
import Model
@testable import Training
import Testing

/// The multiple-choice scores of `tessera eval`: the log-likelihood of a choice against the
/// model's own logits and cross-entropy, against a model of known weights, and the truncation rule.
struct ChoiceScorerTests {
    static let bytes = ByteTokenizer()

    static func task(_ lines: [String]) throws -> ChoiceTask {
        try ChoiceTask(bytes: Array(lines.joined(separator: "\n").utf8), path: "task.jsonl")
    }

    @Test func theSummedLogLikelihoodIsTheLogSoftmaxOfTheLogitsAndMinusTheCrossEntropy() throws {
        let T = 12, dims = GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: T, vocabSize: 256)
        let model = GPT(dims: dims, seed: 7)
        let scorer = ChoiceScorer(model: model, tokenizer: Self.bytes)
        // 7 + 6 tokens: the forward pass reads 12, exactly one block.
        let context = Self.bytes.encode("Once up"), choice = Self.bytes.encode("on a t")
        let (value, truncated) = try scorer.logLikelihood(of: choice, after: context)
        #expect(truncated == 0)

        let sequence = context + choice
        let inputs = Array(sequence.dropLast()), targets = Array(sequence.dropFirst())
        let acts = model.makeActivations(batch: 1)
        try inputs.withUnsafeBufferPointer { _ = try model.forward(acts, tokens: $0.baseAddress!, targets: nil) }
        let logits = try model.fullLogits(acts)
        var direct = 0.0
        for p in (context.count - 1)..<T {
            let row = (0..<256).map { Double(logits.values[p * logits.ld + $0]) }
            direct += row[Int(targets[p])] - log(row.map { exp($0) }.reduce(0, +))
        }
        #expect(abs(value - direct) <= 1e-9 * abs(direct), "scorer \(value), direct \(direct)")

        try inputs.withUnsafeBufferPointer { i in
            try targets.withUnsafeBufferPointer { _ = try model.forward(acts, tokens: i.baseAddress!, targets: $0.baseAddress!) }
        }
        let losses = model.tokenLosses(acts)
        let crossEntropy = ((context.count - 1)..<T).map { Double(losses[$0]) }.reduce(0, +)
        #expect(abs(value + crossEntropy) <= 1e-5 * abs(value), "scorer \(value), −Σ cross-entropy \(-crossEntropy)")
        #expect(value < -1, "a random model gives six bytes of 256 well under 1 nat: \(value)")
    }

    /// With ln_f's weight 0 and its bias e₀, every position's logits are column 0 of wte: a
    /// unigram model whose log-probabilities the test knows.
    @Test func accAndAccNormDisagreeWhereALongLikelyChoiceLosesOnTheSumAndWinsPerByte() throws {
        let C = 8, V = 256
        let model = GPT(dims: GPTDimensions(nLayer: 1, nHead: 2, nEmbd: C, blockSize: 16, vocabSize: V), seed: 3)
        let store = model.store
        func values(_ name: String) -> UnsafeMutablePointer<Float> { store.values + store.offsets[store.index(of: name)] }
        values(GPTParameterName.finalNormWeight).update(repeating: 0, count: C)
        values(GPTParameterName.finalNormBias).update(repeating: 0, count: C)
        values(GPTParameterName.finalNormBias)[0] = 1
        var logit = [Double](repeating: 0, count: V)
        logit[Int(UInt8(ascii: "x"))] = 4
        logit[Int(UInt8(ascii: "y"))] = -1
        let wte = values(GPTParameterName.tokenEmbedding)
        for v in 0..<V { wte[v * C] = Float(logit[v]) }
        let logZ = log(logit.map { exp($0) }.reduce(0, +))
        func logP(_ c: Character) -> Double { logit[Int(c.asciiValue!)] - logZ }

        let scorer = ChoiceScorer(model: model, tokenizer: Self.bytes)
        let items = try scorer.encode(try Self.task([#"{"context": "ab", "choices": ["y", "xxxxxx", "zz"], "answer": 0}"#]))
        let score = try scorer.score(items[0])
        let expected = [logP("y"), 6 * logP("x"), 2 * logP("z")]
        for (actual, wanted) in zip(score.logLikelihoods, expected) {
            #expect(abs(actual - wanted) < 1e-5, "\(score.logLikelihoods) vs \(expected)")
        }
        #expect(score.tokenCounts == [1, 6, 2] && score.byteCounts == [1, 6, 2] && score.truncated == [0, 0, 0])
        // Sums −6.73, −10.40, −11.47: acc takes "y". Per byte −6.73, −1.73, −5.73: acc_norm takes "xxxxxx".
        #expect(score.predicted == 0 && score.predictedNorm == 1)
        let summary = ChoiceSummary([score])
        #expect(summary.correct == 1 && summary.correctNorm == 0)
        #expect(summary.accuracy == 1 && summary.accuracyNorm == 0)
    }

    @Test func accNormDividesByUTF8BytesAndTiesGoToTheFirstChoice() {
        // "é" as one token of two bytes: per byte −1.5 beats −2, per token it would not.
        let score = ChoiceScore(answer: 1, logLikelihoods: [-2, -3, -3], tokenCounts: [1, 1, 1], byteCounts: [1, 2, 2],
                                truncated: [0, 0, 0])
        #expect(score.predicted == 0 && score.predictedNorm == 1)
        let tie = ChoiceScore(answer: 0, logLikelihoods: [-4, -4], tokenCounts: [2, 2], byteCounts: [2, 2], truncated: [0, 0])
        #expect(tie.predicted == 0 && tie.predictedNorm == 0)
    }

    @Test func leftTruncationKeepsTheWholeChoiceAndTheEndOfTheContext() throws {
        let T = 8, model = GPT(dims: GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: T, vocabSize: 256), seed: 11)
        let scorer = ChoiceScorer(model: model, tokenizer: Self.bytes)
        let context = Self.bytes.encode("The quick brown fox jumps"), choice = Self.bytes.encode(" over")
        // 25 + 5 tokens, 29 inputs, a block of 8: 21 context tokens go, "umps" stays.
        let (value, truncated) = try scorer.logLikelihood(of: choice, after: context)
        #expect(truncated == 21)
        let kept = try scorer.logLikelihood(of: choice, after: Array(context.suffix(4)))
        #expect(kept.truncated == 0 && kept.value == value)
        let otherStart = try scorer.logLikelihood(of: choice, after: Self.bytes.encode("A lazy dog jumps"))
        #expect(otherStart.value == value, "tokens before the window must not count")
        let shorter = try scorer.logLikelihood(of: choice, after: Array(context.suffix(3)))
        #expect(abs(shorter.value - value) > 1e-6, "the fourth context token from the end is in the window")

        // A choice of exactly block_size tokens keeps one context token.
        let full = Self.bytes.encode(" over it.")
        #expect(full.count == 9)
        let whole = try scorer.logLikelihood(of: Array(full.prefix(T)), after: context)
        #expect(whole.truncated == context.count - 1)
        #expect(whole.value == (try scorer.logLikelihood(of: Array(full.prefix(T)), after: [context.last!])).value)

        let error = #expect(throws: DataError.self) {
            try scorer.encode(try Self.task([#"{"context": "ab", "choices": ["cd"], "answer": 0}"#,
                                            #"{"context": "ab", "choices": ["cd", " over it."], "answer": 0}"#]))
        }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("'task.jsonl' line 2: choice 1 is 9 tokens") && message.contains("block_size of 8"), "\(message)")
    }

    @Test func aScoreDoesNotDependOnTheForwardPassesBeforeIt() throws {
        let model = GPT(dims: GPTDimensions(nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 16, vocabSize: 256), seed: 5)
        let scorer = ChoiceScorer(model: model, tokenizer: Self.bytes)
        let short = try scorer.logLikelihood(of: Self.bytes.encode("b"), after: Self.bytes.encode("a"))
        _ = try scorer.logLikelihood(of: Self.bytes.encode("a longer choice"), after: Self.bytes.encode("context"))
        #expect(try scorer.logLikelihood(of: Self.bytes.encode("b"), after: Self.bytes.encode("a")).value == short.value)
    }

    @Test func sentencePieceMovesTheContextsTrailingWhitespaceIntoTheChoice() {
        #expect(ChoiceScorer.boundary(context: "Q: 2+2?\nA: ", kind: .sentencepiece) == ("Q: 2+2?\nA:", " "))
        #expect(ChoiceScorer.boundary(context: "Q:\t\n ", kind: .sentencepiece) == ("Q:", "\t\n "))
        #expect(ChoiceScorer.boundary(context: "  ", kind: .sentencepiece) == ("", "  "))
        for kind in [TokenizerKind.char, .byte] {
            #expect(ChoiceScorer.boundary(context: "Q: 2+2?\nA: ", kind: kind) == ("Q: 2+2?\nA: ", ""))
        }
    }

    @Test func sentencePieceEncodesTheContextWithoutItsTrailingSpaceAndEachChoiceWithIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-choice-spm-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/tinyshakespeare.txt")
        let input = folder.appendingPathComponent("input.txt")
        try Foundation.Data(contentsOf: corpus).prefix(100_000).write(to: input)
        try SentencePieceTraining.train(inputs: [input.path], vocabSize: 200, modelType: .unigram,
                                        outputPrefix: folder.appendingPathComponent("sp").path)
        let pieces = try SentencePieceTokenizer(modelPath: folder.appendingPathComponent("sp.model").path)
        let model = GPT(dims: GPTDimensions(nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 32, vocabSize: 200), seed: 5)
        let scorer = ChoiceScorer(model: model, tokenizer: pieces)
        let items = try scorer.encode(try Self.task([#"{"context": "ROMEO:\nWhat light through yonder ", "choices": ["window", "door"], "answer": 0}"#]))
        #expect(items[0].context == (try pieces.encode("ROMEO:\nWhat light through yonder")))
        #expect(items[0].choices == [try pieces.encode(" window"), try pieces.encode(" door")])
        #expect(items[0].choiceBytes == [6, 4], "acc_norm divides by the choice as written")
    }

    @Test func textTheTokenizerCannotEncodeAndAnEmptyContextAreRefusedNamingTheLine() throws {
        let model = GPT(dims: GPTDimensions(nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 16, vocabSize: 3), seed: 5)
        let scorer = ChoiceScorer(model: model, tokenizer: CharTokenizer(corpus: "abc"))
        let unknown = #expect(throws: DataError.self) {
            try scorer.encode(try Self.task([#"{"context": "ab", "choices": ["c", "cz"], "answer": 0}"#]))
        }
        #expect(unknown?.description.hasPrefix("'task.jsonl' line 1: choice 1: character 'z'") == true, "\(String(describing: unknown))")
        let empty = #expect(throws: DataError.self) {
            try scorer.encode(try Self.task(["", #"{"context": "", "choices": ["c"], "answer": 0}"#]))
        }
        #expect(empty?.description.hasPrefix(#"'task.jsonl' line 2: "context" encodes to no tokens"#) == true,
                "\(String(describing: empty))")
    }
}
