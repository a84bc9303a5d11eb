import Config
import Data
import Foundation
import Interop
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
    /// With an encoder-decoder objective: its batches, span-corrupted windows of the corpus or pairs.
    let encoderDecoder: (any EncoderDecoderBatches)?
    /// The `[[eval]]` entries' data, encoded with the corpus's tokenizer.
    let heldOut: [HeldOutSet]

    /// Loads and validates; every check that can fail on bad input happens here.
    public static func load(configPath: String, overrides: [String], worldSize: Int) throws -> TrainingSetup {
        try TrainingSetup(config: TesseraConfig.load(path: configPath, overrides: overrides), worldSize: worldSize)
    }

    /// Checks a validated config against `worldSize` ranks, its data and the node's memory.
    public init(config: TesseraConfig, worldSize: Int) throws {
        let degrees = try config.validateLayout(worldSize: worldSize)
        let corpus: Corpus, encoderDecoder: (any EncoderDecoderBatches)?
        var vocabulary: Int?
        switch config.train.objective {
        case .spanCorruption:
            corpus = try Corpus(config: config)
            let corruption = try SpanCorruption(
                encoderLength: config.model.effectiveEncoderBlockSize, decoderLength: config.model.blockSize,
                noiseDensity: config.train.noiseDensity, meanSpan: config.train.meanSpan, tokenizer: corpus.tokenizer)
            encoderDecoder = try SpanCorruptionSampler(corpus: corpus, seed: config.run.seed, corruption: corruption,
                                                       batchSize: config.train.batchSize)
            vocabulary = corruption.vocabSize
        case .seq2seq:
            let pairs: Seq2SeqPairs
            (pairs, vocabulary) = try Self.pairs(config)
            corpus = Corpus(pairs: pairs)
            encoderDecoder = PairSampler(pairs: pairs, seed: config.run.seed, batchSize: config.train.batchSize)
        case .lm, .dpo:
            corpus = try Corpus(config: config)
            encoderDecoder = nil
        }
        let dims = try Self.dimensions(config: config, corpus: corpus, vocabulary: vocabulary)
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
        self.encoderDecoder = encoderDecoder
        self.heldOut = heldOut
    }

    /// The model a config describes, its vocabulary the config's or else the ids the data holds:
    /// `vocabulary` when given (span corruption's sentinels past the tokenizer's), else the corpus
    /// tokenizer's.
    public static func dimensions(config: TesseraConfig, corpus: Corpus, vocabulary: Int? = nil) throws -> GPTDimensions {
        let needed = vocabulary ?? corpus.tokenizer.vocabSize
        let vocab = config.model.vocabSize == 0 ? needed : config.model.vocabSize
        guard vocab >= needed else {
            throw SetupError("model.vocab_size = \(vocab) is smaller than the \(needed) ids of \(config.data.path) "
                + "(the \(corpus.tokenizer.kind.rawValue) tokenizer's\(vocabulary == nil ? "" : ", with the objective's"))")
        }
        return GPTDimensions(config: config.model, vocabSize: vocab)
    }

    /// The seq2seq pairs of `data.path`, and the vocabulary the model needs. Starting from a
    /// Tessera model (`train.init_from`, say a span-corruption run), they are encoded with its
    /// tokenizer, so that its ids mean the same, and the model keeps its vocabulary (sentinels
    /// included); otherwise as `data.tokenizer` says (a prepared folder carries its own).
    private static func pairs(_ config: TesseraConfig) throws -> (Seq2SeqPairs, vocabulary: Int) {
        let (S, T) = (config.model.effectiveEncoderBlockSize, config.model.blockSize)
        let initFrom = config.train.initFrom
        if !initFrom.isEmpty, !HFCheckpoint.holdsConfig(initFrom), !Corpus.isPreparedFolder(config.data.path) {
            let recorded = try WholeModel.recordedTokenizer(initFrom)
            let pairs = try Seq2SeqPairs(jsonl: config.data.path, tokenizer: recorded.tokenizer,
                                         valFraction: config.data.valFraction, encoderLength: S, decoderLength: T)
            return (pairs, max(recorded.vocabSize, pairs.tokenizer.vocabSize))
        }
        let pairs = try Seq2SeqPairs(path: config.data.path, tokenizer: config.data.tokenizer,
                                     tokenizerModel: config.data.tokenizerModel, valFraction: config.data.valFraction,
                                     encoderLength: S, decoderLength: T)
        return (pairs, pairs.tokenizer.vocabSize)
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
        let position: DecoderParts.Position = switch model.effectivePosition {
        case .learned: .learned
        case .rope: .rotary(theta: model.ropeTheta)
        case .relative: .relative(buckets: model.relativeBuckets, maxDistance: model.relativeMaxDistance)
        }
        let mlp: DecoderParts.MLP = switch model.effectiveMLP {
        case .gelu: .gelu
        case .swiglu: .swiglu
        case .geglu: .geglu
        }
        let parts = DecoderParts(
            norm: model.effectiveNorm == .layernorm ? .layerNorm : .rmsNorm, normEps: Float(model.normEps),
            position: position, kvHeads: model.effectiveKVHeads, mlp: mlp, ffnHidden: model.effectiveFFNHidden,
            bias: model.effectiveBias, tiedEmbeddings: model.effectiveTieEmbeddings,
            initialization: model.family == .t5 ? .fanIn : .gpt2)
        let encoder = model.family == .t5
            ? EncoderShape(layers: model.effectiveEncoderLayers, blockSize: model.effectiveEncoderBlockSize) : nil
        self.init(nLayer: model.totalLayers, nHead: model.nHead, nEmbd: model.nEmbd, blockSize: model.blockSize,
                  vocabSize: vocabSize, experts: experts, parts: parts, encoder: encoder)
    }
}
