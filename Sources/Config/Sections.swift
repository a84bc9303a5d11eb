import Kernels
import Parallel

/// The config sections, one struct each, with the contract's defaults (INTERFACE.md, "Config").
/// Property names are camelCase; `CodingKeys` carry the TOML names so JSON views match the file.

/// `[run]`: where a run writes and what seeds it.
public struct RunConfig: Sendable, Codable, Equatable {
    /// Metrics, checkpoints and samples go here.
    public var dir = "runs/shakespeare-char"
    /// Seeds every `CounterRNG` of the run (weights, batches, dropout).
    public var seed = 1337
    /// sgemm GFLOP/s per rank that model FLOPs utilisation is reported against; 0 = measured at
    /// start-up by every rank at once on the model's largest GEMM.
    public var peakGflops = 0.0
    /// TensorBoard event files under RUN_DIR/tensorboard/, one event per metrics row.
    public var tensorboard = false
    /// RUN_DIR/metrics.prom in the Prometheus text format, the latest value of every metric.
    public var prometheus = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case dir, seed, peakGflops = "peak_gflops", tensorboard, prometheus
    }
}

/// `[data]`: the corpus and how it is tokenized.
public struct DataConfig: Sendable, Codable, Equatable {
    /// Raw UTF-8 text, or a folder of token shards made by `tessera prepare`.
    public var path = "data/tinyshakespeare.txt"
    public var tokenizer = TokenizerKind.char
    /// A SentencePiece `.model`; required for `tokenizer = "sentencepiece"`.
    public var tokenizerModel = ""
    /// The last fraction of tokens that forms the validation split.
    public var valFraction = 0.1
    /// JSONL of `{"prompt", "chosen", "rejected"}` for `train.objective = "dpo"`.
    public var preferences = ""

    public init() {}

    enum CodingKeys: String, CodingKey {
        case path, tokenizer, tokenizerModel = "tokenizer_model", valFraction = "val_fraction", preferences
    }
}

/// `[model]`: the decoder's shape and parts. The part keys left nil take the family's choice
/// (read them through `effective...`); `tomlText()` writes the effective values.
public struct ModelConfig: Sendable, Codable, Equatable {
    public var family = ModelFamily.gpt2
    public var nLayer = 4
    public var nHead = 4
    public var nEmbd = 128
    public var blockSize = 64
    /// 0 = taken from the tokenizer.
    public var vocabSize = 0
    public var dropout = 0.0
    /// 0 = dense MLP; > 0 = mixture-of-experts MLP, each expert the dense MLP's parts (mlp,
    /// ffn_hidden, bias).
    public var nExperts = 0
    public var topK = 2
    public var capacityFactor = 1.25
    public var auxLossCoef = 0.01
    public var norm: NormKind?
    public var normEps = 1e-5
    public var position: PositionKind?
    public var ropeTheta = 10_000.0
    /// 0 = n_head (multi-head attention).
    public var nKVHead = 0
    public var mlp: MLPKind?
    /// 0 = the family's.
    public var ffnHidden = 0
    public var bias: Bool?
    public var tieEmbeddings: Bool?
    /// Family t5: the encoder's and the decoder's layers (0 = n_layer, as Hugging Face's T5 takes
    /// num_layers for both), and the inputs' length (0 = block_size, the targets').
    public var nEncoderLayer = 0
    public var nDecoderLayer = 0
    public var encoderBlockSize = 0
    /// Family t5: the relative position bias's buckets and the distance where they stop growing.
    public var relativeBuckets = 32
    public var relativeMaxDistance = 128

    public init() {}

    public var effectiveEncoderLayers: Int { nEncoderLayer == 0 ? nLayer : nEncoderLayer }
    public var effectiveDecoderLayers: Int { nDecoderLayer == 0 ? nLayer : nDecoderLayer }
    public var effectiveEncoderBlockSize: Int { encoderBlockSize == 0 ? blockSize : encoderBlockSize }
    /// Layers in all: the encoder's and the decoder's for t5, else n_layer.
    public var totalLayers: Int { family == .t5 ? effectiveEncoderLayers + effectiveDecoderLayers : nLayer }

    public var effectiveNorm: NormKind { norm ?? family.norm }
    public var effectivePosition: PositionKind { position ?? family.position }
    public var effectiveMLP: MLPKind { mlp ?? family.mlp }
    public var effectiveBias: Bool { bias ?? family.bias }
    public var effectiveTieEmbeddings: Bool { tieEmbeddings ?? family.tieEmbeddings }
    public var effectiveKVHeads: Int { nKVHead == 0 ? nHead : nKVHead }
    public var effectiveFFNHidden: Int { ffnHidden == 0 ? family.ffnHidden(nEmbd: nEmbd) : ffnHidden }

    /// Equal when they describe the same model: a part left to the family equals the same part
    /// written out (as `tomlText()` writes it).
    public static func == (a: ModelConfig, b: ModelConfig) -> Bool {
        a.family == b.family && a.nLayer == b.nLayer && a.nHead == b.nHead && a.nEmbd == b.nEmbd
            && a.blockSize == b.blockSize && a.vocabSize == b.vocabSize && a.dropout == b.dropout
            && a.nExperts == b.nExperts && a.topK == b.topK && a.capacityFactor == b.capacityFactor
            && a.auxLossCoef == b.auxLossCoef && a.effectiveNorm == b.effectiveNorm && a.normEps == b.normEps
            && a.effectivePosition == b.effectivePosition && a.ropeTheta == b.ropeTheta && a.nKVHead == b.nKVHead
            && a.effectiveMLP == b.effectiveMLP && a.ffnHidden == b.ffnHidden && a.effectiveBias == b.effectiveBias
            && a.effectiveTieEmbeddings == b.effectiveTieEmbeddings && a.nEncoderLayer == b.nEncoderLayer
            && a.nDecoderLayer == b.nDecoderLayer && a.encoderBlockSize == b.encoderBlockSize
            && a.relativeBuckets == b.relativeBuckets && a.relativeMaxDistance == b.relativeMaxDistance
    }

    enum CodingKeys: String, CodingKey {
        case family, nLayer = "n_layer", nHead = "n_head", nEmbd = "n_embd", blockSize = "block_size"
        case vocabSize = "vocab_size", dropout, nExperts = "n_experts", topK = "top_k"
        case capacityFactor = "capacity_factor", auxLossCoef = "aux_loss_coef"
        case norm, normEps = "norm_eps", position, ropeTheta = "rope_theta", nKVHead = "n_kv_head", mlp
        case ffnHidden = "ffn_hidden", bias, tieEmbeddings = "tie_embeddings"
        case nEncoderLayer = "n_encoder_layer", nDecoderLayer = "n_decoder_layer", encoderBlockSize = "encoder_block_size"
        case relativeBuckets = "relative_buckets", relativeMaxDistance = "relative_max_distance"
    }
}

/// `[parallel]`: world size = dp · pp · tp; dp is derived (see `validateLayout(worldSize:)`).
public struct ParallelConfig: Sendable, Codable, Equatable {
    /// Tensor (layer) parallel degree.
    public var tp = 1
    /// Pipeline stages.
    public var pp = 1
    /// Expert parallel degree, carved out of dp (ep divides dp).
    public var ep = 1
    /// Pipeline microbatches per optimizer step.
    public var microbatches = 1
    public var schedule = PipelineSchedule.oneFOneB
    /// 1 = optimizer state sharded across dp (ZeRO-1).
    public var zero = 0

    public init() {}
}

/// `[precision]`: compute type and gradient wire format.
public struct PrecisionConfig: Sendable, Codable, Equatable {
    public var compute = ComputeType.fp32
    /// Wire format of the gradient all-reduce; accumulation is always fp32.
    public var gradAllreduce = WireType.fp32
    /// Used with fp16 gradients.
    public var lossScale = LossScale.dynamic

    public init() {}

    enum CodingKeys: String, CodingKey {
        case compute, gradAllreduce = "grad_allreduce", lossScale = "loss_scale"
    }
}

/// `[train]`: the optimizer loop.
public struct TrainConfig: Sendable, Codable, Equatable {
    /// Sequences per optimizer step, global (all dp ranks, all microbatches).
    public var batchSize = 12
    public var steps = 2000
    public var lr = 1e-3
    public var minLR = 1e-4
    public var warmupSteps = 100
    /// Where the cosine reaches `minLR`; 0 = `steps`. Set apart from `steps`, a run can stop early
    /// (a sweep's rung) and later resume with more steps on the same schedule.
    public var lrDecaySteps = 0
    public var weightDecay = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.99
    /// 0 = no clipping.
    public var gradClip = 1.0
    public var logEvery = 10
    /// 0 = no evaluation.
    public var evalEvery = 250
    public var evalSteps = 20
    public var objective = TrainingObjective.lm
    /// A checkpoint (or run dir) whose weights start this run; required for dpo.
    public var initFrom = ""
    public var dpoBeta = 0.1
    /// span_corruption: the share of input tokens masked, and the mean length of a masked span.
    public var noiseDensity = 0.15
    public var meanSpan = 3.0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case batchSize = "batch_size", steps, lr, minLR = "min_lr", warmupSteps = "warmup_steps"
        case lrDecaySteps = "lr_decay_steps"
        case weightDecay = "weight_decay", beta1, beta2, gradClip = "grad_clip", logEvery = "log_every"
        case evalEvery = "eval_every", evalSteps = "eval_steps", objective, initFrom = "init_from"
        case dpoBeta = "dpo_beta", noiseDensity = "noise_density", meanSpan = "mean_span"
    }
}

/// `[checkpoint]`: how often to save and how many to keep.
public struct CheckpointConfig: Sendable, Codable, Equatable {
    /// 0 = only at the end.
    public var every = 500
    public var keep = 3

    public init() {}
}

/// One `[[stage]]` of `tessera pipeline`: a name and dotted-key overrides applied to the base
/// config, or a name and a drift check (`drift`) that gates the stages after it.
public struct Stage: Sendable, Codable, Equatable {
    public var name: String
    /// Dotted key (`"train.steps"`) → value, already checked against the key's type when loaded.
    public var set: [String: ConfigValue]
    /// A gate instead of a training run.
    public var drift: DriftGate?

    public init(name: String, set: [String: ConfigValue] = [:], drift: DriftGate? = nil) {
        self.name = name
        self.set = set
        self.drift = drift
    }
}
