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
public final class TextSampler {
    /// The most tokens one generation may ask for: the context grows by each.
    public static let largestGeneration = 1_000_000

    let model: GPT
    let tokenizer: any Tokenizer
    private let decoder: IncrementalDecoder?
    private let activations: GPTActivations

    /// `path`: a model.h5 file, a checkpoint folder, or a run directory (see `WholeModel`);
    /// `incremental` false: recompute the window for every token (for comparison).
    public convenience init(path: String, incremental: Bool = true) throws {
        let whole = try WholeModel(modelFile: path)
        self.init(model: whole.model, tokenizer: try whole.trainedTokenizer(), incremental: incremental)
    }

    init(model: GPT, tokenizer: any Tokenizer, incremental: Bool = true) {
        self.model = model
        self.tokenizer = tokenizer
        decoder = incremental && IncrementalDecoder.supports(model) ? IncrementalDecoder(model: model) : nil
        activations = model.makeActivations(batch: 1)
    }

    /// The prompt followed by `tokens` generated tokens, decoded.
    public func generate(prompt: String, tokens count: Int, settings: SamplingSettings) throws -> String {
        var context = try tokenizer.encode(prompt)
        if context.isEmpty {
            // Start from a newline when the vocabulary has one, as nanoGPT does.
            context = (try? tokenizer.encode("\n")) ?? [0]
            if context.isEmpty { context = [0] }
        }
        let promptCount = prompt.isEmpty ? 0 : context.count
        try generate(after: &context, tokens: count, settings: settings)
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
