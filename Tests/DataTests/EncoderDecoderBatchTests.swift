import Data
import Foundation
import Testing

/// One filled slice of an encoder-decoder batch, as flat arrays.
struct FilledRows: Equatable {
    var inputs: [Int32], inputLengths: [Int32], decoderInputs: [Int32], targets: [Int32], targetLengths: [Int32]

    /// Rows `sequences` of step `step` (eval batch `step` when `eval`).
    init(_ batches: some EncoderDecoderBatches, step: Int, _ sequences: Range<Int>, eval: Bool = false) {
        let B = sequences.count, S = batches.encoderLength, T = batches.decoderLength
        inputs = [Int32](repeating: -1, count: B * S)
        decoderInputs = [Int32](repeating: -1, count: B * T)
        targets = decoderInputs
        inputLengths = [Int32](repeating: -1, count: B)
        targetLengths = inputLengths
        inputs.withUnsafeMutableBufferPointer { x in
            inputLengths.withUnsafeMutableBufferPointer { xl in
                decoderInputs.withUnsafeMutableBufferPointer { d in
                    targets.withUnsafeMutableBufferPointer { y in
                        targetLengths.withUnsafeMutableBufferPointer { yl in
                            let rows = PairRows(inputs: x.baseAddress!, inputLengths: xl.baseAddress!, decoderInputs: d.baseAddress!,
                                                targets: y.baseAddress!, targetLengths: yl.baseAddress!)
                            if eval {
                                batches.fillEval(batch: step, sequences: sequences, into: rows)
                            } else {
                                batches.fill(step: step, sequences: sequences, into: rows)
                            }
                        }
                    }
                }
            }
        }
    }

    static func + (a: FilledRows, b: FilledRows) -> FilledRows {
        var c = a
        c.inputs += b.inputs; c.inputLengths += b.inputLengths; c.decoderInputs += b.decoderInputs
        c.targets += b.targets; c.targetLengths += b.targetLengths
        return c
    }

    /// Row `b`'s input and target, without padding.
    func row(_ b: Int, S: Int, T: Int) -> (input: [Int32], target: [Int32]) {
        (Array(inputs[b * S..<b * S + Int(inputLengths[b])]), Array(targets[b * T..<b * T + Int(targetLengths[b])]))
    }

    /// Every row is written, padded with `padding` past its lengths, its decoder input the target
    /// shifted right behind `start`.
    func isWellFormed(S: Int, T: Int, start: Int32, padding: Int32) -> Bool {
        inputLengths.indices.allSatisfy { b in
            let n = Int(inputLengths[b]), m = Int(targetLengths[b])
            guard (1...S).contains(n), (1...T).contains(m) else { return false }
            let x = inputs[b * S..<(b + 1) * S], y = targets[b * T..<(b + 1) * T], d = decoderInputs[b * T..<(b + 1) * T]
            return !x.contains(-1) && x.dropFirst(n).allSatisfy { $0 == padding } && y.dropFirst(m).allSatisfy { $0 == padding }
                && d.first == start && Array(d.dropFirst().prefix(m - 1)) == Array(y.prefix(m - 1))
                && d.dropFirst(m).allSatisfy { $0 == padding }
        }
    }
}

/// A byte corpus of 3,000 tokens: 2,700 train, 300 validation.
private func byteCorpus(in scratch: Scratch) throws -> Corpus {
    let bytes = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 256) }
    return try Corpus(path: try scratch.file("c.bin", bytes), tokenizer: .byte, valFraction: 0.1, blockSize: 1)
}

struct SpanCorruptionSamplerTests {
    static func sampler(_ corpus: Corpus, batch: Int = 8, seed: Int = 1337) throws -> SpanCorruptionSampler {
        let corruption = try SpanCorruption(encoderLength: 64, decoderLength: 24, noiseDensity: 0.15, meanSpan: 3,
                                            tokenizer: corpus.tokenizer)
        return try SpanCorruptionSampler(corpus: corpus, seed: seed, corruption: corruption, batchSize: batch)
    }

    @Test func slicesConcatenateToTheWholeBatchWhateverTheBatchSize() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let corpus = try byteCorpus(in: scratch)
        let sampler = try Self.sampler(corpus), larger = try Self.sampler(corpus, batch: 32)
        let whole = FilledRows(sampler, step: 5, 0..<8)
        #expect(FilledRows(sampler, step: 5, 0..<3) + FilledRows(sampler, step: 5, 3..<8) == whole)
        #expect(FilledRows(larger, step: 5, 0..<8) == whole)
        #expect(whole.isWellFormed(S: 64, T: 24, start: 256, padding: 256))
        let otherSeed = try Self.sampler(corpus, seed: 1)
        #expect(FilledRows(sampler, step: 6, 0..<8) != whole && FilledRows(otherSeed, step: 5, 0..<8) != whole)
    }

    /// Row i of step s is BatchSampler's window (at block size rawLength) under the mask of
    /// (seed, s, i): inputs of exactly S ids, targets of exactly targetLength ids.
    @Test func rowsAreTheBatchSamplerWindowsCorrupted() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let corpus = try byteCorpus(in: scratch)
        let sampler = try Self.sampler(corpus)
        let c = sampler.corruption
        #expect(c.rawLength == 70 && c.targetLength == 14)
        let windows = BatchSampler(corpus: corpus, seed: 1337, blockSize: c.rawLength, batchSize: 8)
        let rows = FilledRows(sampler, step: 11, 0..<8)
        for b in 0..<8 {
            let (input, target) = rows.row(b, S: 64, T: 24)
            #expect(input.count == 64 && target.count == 14)
            let offset = windows.offset(step: 11, sequence: b)
            #expect(c.reconstruct(input: input, target: target) == Array(corpus.train[offset..<offset + c.rawLength]))
            let mask = c.noiseMask(rng: SpanCorruption.exampleRNG(seed: 1337, label: "train-span-mask", draw: 11, sequence: b))
            #expect(c.corrupt(Array(corpus.train[offset..<offset + c.rawLength]), mask: mask) == (input, target))
        }
        // Eval batches come from the validation split, the same at every evaluation.
        let eval = FilledRows(sampler, step: 0, 0..<8, eval: true)
        #expect(eval == FilledRows(sampler, step: 0, 0..<8, eval: true) && eval != FilledRows(sampler, step: 0, 0..<8))
        let (input, target) = eval.row(2, S: 64, T: 24)
        let offset = windows.evalOffset(batch: 0, sequence: 2)
        #expect(c.reconstruct(input: input, target: target) == Array(corpus.val[offset..<offset + c.rawLength]))
    }

    @Test func aSplitShorterThanOneExampleIsOneError() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let corpus = try Corpus(path: try scratch.file("c.txt", text: String(repeating: "abcdefgh", count: 50)), tokenizer: .char,
                                valFraction: 0.1, blockSize: 1)
        let error = #expect(throws: DataError.self) { try Self.sampler(corpus) }
        #expect(error?.description.contains("the validation split of") == true && error?.description.contains("has 40 tokens") == true,
                "\(String(describing: error))")
    }
}
