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

/// Autoregressive generation from a model.h5 on one process.
public final class TextSampler {
    /// The most tokens one generation may ask for: the context grows by each.
    public static let largestGeneration = 1_000_000

    let model: GPT
    let tokenizer: any Tokenizer
    let activations: GPTActivations

    /// `path`: a model.h5 file, a checkpoint folder, or a run directory (see `TrainedModel`).
    public init(path: String) throws {
        let loaded = try TrainedModel(path: path)
        model = loaded.model
        tokenizer = loaded.tokenizer
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
        let rng = CounterRNG(seed: settings.seed, label: "sample")
        let V = model.dims.vocabSize, blockSize = model.dims.blockSize
        var probabilities = [Float](repeating: 0, count: V)
        for i in 0..<count {
            let window = Array(context.suffix(blockSize))
            try window.withUnsafeBufferPointer {
                _ = try model.forward(activations, tokens: $0.baseAddress!, targets: nil, T: window.count)
            }
            let logits = try model.fullLogits(activations)
            let last = logits.values + (window.count - 1) * logits.ld
            context.append(Int32(pick(logits: last, V: V, into: &probabilities, settings: settings,
                                      uniform: rng.uniform(UInt64(i)))))
        }
        let generated = Array(context.dropFirst(prompt.isEmpty ? context.count - count : promptCount))
        return prompt + tokenizer.decode(generated)
    }

    /// Temperature, then top-k, then one draw from the categorical distribution.
    private func pick(logits: UnsafePointer<Float>, V: Int, into p: inout [Float],
                      settings: SamplingSettings, uniform: Float) -> Int {
        for j in 0..<V { p[j] = logits[j] / settings.temperature }
        if settings.topK > 0 && settings.topK < V {
            let threshold = p.sorted(by: >)[settings.topK - 1]
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
