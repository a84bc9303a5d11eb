import Config
import Data
import Foundation
import Model
import MPI
import Parallel

/// Everything checked and built before the first step: the config, the layout, the data.
/// Built identically on every rank; any failure is agreed on before anyone proceeds.
public struct TrainingSetup: Sendable {
    public let config: TesseraConfig
    public let degrees: ParallelDegrees
    public let corpus: Corpus
    public let dims: GPTDimensions
    /// With `train.objective = "dpo"`: the encoded preference pairs.
    let preferences: PreferencePairs?
    /// The `[[eval]]` entries' data, encoded with the corpus's tokenizer.
    let heldOut: [HeldOutSet]

    /// Loads and validates; every check that can fail on bad input happens here.
    public static func load(configPath: String, overrides: [String], worldSize: Int) throws -> TrainingSetup {
        try TrainingSetup(config: TesseraConfig.load(path: configPath, overrides: overrides), worldSize: worldSize)
    }

    /// Checks a validated config against `worldSize` ranks, its data and the node's memory.
    public init(config: TesseraConfig, worldSize: Int) throws {
        let degrees = try config.validateLayout(worldSize: worldSize)
        let corpus = try Corpus(config: config)
        let dims = try Self.dimensions(config: config, corpus: corpus)
        try MemoryGate(training: dims, tp: degrees.tp, pp: degrees.pp, dp: degrees.dp, ep: degrees.ep,
                       zero: config.parallel.zero == 1, microbatchSize: degrees.microbatchSize).check()
        var preferences: PreferencePairs?
        if config.train.objective == .dpo {
            guard degrees.microbatchSize % 2 == 0 else {
                throw SetupError("train.objective = \"dpo\" needs whole pairs per microbatch: train.batch_size / (dp · "
                    + "parallel.microbatches) = \(degrees.microbatchSize) sequences must be even")
            }
            preferences = try PreferencePairs(path: config.data.preferences, tokenizer: corpus.tokenizer,
                                              blockSize: config.model.blockSize)
        }
        let heldOut = try config.evals.map { try HeldOutSet($0, tokenizer: corpus.tokenizer, dims: dims) }
        try RunMetrics.check(config.alarms, against: RunMetrics.names(config: config, heldOut: heldOut))
        (self.config, self.degrees, self.corpus, self.dims, self.preferences) = (config, degrees, corpus, dims, preferences)
        self.heldOut = heldOut
    }

    /// The model a config describes, its vocabulary the config's or else the corpus tokenizer's.
    public static func dimensions(config: TesseraConfig, corpus: Corpus) throws -> GPTDimensions {
        let vocab = config.model.vocabSize == 0 ? corpus.tokenizer.vocabSize : config.model.vocabSize
        guard vocab >= corpus.tokenizer.vocabSize else {
            throw SetupError("model.vocab_size = \(vocab) is smaller than the \(config.data.tokenizer.rawValue) tokenizer's vocabulary of \(corpus.tokenizer.vocabSize) in \(config.data.path)")
        }
        return GPTDimensions(config: config.model, vocabSize: vocab)
    }
}

/// A one-line problem found before training, printed after `error: `.
public struct SetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension GPTDimensions {
    /// The model a config describes, with `vocabSize` settled (the tokenizer's, or the config's).
    public init(config model: ModelConfig, vocabSize: Int) {
        let experts = model.nExperts == 0 ? nil : ExpertSettings(
            count: model.nExperts, topK: model.topK, capacityFactor: model.capacityFactor,
            auxLossCoefficient: model.auxLossCoef)
        let parts = DecoderParts(
            norm: model.effectiveNorm == .layernorm ? .layerNorm : .rmsNorm, normEps: Float(model.normEps),
            position: model.effectivePosition == .learned ? .learned : .rotary(theta: model.ropeTheta),
            kvHeads: model.effectiveKVHeads, mlp: model.effectiveMLP == .gelu ? .gelu : .swiglu,
            ffnHidden: model.effectiveFFNHidden, bias: model.effectiveBias, tiedEmbeddings: model.effectiveTieEmbeddings)
        self.init(nLayer: model.nLayer, nHead: model.nHead, nEmbd: model.nEmbd, blockSize: model.blockSize,
                  vocabSize: vocabSize, experts: experts, parts: parts)
    }
}
