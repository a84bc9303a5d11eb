import Data
import Random
import Testing

/// A small corpus of distinct-enough tokens: byte tokens of a 2,000-byte text.
private func corpus() throws -> Corpus {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let bytes = (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 256) }
    return try Corpus(path: try scratch.file("c.bin", bytes), tokenizer: .byte, valFraction: 0.1, blockSize: 16)
}

/// (inputs, targets) of sequences `range` of step `step` (or eval batch `step` when `eval`).
private func batch(_ sampler: BatchSampler, step: Int, _ range: Range<Int>, eval: Bool = false)
    -> (inputs: [Int32], targets: [Int32])
{
    var inputs = [Int32](repeating: -1, count: range.count * sampler.blockSize)
    var targets = inputs
    inputs.withUnsafeMutableBufferPointer { x in
        targets.withUnsafeMutableBufferPointer { y in
            if eval {
                sampler.fillEval(batch: step, sequences: range, inputs: x.baseAddress!, targets: y.baseAddress!)
            } else {
                sampler.fill(step: step, sequences: range, inputs: x.baseAddress!, targets: y.baseAddress!)
            }
        }
    }
    return (inputs, targets)
}

@Test func slicesConcatenateToTheWholeBatch() throws {
    let sampler = BatchSampler(corpus: try corpus(), seed: 1337, blockSize: 16, batchSize: 6)
    let whole = batch(sampler, step: 3, 0..<6)
    let first = batch(sampler, step: 3, 0..<3), second = batch(sampler, step: 3, 3..<6)
    #expect(first.inputs + second.inputs == whole.inputs)
    #expect(first.targets + second.targets == whole.targets)
    #expect(!whole.inputs.contains(-1) && !whole.targets.contains(-1))
}

@Test func sameSeedAndStepGiveTheSameBatch() throws {
    let data = try corpus()
    let a = BatchSampler(corpus: data, seed: 1337, blockSize: 16, batchSize: 6)
    let b = BatchSampler(corpus: data, seed: 1337, blockSize: 16, batchSize: 6)
    let first = batch(a, step: 9, 0..<6)
    #expect(!first.inputs.contains(-1) && first.inputs == batch(b, step: 9, 0..<6).inputs)
}

@Test func differentStepsAndSeedsGiveDifferentBatches() throws {
    let data = try corpus()
    let sampler = BatchSampler(corpus: data, seed: 1337, blockSize: 16, batchSize: 6)
    let other = BatchSampler(corpus: data, seed: 1338, blockSize: 16, batchSize: 6)
    #expect(batch(sampler, step: 1, 0..<6).inputs != batch(sampler, step: 2, 0..<6).inputs)
    #expect(batch(sampler, step: 1, 0..<6).inputs != batch(other, step: 1, 0..<6).inputs)
}

@Test func batchDoesNotDependOnTheGlobalBatchSize() throws {
    let data = try corpus()
    let small = BatchSampler(corpus: data, seed: 5, blockSize: 16, batchSize: 4)
    let large = BatchSampler(corpus: data, seed: 5, blockSize: 16, batchSize: 12)
    #expect(batch(small, step: 7, 0..<4).inputs == batch(large, step: 7, 0..<4).inputs)
}

@Test func targetsAreInputsShiftedByOneToken() throws {
    let data = try corpus()
    let sampler = BatchSampler(corpus: data, seed: 1337, blockSize: 16, batchSize: 4)
    let (inputs, targets) = batch(sampler, step: 11, 0..<4)
    for row in 0..<4 {
        let start = sampler.offset(step: 11, sequence: row)
        #expect(Array(inputs[row * 16..<(row + 1) * 16]) == Array(data.train[start..<start + 16]))
        #expect(Array(targets[row * 16..<(row + 1) * 16]) == Array(data.train[start + 1..<start + 17]))
    }
}

@Test func offsetsFollowTheDocumentedCounter() throws {
    let data = try corpus()
    let sampler = BatchSampler(corpus: data, seed: 42, blockSize: 16, batchSize: 8)
    let rng = CounterRNG(seed: 42, label: "train-batch")
    for (step, sequence) in [(0, 0), (1, 0), (1, 7), (1000, 3)] {
        #expect(sampler.offset(step: step, sequence: sequence)
            == rng.below(data.train.count - 16, UInt64(step) << 32 | UInt64(sequence)))
    }
}

@Test func evalBatchesAreFixedAndComeFromTheValSplit() throws {
    let data = try corpus()
    let sampler = BatchSampler(corpus: data, seed: 1337, blockSize: 16, batchSize: 4)
    let first = batch(sampler, step: 0, 0..<4, eval: true)
    #expect(first.inputs == batch(sampler, step: 0, 0..<4, eval: true).inputs)
    #expect(first.inputs != batch(sampler, step: 1, 0..<4, eval: true).inputs)
    let rng = CounterRNG(seed: 1337, label: "val-batch")
    for row in 0..<4 {
        let start = rng.below(data.val.count - 16, UInt64(row))
        #expect(Array(first.inputs[row * 16..<(row + 1) * 16]) == Array(data.val[start..<start + 16]))
        #expect(Array(first.targets[row * 16..<(row + 1) * 16]) == Array(data.val[start + 1..<start + 17]))
    }
}
