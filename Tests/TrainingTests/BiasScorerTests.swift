import Data
import Foundation
import Model
@testable import Training
import Testing

/// `tessera eval bias`: a sentence's log-likelihood as the sum of its tokens' log-probabilities
/// (after the start token, in windows of the block), the pair preference lm-eval counts, and the
/// tallies with their Wilson intervals.
struct BiasScorerTests {
    static let bytes = ByteTokenizer()

    @Test func wilsonIntervalsMatchTheHandComputedValues() {
        // By hand, z = 1.96: 0/10 → centre = (0 + z²/20) / (1 + z²/10) = 0.19208 / 1.38415 = 0.13877,
        // half-width = z / 1.38415 · √(z²/400) = 0.13877, so [0, 0.27753]; 5/10 → 0.5 ± 0.26341;
        // 8/10 → centre 0.71674, half-width 0.22658.
        let cases: [(k: Int, n: Int, lower: Double, upper: Double)] = [
            (0, 10, 0.0, 0.27753), (5, 10, 0.23659, 0.76341), (8, 10, 0.49016, 0.94332), (10, 10, 0.72247, 1.0),
        ]
        for c in cases {
            let (lower, upper) = BiasTally.wilson(successes: c.k, trials: c.n)
            #expect(abs(lower - c.lower) < 5e-6 && abs(upper - c.upper) < 5e-6, "\(c.k)/\(c.n): [\(lower), \(upper)]")
        }
        // Symmetric about one half, inside [0, 1], and narrower with more pairs.
        for n in [1, 7, 40, 1508] {
            for k in 0...n where k % max(1, n / 5) == 0 {
                let (lower, upper) = BiasTally.wilson(successes: k, trials: n), mirror = BiasTally.wilson(successes: n - k, trials: n)
                #expect(0 <= lower && lower <= Double(k) / Double(n) && Double(k) / Double(n) <= upper && upper <= 1)
                #expect(abs(lower - (1 - mirror.upper)) < 1e-12 && abs(upper - (1 - mirror.lower)) < 1e-12)
            }
        }
        let small = BiasTally(n: 10, stereotyped: 5).ci95, large = BiasTally(n: 1000, stereotyped: 500).ci95
        #expect(small.upper - small.lower > large.upper - large.lower)
        #expect(BiasTally(n: 10, stereotyped: 8).score == 80)
        #expect(abs(BiasTally(n: 10, stereotyped: 8).ci95.lower - 49.016) < 5e-4)
    }

    @Test func aPairCountsWhenSentMoreIsStrictlyMoreLikelyWhateverItsDirection() {
        let scores = [
            BiasScore(line: 2, biasType: "gender", logLikelihoodMore: -10, logLikelihoodLess: -12),
            BiasScore(line: 3, biasType: "age", logLikelihoodMore: -12, logLikelihoodLess: -10),
            BiasScore(line: 4, biasType: "gender", logLikelihoodMore: -11, logLikelihoodLess: -11),
            BiasScore(line: 5, biasType: "age", logLikelihoodMore: -3, logLikelihoodLess: -4),
            BiasScore(line: 6, biasType: "gender", logLikelihoodMore: -1, logLikelihoodLess: -9),
        ]
        #expect(scores.map(\.prefersMore) == [true, false, false, true, true], "a tie counts as not preferring sent_more")
        let summary = BiasSummary(scores)
        #expect(summary.overall == BiasTally(n: 5, stereotyped: 3) && summary.overall.score == 60)
        #expect(summary.byType.map(\.type) == ["age", "gender"])
        #expect(summary.byType.map(\.tally) == [BiasTally(n: 2, stereotyped: 1), BiasTally(n: 3, stereotyped: 2)])
    }

    @Test func theStartTokenIsEndOfTextOnlyWhenTheModelEmbedsIt() {
        let plain = GPT(dims: GPTDimensions(nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8, vocabSize: 256), seed: 1)
        let shards = GPT(dims: GPTDimensions(nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8, vocabSize: 257), seed: 1)
        #expect(BiasScorer(model: plain, tokenizer: Self.bytes).start == nil)
        #expect(BiasScorer(model: shards, tokenizer: Self.bytes).start == 256)
    }

    @Test func aSentenceLongerThanTheBlockIsTheSumOfItsTokensLogProbabilitiesInWindows() throws {
        let blockSize = 6
        for vocabSize in [256, 257] {
            let model = GPT(dims: GPTDimensions(nLayer: 2, nHead: 2, nEmbd: 16, blockSize: blockSize, vocabSize: vocabSize), seed: 3)
            let scorer = BiasScorer(model: model, tokenizer: Self.bytes), choice = ChoiceScorer(model: model, tokenizer: Self.bytes)
            let sentence = Self.bytes.encode("The cat sat on the mat.")
            let sequence = (scorer.start.map { [$0] } ?? []) + sentence
            // Token by token: each read after as many of the tokens before it as its window holds.
            var expected = 0.0
            for from in stride(from: 1, to: sequence.count, by: blockSize) {
                let to = min(from + blockSize, sequence.count)
                for j in from..<to {
                    let window = Array(sequence[max(0, to - 1 - blockSize)..<j])
                    expected += try choice.logLikelihood(of: [sequence[j]], after: window).value
                }
            }
            let value = try scorer.logLikelihood(sentence)
            #expect(abs(value - expected) <= 1e-6 * abs(expected), "vocab \(vocabSize): \(value) vs \(expected)")
            // A sentence that fits the block: one pass, the same as scoring it as a choice.
            let short = Self.bytes.encode("Hi you")
            let fits = try choice.logLikelihood(of: Array(((scorer.start.map { [$0] } ?? []) + short).dropFirst()),
                                                after: scorer.start.map { [$0] } ?? [short[0]]).value
            #expect(abs(try scorer.logLikelihood(short) - fits) <= 1e-12 * abs(fits))
        }
    }

    @Test func encodingRefusesTextTheTokenizerCannotScoreNamingTheLine() throws {
        let model = GPT(dims: GPTDimensions(nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8, vocabSize: 256), seed: 1)
        let scorer = BiasScorer(model: model, tokenizer: Self.bytes)
        let pairs = try BiasPairs(bytes: Array("sent_more,sent_less,stereo_antistereo,bias_type\nab,cd,stereo,x\nA,bc,stereo,x\n".utf8),
                                  path: "p.csv")
        #expect(throws: DataError.self) { try scorer.encode(pairs) }
        do {
            _ = try scorer.encode(pairs)
        } catch {
            #expect(error.description.contains("'p.csv' line 3: sent_more encodes to 1 token"), "\(error)")
        }
    }
}
