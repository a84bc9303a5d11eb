import Random

/// The seed-and-step sampler behind Tessera's determinism rule: the global batch at step s
/// depends only on the seed, the data and s, never on the layout.
///
/// Sequence i (0 ≤ i < batchSize) of training step s starts at token offset
/// `CounterRNG(seed:, label: "train-batch").below(n − T, s << 32 | i)`, n the train split's length
/// (for a prepared folder, the train tokens of its shards concatenated in index order) and T the
/// block size; eval batch k draws the same way from the val split with label
/// "val-batch", so every evaluation sees the same fixed batches. The counter packs (s, i) into one
/// unique 64-bit value (i < 2^32), so any rank, microbatch or resumed run can fill any slice of
/// any step alone, without drawing the rest.
public struct BatchSampler: Sendable {
    public let blockSize: Int
    public let batchSize: Int
    private let train: Split
    private let val: Split

    /// `blockSize` is T; `batchSize` the global batch (sequences per step, all ranks together).
    public init(corpus: Corpus, seed: Int, blockSize: Int, batchSize: Int) {
        precondition(seed >= 0 && blockSize >= 1 && batchSize >= 1,
                     "bad sampler: seed \(seed), blockSize \(blockSize), batchSize \(batchSize)")
        self.blockSize = blockSize
        self.batchSize = batchSize
        train = Split(tokens: corpus.train, rng: CounterRNG(seed: UInt64(seed), label: "train-batch"),
                      blockSize: blockSize)
        val = Split(tokens: corpus.val, rng: CounterRNG(seed: UInt64(seed), label: "val-batch"),
                    blockSize: blockSize)
    }

    /// Token offset where sequence `sequence` of training step `step` starts in the train split.
    public func offset(step: Int, sequence: Int) -> Int {
        train.start(draw: step, sequence: sequence)
    }

    /// Token offset where sequence `sequence` of eval batch `batch` starts in the val split.
    public func evalOffset(batch: Int, sequence: Int) -> Int {
        val.start(draw: batch, sequence: sequence)
    }

    /// Writes sequences `sequences` (lo..<hi) of step `step`'s global batch: (hi − lo, T) inputs
    /// and the same windows shifted by one token as targets.
    public func fill(step: Int, sequences: Range<Int>,
                     inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>) {
        checkBounds(sequences)
        train.fill(draw: step, sequences: sequences, inputs: inputs, targets: targets)
    }

    /// As `fill`, for eval batch `batch` (0 ≤ batch < eval_steps), from the val split.
    public func fillEval(batch: Int, sequences: Range<Int>,
                         inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>) {
        checkBounds(sequences)
        val.fill(draw: batch, sequences: sequences, inputs: inputs, targets: targets)
    }

    private func checkBounds(_ sequences: Range<Int>) {
        precondition(sequences.lowerBound >= 0 && sequences.upperBound <= batchSize,
                     "sequences \(sequences) outside the global batch of \(batchSize)")
    }
}

/// One split's tokens and its generator; a draw is a training step or an eval batch index.
private struct Split: Sendable {
    let tokens: TokenStore
    let rng: CounterRNG
    let blockSize: Int

    init(tokens: TokenStore, rng: CounterRNG, blockSize: Int) {
        precondition(tokens.count > blockSize, "a split of \(tokens.count) tokens cannot hold T + 1 = \(blockSize + 1)")
        self.tokens = tokens
        self.rng = rng
        self.blockSize = blockSize
    }

    func start(draw: Int, sequence: Int) -> Int {
        precondition(draw >= 0 && (0..<(1 << 32)).contains(sequence), "bad draw \(draw) or sequence \(sequence)")
        return rng.below(tokens.count - blockSize, UInt64(draw) << 32 | UInt64(sequence))
    }

    func fill(draw: Int, sequences: Range<Int>,
              inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>) {
        for (row, sequence) in sequences.enumerated() {
            let window = start(draw: draw, sequence: sequence)
            tokens.copy(from: window, count: blockSize, into: inputs + row * blockSize)
            tokens.copy(from: window + 1, count: blockSize, into: targets + row * blockSize)
        }
    }
}
