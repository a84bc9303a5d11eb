import Config
import Data
import Foundation
import Model

/// A task item as token ids, checked and ready to score.
public struct EncodedChoiceItem: Sendable {
    /// The item's line in the task file.
    public let line: Int
    /// The context's tokens (at least one), shared by every choice.
    public let context: [Int32]
    /// Each choice's tokens: 1 to block_size of them.
    public let choices: [[Int32]]
    /// Each choice's length in UTF-8 bytes as the task file gives it: acc_norm's divisor.
    public let choiceBytes: [Int]
    public let answer: Int
}

/// One item's scores.
public struct ChoiceScore: Sendable {
    public let answer: Int
    /// Per choice, Σ over its tokens of log p(token | the tokens before it), in nats.
    public let logLikelihoods: [Double]
    public let tokenCounts: [Int]
    public let byteCounts: [Int]
    /// Per choice, the context tokens cut from the left to fit the block.
    public let truncated: [Int]

    public init(answer: Int, logLikelihoods: [Double], tokenCounts: [Int], byteCounts: [Int], truncated: [Int]) {
        self.answer = answer
        self.logLikelihoods = logLikelihoods
        self.tokenCounts = tokenCounts
        self.byteCounts = byteCounts
        self.truncated = truncated
    }

    /// acc's choice: the largest summed log-likelihood (the first of equals).
    public var predicted: Int { firstLargest(logLikelihoods) }
    /// acc_norm's choice: the largest log-likelihood per UTF-8 byte of the choice.
    public var predictedNorm: Int { firstLargest(zip(logLikelihoods, byteCounts).map { $0 / Double($1) }) }

    private func firstLargest(_ values: [Double]) -> Int {
        values.indices.reduce(0) { values[$1] > values[$0] ? $1 : $0 }
    }
}

/// Scores multiple-choice items as lm-evaluation-harness does: each choice by the log-likelihood
/// of its tokens given the context, from one forward pass over context + choice.
///
/// Boundary: context and choice are encoded separately and their ids concatenated. For the char
/// and byte tokenizers that is exactly the encoding of context + choice. For SentencePiece, the
/// context's trailing whitespace first moves to the front of the choice (lm-eval's rule), so a
/// choice's leading space is encoded with its word as in running text.
///
/// Truncation: the forward pass reads every token but the last, at most block_size of them;
/// tokens are cut from the left, so the whole choice and the end of the context remain. A choice
/// of more than block_size tokens is refused by `encode`, before anything is scored.
///
/// An encoder-decoder (t5) scores each choice as a target sequence with the context as the
/// encoder's input (its tokens and the end-of-text id, as training inputs end): the sum of the
/// choice tokens' log-likelihoods from one forward in the training layout, nothing cut. A context
/// of more than encoder_block_size − 1 tokens is refused by `encode`.
public final class ChoiceScorer {
    let model: GPT
    let tokenizer: any Tokenizer
    /// Batch 1, block_size positions: every forward pass reuses them.
    private let activations: GPTActivations

    public init(model: GPT, tokenizer: any Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
        activations = model.makeActivations(batch: 1)
    }

    public convenience init(_ whole: WholeModel) throws {
        self.init(model: whole.model, tokenizer: try whole.trainedTokenizer())
    }

    /// The context as encoded, and the text that moves from its end to the front of every choice:
    /// its trailing whitespace for SentencePiece, nothing for char and byte.
    public static func boundary(context: String, kind: TokenizerKind) -> (context: String, moved: String) {
        guard kind == .sentencepiece else { return (context, "") }
        let kept = context.reversed().drop(while: \.isWhitespace).count
        return (String(context.prefix(kept)), String(context.dropFirst(kept)))
    }

    /// Every item of `task` as tokens; throws, naming the file and line, for text the tokenizer
    /// cannot encode, a context of no tokens, or a choice of none or of more than block_size.
    public func encode(_ task: ChoiceTask) throws(DataError) -> [EncodedChoiceItem] {
        try Self.encode(task, tokenizer: tokenizer, blockSize: model.dims.blockSize,
                        encoderBlockSize: model.dims.encoderBlockSize)
    }

    /// As `encode(_:)`, before there is a model: for `[[eval]]` entries, checked before training.
    /// `encoderBlockSize` S > 0: an encoder-decoder's, whose context is its input.
    public static func encode(_ task: ChoiceTask, tokenizer: any Tokenizer, blockSize: Int,
                              encoderBlockSize: Int = 0) throws(DataError) -> [EncodedChoiceItem] {
        try task.items.map { (item) throws(DataError) -> EncodedChoiceItem in
            func bad(_ reason: String) -> DataError { .badInput(path: task.path, location: "line \(item.line)", reason: reason) }
            func encoded(_ text: String, _ what: String) throws(DataError) -> [Int32] {
                do { return try tokenizer.encode(text) } catch { throw bad("\(what): \(error)") }
            }
            let (context, moved) = boundary(context: item.context, kind: tokenizer.kind)
            let contextTokens = try encoded(context, "\"context\"")
            guard !contextTokens.isEmpty else {
                throw bad("\"context\" encodes to no tokens; the first choice token is scored given at least one token before it")
            }
            guard encoderBlockSize == 0 || contextTokens.count < encoderBlockSize else {
                throw bad("\"context\" is \(contextTokens.count) tokens; the model's encoder reads it and the end of text in "
                    + "its encoder_block_size of \(encoderBlockSize), so shorten it")
            }
            var choices: [[Int32]] = []
            for (k, choice) in item.choices.enumerated() {
                let tokens = try encoded(moved + choice, "choice \(k)")
                guard !tokens.isEmpty else { throw bad("choice \(k) encodes to no tokens") }
                guard tokens.count <= blockSize else {
                    throw bad("choice \(k) is \(tokens.count) tokens, more than the model's block_size of \(blockSize); "
                        + "a choice is scored whole, so shorten it or use a model with a longer context")
                }
                choices.append(tokens)
            }
            return EncodedChoiceItem(line: item.line, context: contextTokens, choices: choices,
                                     choiceBytes: item.choices.map(\.utf8.count), answer: item.answer)
        }
    }

    /// Every choice's log-likelihood given the item's context.
    public func score(_ item: EncodedChoiceItem) throws -> ChoiceScore {
        if model.dims.encoder != nil {
            return try Self.score(item, logLikelihoods: item.choices.map { try logLikelihood(ofTarget: $0, input: item.context) },
                                  blockSize: nil)
        }
        return try Self.score(item, logLikelihoods: Self.requests(item).map { try logLikelihood(of: $0.continuation, after: $0.context).value },
                              blockSize: model.dims.blockSize)
    }

    /// The item's log-likelihoods to compute, one per choice.
    public static func requests(_ item: EncodedChoiceItem) -> [LikelihoodRequest] {
        item.choices.map { LikelihoodRequest(context: item.context, continuation: $0) }
    }

    /// The item's scores from its requests' values, however they were computed (here, or through
    /// the training pipeline for an `[[eval]]` entry). `blockSize` nil: nothing was cut (an
    /// encoder-decoder reads the context whole).
    public static func score(_ item: EncodedChoiceItem, logLikelihoods: [Double], blockSize: Int?) throws -> ChoiceScore {
        if let bad = logLikelihoods.first(where: { !$0.isFinite }) {
            throw RunError("the model's log-likelihood of a choice on line \(item.line) is \(bad); its weights are not finite")
        }
        return ChoiceScore(answer: item.answer, logLikelihoods: logLikelihoods, tokenCounts: item.choices.map(\.count),
                           byteCounts: item.choiceBytes,
                           truncated: requests(item).map { request in blockSize.map { request.window(blockSize: $0).start } ?? 0 })
    }

    /// Σ_j log p(continuation[j] | context, continuation[..<j]) from one forward pass, and how
    /// many context tokens were cut from the left to fit the block.
    public func logLikelihood(of continuation: [Int32], after context: [Int32]) throws -> (value: Double, truncated: Int) {
        let (sequence, start, scored) = LikelihoodRequest(context: context, continuation: continuation)
            .window(blockSize: model.dims.blockSize)
        let inputs = Array(sequence.dropLast())
        try inputs.withUnsafeBufferPointer {
            _ = try model.forward(activations, tokens: $0.baseAddress!, targets: nil, T: $0.count)
        }
        let logits = try model.fullLogits(activations)
        var total = 0.0
        for p in scored {
            total += Self.logSoftmax(logits.values + p * logits.ld, V: model.dims.vocabSize, at: Int(sequence[sequence.startIndex + p + 1]))
        }
        return (total, start)
    }

    /// An encoder-decoder's Σ_j log p(target[j] | input, target[..<j]), in nats: one forward with the
    /// target as labels (padded positions' labels −1, which the head ignores), minus its loss.
    func logLikelihood(ofTarget target: [Int32], input: [Int32]) throws -> Double {
        let endOfText = tokenizer.endOfText
        let tokens = model.encoderDecoderTokens(input: input + [endOfText], decoderInputs: [endOfText] + target.dropLast(),
                                                padding: endOfText)
        let labels = target + Array(repeating: -1, count: model.dims.blockSize - target.count)
        let loss = try tokens.withUnsafeBufferPointer { t in
            try labels.withUnsafeBufferPointer { try model.forward(activations, tokens: t.baseAddress!, targets: $0.baseAddress!) }
        }
        return -loss
    }

    /// log softmax(row)[index] over a row's V real logits, in Double: only the rows that predict
    /// a choice token are widened, never the whole (T, V).
    static func logSoftmax(_ row: UnsafePointer<Float>, V: Int, at index: Int) -> Double {
        var largest = -Float.infinity
        for v in 0..<V { largest = max(largest, row[v]) }
        let shift = Double(largest)
        var sum = 0.0
        for v in 0..<V { sum += Foundation.exp(Double(row[v]) - shift) }
        return Double(row[index]) - shift - Foundation.log(sum)
    }
}

/// One log-likelihood a scorer asks for: Σ_j log p(continuation[j] | context, continuation[..<j]),
/// read from one forward pass.
public struct LikelihoodRequest: Sendable {
    public let context: [Int32]
    public let continuation: [Int32]

    public init(context: [Int32], continuation: [Int32]) {
        self.context = context
        self.continuation = continuation
    }

    /// What the forward pass reads: `tokens` (inputs are all but the last, input position p
    /// predicting `tokens[p + 1]`), at most block_size + 1 of them, cut from the left so the whole
    /// continuation and the end of the context remain; `start`, the context tokens cut; `scored`,
    /// the input positions that predict the continuation.
    public func window(blockSize: Int) -> (tokens: ArraySlice<Int32>, start: Int, scored: Range<Int>) {
        precondition(!context.isEmpty && (1...blockSize).contains(continuation.count),
                     "\(continuation.count) continuation tokens after \(context.count) context tokens, block_size \(blockSize)")
        let sequence = context + continuation
        let start = max(0, sequence.count - 1 - blockSize)
        let first = context.count - 1 - start
        return (sequence[start...], start, first..<(first + continuation.count))
    }
}

/// The accuracies of a task's scores.
public struct ChoiceSummary: Sendable, Equatable {
    public let items: Int
    /// Items whose `predicted` (acc) and `predictedNorm` (acc_norm) is the answer.
    public let correct: Int
    public let correctNorm: Int

    public init(_ scores: [ChoiceScore]) {
        items = scores.count
        correct = scores.count { $0.predicted == $0.answer }
        correctNorm = scores.count { $0.predictedNorm == $0.answer }
    }

    public var accuracy: Double { items == 0 ? 0 : Double(correct) / Double(items) }
    public var accuracyNorm: Double { items == 0 ? 0 : Double(correctNorm) / Double(items) }
}
