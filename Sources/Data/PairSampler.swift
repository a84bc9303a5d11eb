import Random

/// Seq2seq batches under the seed-and-step rule: row i (0 ≤ i < batchSize) of training step s
/// is train pair `CounterRNG(seed:, label: "train-pairs").below(train pairs, s << 32 | i)`, and row
/// i of eval batch k is val pair `CounterRNG(seed:, label: "val-pairs").below(val pairs, k << 32 | i)`,
/// so every layout, microbatch split and resumed run sees the same pairs, and every evaluation
/// the same fixed batches. Pairs are drawn with replacement, as `BatchSampler` draws windows.
/// Rows hold the pair's input (≤ S ids) and target (≤ T ids), padded (see `PairRows`).
public struct PairSampler: EncoderDecoderBatches {
    public let pairs: Seq2SeqPairs
    public let seed: Int
    public let batchSize: Int
    /// The decoder's first input id: the end-of-text id unless told.
    public let decoderStart: Int32
    private let trainRNG: CounterRNG
    private let valRNG: CounterRNG

    public var encoderLength: Int { pairs.encoderLength }
    public var decoderLength: Int { pairs.decoderLength }
    /// The tokenizer's ids and its end of text. A model pretrained with span corruption embeds
    /// more (the sentinels); it may train on these pairs as they are, all ids being below its own.
    public var vocabSize: Int { pairs.tokenizer.vocabSize }

    public init(pairs: Seq2SeqPairs, seed: Int, batchSize: Int, decoderStart: Int32? = nil) {
        precondition(seed >= 0 && batchSize >= 1, "bad sampler: seed \(seed), batchSize \(batchSize)")
        self.pairs = pairs
        self.seed = seed
        self.batchSize = batchSize
        self.decoderStart = decoderStart ?? pairs.tokenizer.endOfText
        trainRNG = CounterRNG(seed: UInt64(seed), label: "train-pairs")
        valRNG = CounterRNG(seed: UInt64(seed), label: "val-pairs")
    }

    /// The train pair of row `sequence` of step `step`.
    public func pairIndex(step: Int, sequence: Int) -> Int {
        draw(trainRNG, pairs.train.count, step, sequence)
    }

    /// The val pair of row `sequence` of eval batch `batch`.
    public func evalPairIndex(batch: Int, sequence: Int) -> Int {
        draw(valRNG, pairs.val.count, batch, sequence)
    }

    public func fill(step: Int, sequences: Range<Int>, into rows: PairRows) {
        write(pairs.train, sequences, into: rows) { pairIndex(step: step, sequence: $0) }
    }

    public func fillEval(batch: Int, sequences: Range<Int>, into rows: PairRows) {
        write(pairs.val, sequences, into: rows) { evalPairIndex(batch: batch, sequence: $0) }
    }

    public func targetTokens(step: Int) -> Int {
        (0..<batchSize).reduce(0) { $0 + pairs.train.targetCount(pairIndex(step: step, sequence: $1)) }
    }

    public func evalTargetTokens(batch: Int) -> Int {
        (0..<batchSize).reduce(0) { $0 + pairs.val.targetCount(evalPairIndex(batch: batch, sequence: $1)) }
    }

    private func draw(_ rng: CounterRNG, _ count: Int, _ draw: Int, _ sequence: Int) -> Int {
        precondition(draw >= 0 && (0..<(1 << 32)).contains(sequence), "bad draw \(draw) or sequence \(sequence)")
        return rng.below(count, UInt64(draw) << 32 | UInt64(sequence))
    }

    private func write(_ store: PairStore, _ sequences: Range<Int>, into rows: PairRows, _ pick: (Int) -> Int) {
        precondition(sequences.lowerBound >= 0 && sequences.upperBound <= batchSize,
                     "sequences \(sequences) outside the global batch of \(batchSize)")
        for (row, sequence) in sequences.enumerated() {
            let i = pick(sequence)
            let input = store.input(i), target = store.target(i)
            input.withUnsafeBufferPointer { x in
                target.withUnsafeBufferPointer { y in
                    rows.write(row: row, input: x, target: y, S: encoderLength, T: decoderLength,
                               start: decoderStart, padding: pairs.tokenizer.endOfText)
                }
            }
        }
    }
}
