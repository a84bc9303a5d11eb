/// Where an encoder-decoder batch is written: rows of S encoder ids and T decoder ids.
/// Legend: B rows (the sequences asked for), S encoder length, T decoder length.
///
/// A row's input and target each end with the tokenizer's end-of-text id and are padded past
/// their lengths with that id, a real id, so an embedding lookup of any position is in range; what
/// lies past a length means nothing: the encoder masks keys at or past `inputLengths[b]`, the
/// decoder's cross-attention likewise, and the loss counts target positions below
/// `targetLengths[b]`. The decoder reads `decoderInputs`, the target shifted right by one behind
/// the start id (T5's teacher forcing: position t sees targets 0..<t and predicts target t).
public struct PairRows {
    /// (B, S) encoder input ids.
    public var inputs: UnsafeMutablePointer<Int32>
    /// (B) ids in each row's input, end of text included: 1...S.
    public var inputLengths: UnsafeMutablePointer<Int32>
    /// (B, T) decoder input ids: the start id, then the target's ids but its last.
    public var decoderInputs: UnsafeMutablePointer<Int32>
    /// (B, T) target ids.
    public var targets: UnsafeMutablePointer<Int32>
    /// (B) ids in each row's target, end of text included: 1...T.
    public var targetLengths: UnsafeMutablePointer<Int32>

    public init(inputs: UnsafeMutablePointer<Int32>, inputLengths: UnsafeMutablePointer<Int32>,
                decoderInputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>,
                targetLengths: UnsafeMutablePointer<Int32>) {
        self.inputs = inputs
        self.inputLengths = inputLengths
        self.decoderInputs = decoderInputs
        self.targets = targets
        self.targetLengths = targetLengths
    }

    /// Row `row`: `input` (≤ S ids) and `target` (≤ T ids), padded with `padding`; the decoder
    /// input is `start` followed by the target's ids but its last.
    func write(row: Int, input: UnsafeBufferPointer<Int32>, target: UnsafeBufferPointer<Int32>,
               S: Int, T: Int, start: Int32, padding: Int32) {
        precondition(!input.isEmpty && input.count <= S && !target.isEmpty && target.count <= T,
                     "a row of \(input.count) input and \(target.count) target ids does not fit S = \(S), T = \(T)")
        let x = inputs + row * S, d = decoderInputs + row * T, y = targets + row * T
        x.update(from: input.baseAddress!, count: input.count)
        (x + input.count).update(repeating: padding, count: S - input.count)
        y.update(from: target.baseAddress!, count: target.count)
        (y + target.count).update(repeating: padding, count: T - target.count)
        d[0] = start
        (d + 1).update(from: target.baseAddress!, count: target.count - 1)
        (d + target.count).update(repeating: padding, count: T - target.count)
        inputLengths[row] = Int32(input.count)
        targetLengths[row] = Int32(target.count)
    }
}

/// Batches for an encoder-decoder model, under the same determinism rule as `BatchSampler`:
/// row i of step s is a pure function of the seed, the data, s and i, so any rank, microbatch or
/// resumed run fills any slice of any step alone, and every layout trains on the same examples.
/// `SpanCorruptionSampler` (T5 pretraining on a corpus) and `PairSampler` (seq2seq pairs) are the
/// two kinds; a trainer holds either as this protocol.
public protocol EncoderDecoderBatches: Sendable {
    /// Sequences per step, all ranks together.
    var batchSize: Int { get }
    /// S: encoder ids per row.
    var encoderLength: Int { get }
    /// T: decoder ids per row.
    var decoderLength: Int { get }
    /// Ids the model must embed (and predict).
    var vocabSize: Int { get }
    /// Writes rows `sequences` (lo..<hi of the global batch) of training step `step`.
    func fill(step: Int, sequences: Range<Int>, into rows: PairRows)
    /// As `fill`, for eval batch `batch` (0 ≤ batch < eval_steps), from the validation split.
    func fillEval(batch: Int, sequences: Range<Int>, into rows: PairRows)
    /// Target ids (end of text included) in all rows of training step `step`: what the step's
    /// mean loss divides by, known before any row is filled.
    func targetTokens(step: Int) -> Int
    /// As `targetTokens`, for eval batch `batch`.
    func evalTargetTokens(batch: Int) -> Int
}

/// T5 pretraining batches: each row a window of `corruption.rawLength` corpus tokens, drawn as
/// `BatchSampler` draws them at block size `rawLength` (the same windows an LM run of that block
/// size reads), corrupted with a mask from `SpanCorruption.exampleRNG(seed:, label:
/// "train-span-mask", draw: step, sequence: i)` ("val-span-mask" for eval batches). Inputs are
/// exactly S ids and targets `corruption.targetLength` ids, padded to T.
public struct SpanCorruptionSampler: EncoderDecoderBatches {
    public let corruption: SpanCorruption
    public let seed: Int
    public let batchSize: Int
    /// The decoder's first input id: the end-of-text id unless told.
    public let decoderStart: Int32
    private let windows: BatchSampler
    private let train: TokenStore
    private let val: TokenStore

    public var encoderLength: Int { corruption.encoderLength }
    public var decoderLength: Int { corruption.decoderLength }
    public var vocabSize: Int { corruption.vocabSize }

    /// `corruption` must be made for `corpus.tokenizer`. Throws `DataError.spanCorruption` when a
    /// split holds fewer than `rawLength + 1` tokens.
    public init(corpus: Corpus, seed: Int, corruption: SpanCorruption, batchSize: Int,
                decoderStart: Int32? = nil) throws(DataError) {
        precondition(Int(corruption.firstSentinel) == corpus.tokenizer.vocabSizeWithEndOfText
                        && corruption.endOfText == corpus.tokenizer.endOfText,
                     "the span corruption was made for another tokenizer")
        for (split, tokens) in [("train", corpus.train), ("validation", corpus.val)] where tokens.count <= corruption.rawLength {
            throw .spanCorruption("the \(split) split of '\(corpus.path)' has \(tokens.count) tokens; an example at "
                + "model.encoder_block_size = \(corruption.encoderLength) reads \(corruption.rawLength) consecutive tokens "
                + "and needs a split of at least \(corruption.rawLength + 1); use more text, a shorter encoder_block_size "
                + "or another data.val_fraction")
        }
        self.corruption = corruption
        self.seed = seed
        self.batchSize = batchSize
        self.decoderStart = decoderStart ?? corruption.endOfText
        windows = BatchSampler(corpus: corpus, seed: seed, blockSize: corruption.rawLength, batchSize: batchSize)
        train = corpus.train
        val = corpus.val
    }

    /// (input, target) of row `sequence` of training step `step`.
    public func example(step: Int, sequence: Int) -> (input: [Int32], target: [Int32]) {
        example(tokens: train, offset: windows.offset(step: step, sequence: sequence), label: "train-span-mask",
                draw: step, sequence: sequence)
    }

    /// (input, target) of row `sequence` of eval batch `batch`.
    public func evalExample(batch: Int, sequence: Int) -> (input: [Int32], target: [Int32]) {
        example(tokens: val, offset: windows.evalOffset(batch: batch, sequence: sequence), label: "val-span-mask",
                draw: batch, sequence: sequence)
    }

    public func fill(step: Int, sequences: Range<Int>, into rows: PairRows) {
        write(sequences, into: rows) { example(step: step, sequence: $0) }
    }

    public func fillEval(batch: Int, sequences: Range<Int>, into rows: PairRows) {
        write(sequences, into: rows) { evalExample(batch: batch, sequence: $0) }
    }

    /// Every target has `corruption.targetLength` ids.
    public func targetTokens(step: Int) -> Int { batchSize * corruption.targetLength }
    public func evalTargetTokens(batch: Int) -> Int { batchSize * corruption.targetLength }

    private func example(tokens: TokenStore, offset: Int, label: String, draw: Int, sequence: Int)
        -> (input: [Int32], target: [Int32]) {
        var window = [Int32](repeating: 0, count: corruption.rawLength)
        window.withUnsafeMutableBufferPointer { tokens.copy(from: offset, count: $0.count, into: $0.baseAddress!) }
        let rng = SpanCorruption.exampleRNG(seed: seed, label: label, draw: draw, sequence: sequence)
        return corruption.corrupt(window, mask: corruption.noiseMask(rng: rng))
    }

    private func write(_ sequences: Range<Int>, into rows: PairRows, _ example: (Int) -> (input: [Int32], target: [Int32])) {
        precondition(sequences.lowerBound >= 0 && sequences.upperBound <= batchSize,
                     "sequences \(sequences) outside the global batch of \(batchSize)")
        for (row, sequence) in sequences.enumerated() {
            let (input, target) = example(sequence)
            input.withUnsafeBufferPointer { x in
                target.withUnsafeBufferPointer { y in
                    rows.write(row: row, input: x, target: y, S: encoderLength, T: decoderLength,
                               start: decoderStart, padding: corruption.endOfText)
                }
            }
        }
    }
}
