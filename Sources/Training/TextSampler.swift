import Checkpoint
import Config
import Data
import FileSystem
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

    /// `path` is a model.h5 file, a checkpoint folder, or a run directory: its final model.h5, or
    /// else its newest checkpoint's. Every size comes from the file's config attribute, checked as
    /// a config and against this machine's memory, and each tensor is read only after its declared
    /// shape has been compared with the model's.
    public init(path: String) throws {
        let file = try Self.modelFile(path)
        let reader = try ModelFileReader(path: file)
        let config = try TesseraConfig.parse(toml: reader.attributes.config, source: "\(file) (config attribute)")
        guard let kindName = reader.attributes.strings["tokenizer"],
              let kind = TokenizerKind(rawValue: kindName) else {
            throw SetupError("\(file) records no tokenizer")
        }
        tokenizer = try makeTokenizer(kind: kind, serialized: reader.attributes.strings["tokenizer_data"] ?? "")
        guard let wte = try reader.shape(of: GPTParameterName.tokenEmbedding), wte.count == 2,
              wte[1] == config.model.nEmbd, (tokenizer.vocabSize...Limits.vocabulary).contains(wte[0]) else {
            throw SetupError("\(file) has no '\(GPTParameterName.tokenEmbedding)' tensor of shape (vocabulary, "
                + "model.n_embd = \(config.model.nEmbd)) with a vocabulary of \(tokenizer.vocabSize) to \(Limits.vocabulary) ids")
        }
        let dims = GPTDimensions(config: config.model, vocabSize: wte[0])
        try MemoryGate(sampling: dims).check(ranksOnNode: 1)
        let model = GPT(dims: dims, seed: 0)
        for (i, spec) in model.store.specs.enumerated() {
            try reader.read(spec.name, shape: spec.globalShape,
                            into: UnsafeMutableBufferPointer(start: model.store.values + model.store.offsets[i], count: spec.localCount))
        }
        try reader.file.close()
        self.model = model
        activations = model.makeActivations(batch: 1)
    }

    /// The model file `path` means: itself, a folder's model.h5, or a run directory's newest
    /// checkpoint's. Tessera writes model.h5 as a regular file (a hard link at the run's top).
    static func modelFile(_ path: String) throws -> String {
        let kind = FileKind.of(path)
        if kind.isFile { return path }
        guard kind.isFolder else {
            throw SetupError("checkpoint '\(path)' \(kind == .missing ? "does not exist" : "is \(kind.phrase)")")
        }
        let inside = path + "/model.h5"
        if FileKind.of(inside) == .missing, let (folder, _) = try CheckpointFolder(runDirectory: path).newest() {
            return try modelFile(folder)
        }
        switch FileKind.of(inside) {
        case .regular: return inside
        case .missing: throw SetupError("'\(path)' holds no model.h5 and no complete checkpoint")
        case let other: throw SetupError("\(inside) is \(other.phrase); Tessera writes model.h5 as a regular file")
        }
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
