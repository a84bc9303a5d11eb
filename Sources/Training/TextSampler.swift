import Data
import Foundation
import Model
import Random

public struct SamplingSettings: Sendable {
    public let temperature: Float
    public let topK: Int
    public let seed: UInt64

    public init(temperature: Float, topK: Int, seed: UInt64) {
        self.temperature = temperature
        self.topK = topK
        self.seed = seed
    }
}

/// Autoregressive generation from a model.h5 on one process. Dense models decode incrementally
/// (`IncrementalDecoder`: one token's forward per token); when the context fills the block, the
/// cache restarts from the last half block of tokens. A mixture of experts recomputes the window
/// (its last block_size tokens) for every token.
///
/// An encoder-decoder (t5) generates a target for the prompt as its input instead
/// (`EncoderDecoderGenerator`: the input encoded once), ending at the end-of-text id.
public final class TextSampler {
    /// The most tokens one generation may ask for: the context grows by each.
    public static let largestGeneration = 1_000_000

    let model: GPT
    let tokenizer: any Tokenizer
    private let decoder: IncrementalDecoder?
    private let encoderDecoder: EncoderDecoderGenerator?
    private let activations: GPTActivations
    /// Tokens the last `generate` made (an encoder-decoder's target may end early).
    public private(set) var generatedTokens = 0

    /// Whether `generate` returns a target for the prompt (t5) rather than the prompt continued.
    var isEncoderDecoder: Bool { model.dims.encoder != nil }

    /// `path`: a model.h5 file, a checkpoint folder, or a run directory (see `WholeModel`);
    /// `incremental` false: recompute the window for every token (for comparison).
    public convenience init(path: String, incremental: Bool = true) throws {
        let whole = try WholeModel(modelFile: path)
        self.init(model: whole.model, tokenizer: try whole.trainedTokenizer(), incremental: incremental)
    }

    init(model: GPT, tokenizer: any Tokenizer, incremental: Bool = true) {
        self.model = model
        self.tokenizer = tokenizer
        let cached = incremental && IncrementalDecoder.supports(model)
        decoder = cached && model.dims.encoder == nil ? IncrementalDecoder(model: model) : nil
        encoderDecoder = cached && model.dims.encoder != nil ? EncoderDecoderGenerator(model: model) : nil
        activations = model.makeActivations(batch: 1)
    }

    /// The prompt followed by `tokens` generated tokens, decoded; for an encoder-decoder, the
    /// target generated with the prompt as input (see `target`).
    public func generate(prompt: String, tokens count: Int, settings: SamplingSettings) throws -> String {
        if isEncoderDecoder { return try target(input: prompt, tokens: count, settings: settings) }
        var context = try tokenizer.encode(prompt)
        if context.isEmpty {
            // Start from a newline when the vocabulary has one, as nanoGPT does.
            context = (try? tokenizer.encode("\n")) ?? [0]
            if context.isEmpty { context = [0] }
        }
        let promptCount = prompt.isEmpty ? 0 : context.count
        try generate(after: &context, tokens: count, settings: settings)
        generatedTokens = count
        let generated = Array(context.dropFirst(prompt.isEmpty ? context.count - count : promptCount))
        return prompt + tokenizer.decode(generated)
    }

    /// Appends `count` sampled tokens to `context` (not empty).
    func generate(after context: inout [Int32], tokens count: Int, settings: SamplingSettings) throws {
        guard count > 0 else { return }
        let rng = CounterRNG(seed: settings.seed, label: "sample")
        let V = model.dims.vocabSize, blockSize = model.dims.blockSize
        var probabilities = [Float](repeating: 0, count: V)
        var logits = try nextLogits(context, window: blockSize)
        for i in 0..<count {
            let token = Int32(pick(logits: logits, V: V, into: &probabilities, settings: settings,
                                   uniform: rng.uniform(UInt64(i))))
            context.append(token)
            guard i + 1 < count else { break }
            if let decoder, decoder.length < decoder.capacity {
                logits = [token].withUnsafeBufferPointer { decoder.append($0) }
            } else {
                logits = try nextLogits(context, window: decoder == nil ? blockSize : max(1, blockSize / 2))
            }
        }
    }

    /// The logits after the last `window` tokens of `context`: a prefill of the decoder, or a full
    /// forward over the window.
    private func nextLogits(_ context: [Int32], window: Int) throws -> UnsafePointer<Float> {
        let tokens = Array(context.suffix(window))
        if let decoder {
            decoder.reset()
            return tokens.withUnsafeBufferPointer { decoder.append($0) }
        }
        try tokens.withUnsafeBufferPointer {
            _ = try model.forward(activations, tokens: $0.baseAddress!, targets: nil, T: tokens.count)
        }
        let logits = try model.fullLogits(activations)
        return logits.values + (tokens.count - 1) * logits.ld
    }

    /// What `generate` adds to the prompt: its continuation, or an encoder-decoder's target.
    public func continuation(prompt: String, tokens count: Int, settings: SamplingSettings) throws -> String {
        let text = try generate(prompt: prompt, tokens: count, settings: settings)
        return isEncoderDecoder ? text : String(text.dropFirst(prompt.count))
    }

    /// An encoder-decoder's target for `text` as its input (its tokens and the end-of-text id, as
    /// training inputs end; more than S ids is refused): tokens drawn one at a time from the start
    /// id, until the end-of-text id (not part of the text) or min(`count`, T) tokens.
    func target(input text: String, tokens count: Int, settings: SamplingSettings) throws -> String {
        let endOfText = tokenizer.endOfText, input = try encoderInput(text)
        let rng = CounterRNG(seed: settings.seed, label: "sample")
        let V = model.dims.vocabSize, longest = min(count, model.dims.blockSize)
        var probabilities = [Float](repeating: 0, count: V)
        var decoderInputs = [endOfText]
        generatedTokens = 0
        while generatedTokens < longest {
            let logits = try targetLogits(input: input, decoderInputs: decoderInputs)
            let token = Int32(pick(logits: logits, V: V, into: &probabilities, settings: settings,
                                   uniform: rng.uniform(UInt64(generatedTokens))))
            if token == endOfText { break }
            decoderInputs.append(token)
            generatedTokens += 1
        }
        return tokenizer.decode(Array(decoderInputs.dropFirst()))
    }

    /// An encoder-decoder's input ids for `text`: its tokens and the end-of-text id, as training
    /// inputs end; more than encoder_block_size of them is refused (nothing is cut).
    private func encoderInput(_ text: String) throws -> [Int32] {
        let input = try tokenizer.encode(text) + [tokenizer.endOfText], S = model.dims.encoderBlockSize
        guard input.count <= S else {
            throw RunError("the prompt is \(input.count) tokens with its end of text, more than the model's "
                + "encoder_block_size of \(S); shorten it")
        }
        return input
    }

    /// Throws what `generate` would for `prompt` before generating anything: text the tokenizer
    /// cannot encode, or a t5 input longer than the encoder's block.
    public func check(prompt: String) throws {
        if isEncoderDecoder { _ = try encoderInput(prompt) } else { _ = try tokenizer.encode(prompt) }
    }

    /// The logits after the last of `decoderInputs` given `input`: the next token of the
    /// generator's cache (encoding the input at the first), or a full forward over both.
    private func targetLogits(input: [Int32], decoderInputs: [Int32]) throws -> UnsafePointer<Float> {
        if let encoderDecoder {
            if decoderInputs.count == 1 { encoderDecoder.encode(input) }
            return [decoderInputs.last!].withUnsafeBufferPointer { encoderDecoder.append($0) }
        }
        let tokens = model.encoderDecoderTokens(input: input, decoderInputs: decoderInputs, padding: tokenizer.endOfText)
        try tokens.withUnsafeBufferPointer { _ = try model.forward(activations, tokens: $0.baseAddress!, targets: nil) }
        let logits = try model.fullLogits(activations)
        return logits.values + (decoderInputs.count - 1) * logits.ld
    }

    /// The k-th largest of `values` (1 ≤ k ≤ count): the k largest kept in a min-heap, one pass.
    static func largest(_ k: Int, of values: [Float]) -> Float {
        var heap = Array(values.prefix(k))
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let left = 2 * i + 1, right = left + 1
                var smallest = i
                if left < k && heap[left] < heap[smallest] { smallest = left }
                if right < k && heap[right] < heap[smallest] { smallest = right }
                if smallest == i { return }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }
        for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i) }
        for value in values.dropFirst(k) where value > heap[0] {
            heap[0] = value
            siftDown(0)
        }
        return heap[0]
    }

    /// Temperature, then top-k, then one draw from the categorical distribution.
    private func pick(logits: UnsafePointer<Float>, V: Int, into p: inout [Float],
                      settings: SamplingSettings, uniform: Float) -> Int {
        for j in 0..<V { p[j] = logits[j] / settings.temperature }
        if settings.topK > 0 && settings.topK < V {
            let threshold = Self.largest(settings.topK, of: p)
            for j in 0..<V where p[j] < threshold { p[j] = -.infinity }
        }
        let maxLogit = p.max() ?? 0
        var total: Float = 0
        for j in 0..<V {
            p[j] = p[j] == -.infinity ? 0 : Foundation.exp(p[j] - maxLogit)
            total += p[j]
        }
        var target = uniform * total
        for j in 0..<V {
            target -= p[j]
            if target < 0 { return j }
        }
        return p.lastIndex(where: { $0 > 0 }) ?? 0
    }
}
