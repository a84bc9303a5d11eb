/// The largest value each sized config key may take: generous next to any real model, small enough
/// that every product the run forms from them (buffer sizes, sampler counters, checkpoint folder
/// names) stays inside a 64-bit integer. A config past one is refused by `validate()` in well under a
/// second, before anything is allocated; whether a valid config fits the machine is checked later,
/// against its memory, by the training setup.
public enum Limits {
    /// model.n_layer.
    public static let layers = 1024
    /// model.n_head.
    public static let heads = 1024
    /// model.n_embd (the largest public models use 16,384–25,600).
    public static let embedding = 65_536
    /// model.ffn_hidden: 16 × the largest n_embd.
    public static let ffnHidden = 16 * embedding
    /// model.rope_theta (Llama 3 uses 500,000).
    public static let ropeTheta = 1e9
    /// Buckets of the relative position bias.
    public static let relativeBuckets = 1024
    /// model.block_size, 2^20 tokens.
    public static let blockSize = 1 << 20
    /// model.vocab_size, 2^24 ids (token ids are 32-bit; the largest vocabularies hold ~256 Ki).
    public static let vocabulary = 1 << 24
    /// model.n_experts.
    public static let experts = 1024
    /// model.capacity_factor: from n_experts / top_k up, no token is ever dropped.
    public static let capacityFactor = 1024.0
    /// train.batch_size and parallel.microbatches, 2^20 sequences per step.
    public static let batch = 1 << 20
    /// train.steps and every key counted in steps: checkpoint folders are named with eight digits
    /// (`step_00000500`), which sort in step order only below 10^8.
    public static let steps = 99_999_999
    /// train.eval_steps: evaluation batches per evaluation.
    public static let evalBatches = 1_000_000
    /// checkpoint.keep.
    public static let keptCheckpoints = 1_000_000
    /// parallel.tp, pp and ep.
    public static let ranks = 1 << 20
    /// train.lr: far past any useful rate, but a run may be driven to divergence on purpose (a
    /// non-finite loss ends it with exit 1), so only absurd values are refused.
    public static let learningRate = 1e6
    /// Loss and regularisation coefficients (model.aux_loss_coef, train.weight_decay, train.dpo_beta).
    public static let coefficient = 1e6
    /// A fixed precision.loss_scale: fp16 gradients overflow far below it.
    public static let lossScale = 16_777_216.0
    /// alarm.window: values a jump's median is taken over.
    public static let alarmWindow = 100_000
    /// alarm.value for when = "stalled": a week, in seconds.
    public static let stallSeconds = 604_800.0
    /// run.peak_gflops, 10^7 GFLOP/s (ten PFLOP/s per rank).
    public static let peakGflops = 1e7
}
