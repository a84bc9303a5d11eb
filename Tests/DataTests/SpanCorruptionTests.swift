import Data
import Random
import Testing

/// T5's span corruption: counts, lengths and masks exactly as T5 defines them, drawn per
/// (seed, step, sequence), and corrupted pairs that give back the original tokens.
struct SpanCorruptionTests {
    /// A configuration over byte tokens: ids 0..<256, end of text 256, sentinels from 257.
    static func corruption(_ encoderLength: Int = 512, decoder: Int = 512, density: Double = 0.15, mean: Double = 3)
        throws -> SpanCorruption {
        try SpanCorruption(encoderLength: encoderLength, decoderLength: decoder, noiseDensity: density, meanSpan: mean,
                           tokenizer: ByteTokenizer())
    }

    /// T5's `compute_input_and_target_lengths`, transcribed: it lacks the mask's clamps, so it is
    /// nil where a length it visits has no noise token or rounds to no span.
    static func t5Lengths(_ inputsLength: Int, _ density: Double, _ mean: Double) -> (Int, Int)? {
        var clamped = false
        func lengths(_ n: Int) -> (Int, Int) {
            let noise = Int((Double(n) * density).rounded(.toNearestOrEven))
            let spans = Int((Double(noise) / mean).rounded(.toNearestOrEven))
            clamped = clamped || noise < 1 || spans < 1
            return (n - noise + spans + 1, noise + spans + 1)
        }
        var n = inputsLength - 1
        while lengths(n + 1).0 <= inputsLength { n += 1 }
        let target = lengths(n).1
        return clamped ? nil : (n, target)
    }

    /// Maximal runs of true.
    static func runs(_ mask: [Bool]) -> [Int] {
        var runs: [Int] = []
        for (i, noisy) in mask.enumerated() where noisy {
            if i > 0, mask[i - 1] { runs[runs.count - 1] += 1 } else { runs.append(1) }
        }
        return runs
    }

    @Test func t5sDefaultGivesRawLength568AndTargets114() throws {
        let c = try Self.corruption()
        #expect(c.rawLength == 568 && c.targetLength == 114 && c.noiseTokens == 85 && c.spans == 28)
        #expect(c.firstSentinel == 257 && c.vocabSize == 357 && c.sentinel(0) == 257 && c.sentinel(99) == 356)
    }

    @Test(arguments: [0.15, 0.3, 0.5, 0.05], [1.0, 2.0, 3.0, 7.5])
    func lengthsAgreeWithT5AndInputsAreExactlyTheEncoderLength(_ density: Double, _ mean: Double) {
        for encoderLength in [16, 17, 64, 100, 128, 255, 512, 1000, 1024] {
            let (raw, target) = SpanCorruption.lengths(encoderLength: encoderLength, noiseDensity: density, meanSpan: mean)
            if let reference = Self.t5Lengths(encoderLength, density, mean) {
                #expect(raw == reference.0 && target == reference.1, "S \(encoderLength), \(density), \(mean)")
            }
            let (noise, spans) = SpanCorruption.counts(length: raw, noiseDensity: density, meanSpan: mean)
            #expect(raw - noise + spans + 1 == encoderLength && noise + spans + 1 == target)
        }
    }

    @Test func countsRoundHalfToEvenAndClampAsT5sMask() {
        #expect(SpanCorruption.counts(length: 10, noiseDensity: 0.25, meanSpan: 4) == (2, 1))  // 2.5 → 2; 0.5 → 0 → 1
        #expect(SpanCorruption.counts(length: 14, noiseDensity: 0.25, meanSpan: 1) == (4, 4))  // 3.5 → 4
        #expect(SpanCorruption.counts(length: 20, noiseDensity: 0.25, meanSpan: 2) == (5, 2))  // 2.5 → 2
        #expect(SpanCorruption.counts(length: 2, noiseDensity: 0.01, meanSpan: 3) == (1, 1))   // at least one noise token
        #expect(SpanCorruption.counts(length: 3, noiseDensity: 0.99, meanSpan: 1) == (2, 2))   // at most length − 1
    }

    @Test(arguments: [(512, 0.15, 3.0), (64, 0.15, 3.0), (20, 0.5, 2.0), (33, 0.3, 2.0), (40, 0.4, 1.0), (128, 0.05, 10.0)])
    func masksHaveExactlyTheNoiseTokensAndSpansStartingKeptAndEndingNoisy(_ s: Int, _ density: Double, _ mean: Double) throws {
        let c = try Self.corruption(s, decoder: 1024, density: density, mean: mean)
        for step in 0..<40 {
            let mask = c.noiseMask(rng: SpanCorruption.exampleRNG(seed: 1337, label: "train-span-mask", draw: step, sequence: 3))
            #expect(mask.count == c.rawLength && mask.count(where: { $0 }) == c.noiseTokens)
            #expect(Self.runs(mask).count == c.spans && !mask.first! && mask.last!)
        }
    }

    @Test func theSameSeedStepAndSequenceGiveTheSameMaskAndOthersDiffer() throws {
        let c = try Self.corruption()
        func mask(_ seed: Int, _ step: Int, _ sequence: Int, _ label: String = "train-span-mask") -> [Bool] {
            c.noiseMask(rng: SpanCorruption.exampleRNG(seed: seed, label: label, draw: step, sequence: sequence))
        }
        #expect(mask(7, 3, 5) == mask(7, 3, 5))
        let others = [mask(8, 3, 5), mask(7, 4, 5), mask(7, 3, 6), mask(7, 3, 5, "val-span-mask")]
        #expect(others.allSatisfy { $0 != mask(7, 3, 5) } && Set(others.map { $0.description }).count == 4)
    }

    /// Noise runs of 4 tokens in 2 spans: (1, 3), (2, 2) and (3, 1) each a third of the time, as
    /// T5's random segmentation makes every cut equally likely.
    @Test func spanLengthsFollowAUniformRandomSegmentation() {
        var firstRun = [Int](repeating: 0, count: 4)
        for sequence in 0..<6000 {
            let rng = SpanCorruption.exampleRNG(seed: 1, label: "t", draw: 0, sequence: sequence)
            let mask = SpanCorruption.noiseMask(length: 10, noiseDensity: 0.4, meanSpan: 2, rng: rng)
            let runs = Self.runs(mask)
            #expect(runs.count == 2 && runs.reduce(0, +) == 4)
            firstRun[runs[0]] += 1
        }
        for length in 1...3 { #expect(abs(firstRun[length] - 2000) < 150, "\(firstRun)") }
    }

    @Test func theDocumentedExample() throws {
        let c = try Self.corruption(16)
        let tokens: [Int32] = [10, 11, 12, 13, 14, 15, 16, 17, 18]  // The quick brown fox jumps over the lazy dog
        let mask = [false, false, true, true, false, false, false, false, true]
        let (input, target) = c.corrupt(tokens, mask: mask)
        #expect(input == [10, 11, 257, 14, 15, 16, 17, 258, 256])
        #expect(target == [257, 12, 13, 258, 18, 256])
        #expect(c.reconstruct(input: input, target: target) == tokens)
        #expect(c.describe(target, tokenizer: ByteTokenizer()) == "<extra_id_0>\u{0C}\r<extra_id_1>\u{12}\n")
    }

    /// Every token goes to exactly one side, sentinels count up from the first in both, lengths
    /// are as computed, and filling the input's sentinels with the target's spans restores the tokens.
    @Test(arguments: [(512, 0.15, 3.0), (100, 0.3, 2.0), (40, 0.4, 1.0), (20, 0.5, 2.0)])
    func corruptedPairsHaveTheirLengthsSentinelsInOrderAndReconstruct(_ s: Int, _ density: Double, _ mean: Double) throws {
        let c = try Self.corruption(s, decoder: 1024, density: density, mean: mean)
        for sequence in 0..<25 {
            let tokens = (0..<c.rawLength).map { Int32(($0 * 37 + sequence) % 256) }
            let rng = SpanCorruption.exampleRNG(seed: 42, label: "train-span-mask", draw: 9, sequence: sequence)
            let mask = c.noiseMask(rng: rng)
            let (input, target) = c.corrupt(tokens, mask: mask)
            #expect(input.count == c.encoderLength && target.count == c.targetLength)
            #expect(input.last == 256 && target.last == 256)
            let sentinels = (0..<Int32(c.spans)).map { c.firstSentinel + $0 }
            #expect(input.filter { $0 >= c.firstSentinel } == sentinels && target.filter { $0 >= c.firstSentinel } == sentinels)
            #expect(target.first == c.firstSentinel)
            // No overlap: the input keeps exactly the kept tokens, the target exactly the noise ones, in order.
            #expect(input.filter { $0 < 256 } == zip(tokens, mask).filter { !$0.1 }.map(\.0))
            #expect(target.filter { $0 < 256 } == zip(tokens, mask).filter { $0.1 }.map(\.0))
            #expect(c.reconstruct(input: input, target: target) == tokens)
        }
    }

    struct BadSetting: CustomTestStringConvertible, Sendable {
        let s: Int, t: Int, density: Double, mean: Double, mentions: String
        var testDescription: String { mentions }
    }

    @Test(arguments: [
        BadSetting(s: 512, t: 64, density: 0.15, mean: 3, mentions: "gives targets of 114 tokens (85 noise tokens in 28 spans, a sentinel each, and end of text), more than model.block_size = 64; raise model.block_size to 114"),
        BadSetting(s: 512, t: 512, density: 0, mean: 3, mentions: "train.noise_density must be in (0, 1), got 0.0"),
        BadSetting(s: 512, t: 512, density: 1, mean: 3, mentions: "train.noise_density must be in (0, 1), got 1.0"),
        BadSetting(s: 512, t: 512, density: .nan, mean: 3, mentions: "train.noise_density must be in (0, 1)"),
        BadSetting(s: 512, t: 512, density: 0.15, mean: 0.5, mentions: "train.mean_span must be a number ≥ 1, got 0.5"),
        BadSetting(s: 512, t: 512, density: 0.15, mean: .infinity, mentions: "train.mean_span must be a number ≥ 1"),
        BadSetting(s: 2, t: 512, density: 0.15, mean: 3, mentions: "model.encoder_block_size must be at least 3"),
        BadSetting(s: 2048, t: 2048, density: 0.15, mean: 3, mentions: "gives 114 noise spans, more than the 100 sentinel ids"),
        BadSetting(s: 64, t: 512, density: 0.9, mean: 1, mentions: "noise spans but only"),
    ])
    func aSettingThatCannotWorkIsOneErrorNamingTheKeys(_ bad: BadSetting) {
        let error = #expect(throws: DataError.self) {
            try Self.corruption(bad.s, decoder: bad.t, density: bad.density, mean: bad.mean)
        }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("span corruption: ") && message.contains(bad.mentions), "\(message)")
    }
}
