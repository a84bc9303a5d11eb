import Random

/// T5's pretraining objective, span corruption, as pure functions (Raffel et al. 2020, §3.1.4;
/// definitions after `random_spans_noise_mask` and `compute_input_and_target_lengths` of
/// google-research/text-to-text-transfer-transformer).
///
/// An example is `rawLength` consecutive corpus tokens. `noiseTokens = round(rawLength · noiseDensity)`
/// of them (at least 1, at most rawLength − 1) are noise, in `spans = round(noiseTokens / meanSpan)`
/// spans (at least 1). The noise tokens are cut into `spans` non-empty runs, and the others into as
/// many non-empty runs, each cut chosen uniformly among all cuts (T5's random segmentation); the
/// example is then run₀ noise₀ run₁ noise₁ … — it starts with kept tokens and ends with noise, as
/// T5's mask does. Rounding is half to even, as Python's `round` and `tf.round`.
///
///     tokens   The  quick  brown  fox  jumps  over  the  lazy  dog
///     noise                  ███   ███                          ███     (3 of 9 tokens, 2 spans)
///     input    The quick <s0> jumps over the lazy <s1> <eot>          → encoderLength ids
///     target   <s0> brown fox <s1> dog <eot>                          → targetLength ids
///
/// Each noise span becomes one sentinel in the input; the target is, per span in order, its
/// sentinel and its tokens. Both end with the tokenizer's end-of-text id, as T5's inputs and
/// targets end with EOS (the target ends with end of text, not with a further sentinel: T5's
/// preprocessors do this, though the paper's figure shows a final sentinel). Sentinel k is id
/// `firstSentinel + k`: the ids after the tokenizer's vocabulary and its end of text, in the
/// order the spans appear, so a model for span corruption embeds `vocabSize` ids, 100 more than
/// the tokenizer (T5's 100 extra ids; configurations that need more spans are refused).
///
/// `rawLength` is chosen, as T5's `compute_input_and_target_lengths`, as the largest length whose
/// corrupted input (kept tokens, one sentinel per span, end of text) fits `encoderLength`; the
/// input then has exactly `encoderLength` ids and every target exactly `targetLength`, so batches
/// need no padding. T5's special case for noise density 0.5 (one token fewer, so that targets are
/// no longer than inputs) is not made: targets are checked against the decoder length instead.
public struct SpanCorruption: Sendable, Equatable {
    /// Sentinel ids added after the tokenizer's vocabulary: T5's 100 extra ids.
    public static let sentinelCount = 100

    /// S: encoder input ids per example, end of text included.
    public let encoderLength: Int
    /// T: the decoder's length; targets (`targetLength` ids) are padded to it.
    public let decoderLength: Int
    public let noiseDensity: Double
    public let meanSpan: Double
    /// Corpus tokens per example.
    public let rawLength: Int
    /// Ids per target: a sentinel and the tokens of each span, then end of text.
    public let targetLength: Int
    /// Noise tokens and spans of every example (they depend on `rawLength` only).
    public let noiseTokens: Int
    public let spans: Int
    public let endOfText: Int32
    /// The first sentinel id: the vocabulary size of the corpus, end of text included.
    public let firstSentinel: Int32

    /// Ids the model must embed: the corpus's and the sentinels.
    public var vocabSize: Int { Int(firstSentinel) + Self.sentinelCount }

    /// Sentinel `k` (0 ≤ k < 100): the id that stands for the k-th noise span of an example.
    public func sentinel(_ k: Int) -> Int32 {
        precondition((0..<Self.sentinelCount).contains(k), "sentinel \(k) outside 0..<\(Self.sentinelCount)")
        return firstSentinel + Int32(k)
    }

    /// Checks a configuration: `encoderLength` is model.encoder_block_size, `decoderLength`
    /// model.block_size, `vocabularySize` the ids the corpus may hold (the tokenizer's
    /// `vocabSizeWithEndOfText`) and `endOfText` its end-of-text id. Throws one
    /// `DataError.spanCorruption` naming the keys when the density or span length is out of range,
    /// when an example needs more than 100 sentinels or more spans than it has kept runs, or when
    /// the targets do not fit the decoder.
    public init(encoderLength: Int, decoderLength: Int, noiseDensity: Double, meanSpan: Double,
                vocabularySize: Int, endOfText: Int32) throws(DataError) {
        precondition(vocabularySize >= 1 && (0..<Int32(vocabularySize)).contains(endOfText),
                     "bad vocabulary: \(vocabularySize) ids, end of text \(endOfText)")
        let settings = "model.encoder_block_size = \(encoderLength) with train.noise_density = \(noiseDensity) "
            + "and train.mean_span = \(meanSpan)"
        guard noiseDensity > 0, noiseDensity < 1 else {
            throw .spanCorruption("train.noise_density must be in (0, 1), got \(noiseDensity)")
        }
        guard meanSpan >= 1, meanSpan.isFinite else {
            throw .spanCorruption("train.mean_span must be a number ≥ 1, got \(meanSpan)")
        }
        guard encoderLength >= 3 else {
            throw .spanCorruption("model.encoder_block_size must be at least 3 for span corruption "
                + "(a kept token, a sentinel and end of text), got \(encoderLength)")
        }
        let (raw, target) = Self.lengths(encoderLength: encoderLength, noiseDensity: noiseDensity, meanSpan: meanSpan)
        let (noise, spans) = Self.counts(length: raw, noiseDensity: noiseDensity, meanSpan: meanSpan)
        guard spans <= raw - noise else {
            throw .spanCorruption("\(settings) gives \(spans) noise spans but only \(raw - noise) kept tokens "
                + "to separate them; lower train.noise_density or raise train.mean_span")
        }
        guard spans <= Self.sentinelCount else {
            throw .spanCorruption("\(settings) gives \(spans) noise spans, more than the \(Self.sentinelCount) "
                + "sentinel ids; raise train.mean_span or lower model.encoder_block_size")
        }
        guard target <= decoderLength else {
            throw .spanCorruption("\(settings) gives targets of \(target) tokens (\(noise) noise tokens in \(spans) "
                + "spans, a sentinel each, and end of text), more than model.block_size = \(decoderLength); "
                + "raise model.block_size to \(target) or lower the others")
        }
        self.encoderLength = encoderLength
        self.decoderLength = decoderLength
        self.noiseDensity = noiseDensity
        self.meanSpan = meanSpan
        rawLength = raw
        targetLength = target
        noiseTokens = noise
        self.spans = spans
        self.endOfText = endOfText
        firstSentinel = Int32(vocabularySize)
    }

    /// As above, for a corpus read with `tokenizer` (text or prepared shards).
    public init(encoderLength: Int, decoderLength: Int, noiseDensity: Double, meanSpan: Double,
                tokenizer: any Tokenizer) throws(DataError) {
        try self.init(encoderLength: encoderLength, decoderLength: decoderLength, noiseDensity: noiseDensity,
                      meanSpan: meanSpan, vocabularySize: tokenizer.vocabSizeWithEndOfText, endOfText: tokenizer.endOfText)
    }

    /// (noise tokens, spans) of an example of `length` tokens, as T5's `random_spans_noise_mask`:
    /// round(length · density) clamped to 1...length − 1, and round(noise / meanSpan), at least 1.
    public static func counts(length: Int, noiseDensity: Double, meanSpan: Double) -> (noise: Int, spans: Int) {
        precondition(length >= 2 && noiseDensity > 0 && noiseDensity < 1 && meanSpan >= 1,
                     "bad span corruption: length \(length), density \(noiseDensity), mean span \(meanSpan)")
        let noise = min(max(Int((Double(length) * noiseDensity).rounded(.toNearestOrEven)), 1), length - 1)
        let spans = max(Int((Double(noise) / meanSpan).rounded(.toNearestOrEven)), 1)
        return (noise, spans)
    }

    /// T5's `compute_input_and_target_lengths`: the largest raw length whose corrupted input
    /// (kept tokens + a sentinel per span + end of text) is at most `encoderLength` ids — exactly
    /// `encoderLength`, since that count grows by 0 or 1 per raw token — and its target length
    /// (noise tokens + a sentinel per span + end of text). Uses `counts`, so it agrees with the
    /// masks drawn even where T5's clamps apply.
    public static func lengths(encoderLength: Int, noiseDensity: Double, meanSpan: Double) -> (raw: Int, target: Int) {
        precondition(encoderLength >= 3, "encoderLength must be ≥ 3, got \(encoderLength)")
        func inputLength(_ n: Int) -> Int {
            let (noise, spans) = counts(length: n, noiseDensity: noiseDensity, meanSpan: meanSpan)
            return n - noise + spans + 1
        }
        var raw = encoderLength - 1
        while inputLength(raw + 1) <= encoderLength { raw += 1 }
        let (noise, spans) = counts(length: raw, noiseDensity: noiseDensity, meanSpan: meanSpan)
        return (raw, noise + spans + 1)
    }

    /// The generator for one example: a pure function of (seed, label, draw, sequence), so any
    /// rank draws any example's mask alone. `draw` is the training step (or eval batch) and
    /// `sequence` the example's index in the global batch.
    public static func exampleRNG(seed: Int, label: String, draw: Int, sequence: Int) -> CounterRNG {
        precondition(seed >= 0 && draw >= 0 && (0..<(1 << 32)).contains(sequence), "bad draw \(draw) or sequence \(sequence)")
        let base = CounterRNG(seed: UInt64(seed), label: label)
        return CounterRNG(seed: base.bits(UInt64(draw) << 32 | UInt64(sequence)), stream: base.stream)
    }

    /// T5's `random_spans_noise_mask` for `length` tokens: true marks noise. The first token is
    /// never noise and the last always is (as in T5); exactly `counts(...).noise` tokens are noise,
    /// in exactly `counts(...).spans` maximal runs. Draws use counters 0..<length − 2 of `rng` for
    /// the noise cuts and 2^32 + 0..<length − 2 for the kept ones.
    public static func noiseMask(length: Int, noiseDensity: Double, meanSpan: Double, rng: CounterRNG) -> [Bool] {
        let (noise, spans) = counts(length: length, noiseDensity: noiseDensity, meanSpan: meanSpan)
        precondition(spans <= length - noise, "\(spans) spans cannot be separated by \(length - noise) kept tokens")
        let noiseRuns = segmentLengths(items: noise, segments: spans, rng: rng, counterBase: 0)
        let keptRuns = segmentLengths(items: length - noise, segments: spans, rng: rng, counterBase: 1 << 32)
        var mask: [Bool] = []
        mask.reserveCapacity(length)
        for (kept, noisy) in zip(keptRuns, noiseRuns) {
            mask += repeatElement(false, count: kept)
            mask += repeatElement(true, count: noisy)
        }
        return mask
    }

    /// This configuration's mask for one example (`rawLength` tokens).
    public func noiseMask(rng: CounterRNG) -> [Bool] {
        Self.noiseMask(length: rawLength, noiseDensity: noiseDensity, meanSpan: meanSpan, rng: rng)
    }

    /// `items` cut into `segments` non-empty runs, every such cut equally likely: `segments − 1`
    /// distinct cut points among the `items − 1` gaps, by a partial Fisher–Yates shuffle.
    static func segmentLengths(items: Int, segments: Int, rng: CounterRNG, counterBase: UInt64) -> [Int] {
        precondition(segments >= 1 && items >= segments, "cannot cut \(items) items into \(segments) non-empty runs")
        var gaps = Array(1..<items)
        for j in 0..<segments - 1 {
            gaps.swapAt(j, j + rng.below(gaps.count - j, counterBase + UInt64(j)))
        }
        let cuts = gaps[..<(segments - 1)].sorted() + [items]
        var previous = 0
        return cuts.map { cut in
            defer { previous = cut }
            return cut - previous
        }
    }

    /// (input, target) for `tokens` under `mask` (one flag per token, true = noise): in the input
    /// each maximal noise run becomes the next sentinel; the target holds, per run, its sentinel
    /// and its tokens; both end with end of text. Any mask with at most 100 runs is accepted, so
    /// a mask from `noiseMask` gives `encoderLength` and `targetLength` ids.
    public func corrupt(_ tokens: [Int32], mask: [Bool]) -> (input: [Int32], target: [Int32]) {
        precondition(tokens.count == mask.count, "\(tokens.count) tokens but \(mask.count) mask flags")
        var input: [Int32] = [], target: [Int32] = []
        input.reserveCapacity(tokens.count + 1)
        target.reserveCapacity(tokens.count + 1)
        var span = 0
        for (i, token) in tokens.enumerated() {
            if !mask[i] {
                input.append(token)
                continue
            }
            if i == 0 || !mask[i - 1] {
                input.append(sentinel(span))
                target.append(sentinel(span))
                span += 1
            }
            target.append(token)
        }
        input.append(endOfText)
        target.append(endOfText)
        return (input, target)
    }

    /// The original tokens from a corrupted pair: each sentinel of `input` replaced by the tokens
    /// that follow the same sentinel in `target`. The inverse of `corrupt`, for tests and tools.
    public func reconstruct(input: [Int32], target: [Int32]) -> [Int32] {
        var spans: [Int32: [Int32]] = [:], current: Int32?
        for id in target.dropLast() where id != endOfText {
            if id >= firstSentinel {
                current = id
                spans[id] = []
            } else if let current {
                spans[current]!.append(id)
            }
        }
        return input.dropLast().flatMap { $0 >= firstSentinel ? spans[$0] ?? [] : [$0] }
    }

    /// `tokens` as text, sentinels written as T5 writes them (`<extra_id_0>`, ...): for logs.
    public func describe(_ tokens: [Int32], tokenizer: any Tokenizer) -> String {
        var text = "", run: [Int32] = []
        for id in tokens + [-1] {
            if id >= 0, id < firstSentinel { run.append(id); continue }
            if !run.isEmpty { text += tokenizer.decode(run); run = [] }
            if id >= firstSentinel { text += "<extra_id_\(id - firstSentinel)>" }
        }
        return text
    }
}
