import Config
import Testing

/// Each out-of-range value (as `--set` overrides) and the key its error must name.
private let outOfRange: [([String], String)] = [
    (["run.seed=-1"], "run.seed"),
    (["run.peak_gflops=-1"], "run.peak_gflops"),
    (["data.val_fraction=0"], "data.val_fraction"),
    (["data.val_fraction=1"], "data.val_fraction"),
    (["model.n_layer=0"], "model.n_layer"),
    (["model.n_head=0"], "model.n_head"),
    (["model.n_embd=0"], "model.n_embd"),
    (["model.n_embd=130"], "model.n_embd"),
    (["model.block_size=0"], "model.block_size"),
    (["model.vocab_size=-1"], "model.vocab_size"),
    (["model.dropout=-0.1"], "model.dropout"),
    (["model.dropout=1"], "model.dropout"),
    (["model.dropout=nan"], "model.dropout"),
    (["model.n_experts=-1"], "model.n_experts"),
    (["model.n_experts=4", "model.top_k=0"], "model.top_k"),
    (["model.n_experts=4", "model.top_k=5"], "model.top_k"),
    (["model.capacity_factor=0"], "model.capacity_factor"),
    (["model.aux_loss_coef=-0.01"], "model.aux_loss_coef"),
    (["model.family=\"t9\""], "model.family"),
    (["model.norm=\"batchnorm\""], "model.norm"),
    (["model.position=\"alibi\""], "model.position"),
    (["model.mlp=\"relu\""], "model.mlp"),
    (["model.norm_eps=0"], "model.norm_eps"),
    (["model.rope_theta=1"], "model.rope_theta"),
    (["model.rope_theta=1e12"], "model.rope_theta"),
    (["model.n_kv_head=-1"], "model.n_kv_head"),
    (["model.n_kv_head=5"], "model.n_kv_head"),
    (["model.n_kv_head=3"], "model.n_kv_head"),                     // does not divide n_head = 4
    (["model.n_embd=132", "model.n_head=4", "model.position=\"rope\""], "model.position"),  // head size 33
    (["model.ffn_hidden=-1"], "model.ffn_hidden"),
    (["model.ffn_hidden=9999999999"], "model.ffn_hidden"),
    (["parallel.tp=0"], "parallel.tp"),
    (["parallel.pp=0"], "parallel.pp"),
    (["parallel.ep=0"], "parallel.ep"),
    (["parallel.microbatches=0"], "parallel.microbatches"),
    (["parallel.zero=2"], "parallel.zero"),
    (["parallel.zero=-1"], "parallel.zero"),
    (["precision.loss_scale=0"], "precision.loss_scale"),
    (["precision.loss_scale=-8"], "precision.loss_scale"),
    (["train.batch_size=0"], "train.batch_size"),
    (["train.steps=0"], "train.steps"),
    (["train.lr=0"], "train.lr"),
    (["train.lr=inf"], "train.lr"),
    (["train.min_lr=-1e-5"], "train.min_lr"),
    (["train.min_lr=0.01"], "train.min_lr"),
    (["train.warmup_steps=-1"], "train.warmup_steps"),
    (["train.weight_decay=-0.1"], "train.weight_decay"),
    (["train.beta1=-0.1"], "train.beta1"),
    (["train.beta1=1"], "train.beta1"),
    (["train.beta2=1.0"], "train.beta2"),
    (["train.grad_clip=-1"], "train.grad_clip"),
    (["train.log_every=0"], "train.log_every"),
    (["train.eval_every=-1"], "train.eval_every"),
    (["train.eval_steps=0"], "train.eval_steps"),
    (["train.dpo_beta=0"], "train.dpo_beta"),
    (["checkpoint.every=-1"], "checkpoint.every"),
    (["checkpoint.keep=0"], "checkpoint.keep"),
    // Upper bounds: every sized key, just past its limit and at 2^63 − 1 (products of these sized
    // buffers and counters: each overflowed or exhausted memory before it had a bound).
    (["model.n_layer=1025"], "model.n_layer"),
    (["model.n_head=1025"], "model.n_head"),
    (["model.n_embd=65537"], "model.n_embd"),
    (["model.block_size=1048577"], "model.block_size"),
    (["model.vocab_size=16777217"], "model.vocab_size"),
    (["model.n_experts=1025"], "model.n_experts"),
    (["model.n_experts=2", "model.capacity_factor=1e300"], "model.capacity_factor"),
    (["model.aux_loss_coef=1e300"], "model.aux_loss_coef"),
    (["parallel.tp=1048577"], "parallel.tp"),
    (["parallel.pp=9223372036854775807"], "parallel.pp"),
    (["parallel.ep=9223372036854775807"], "parallel.ep"),
    (["parallel.microbatches=1048577"], "parallel.microbatches"),
    (["precision.loss_scale=1e300"], "precision.loss_scale"),
    (["train.batch_size=1048577"], "train.batch_size"),
    (["train.steps=100000000"], "train.steps"),
    (["train.steps=9223372036854775807"], "train.steps"),
    (["train.lr=1e300"], "train.lr"),
    (["train.warmup_steps=100000000"], "train.warmup_steps"),
    (["train.lr_decay_steps=100000000"], "train.lr_decay_steps"),
    (["train.weight_decay=1e300"], "train.weight_decay"),
    (["train.log_every=100000000"], "train.log_every"),
    (["train.eval_every=100000000"], "train.eval_every"),
    (["train.eval_steps=1000001"], "train.eval_steps"),
    (["train.dpo_beta=1e300"], "train.dpo_beta"),
    (["checkpoint.every=100000000"], "checkpoint.every"),
    (["checkpoint.keep=1000001"], "checkpoint.keep"),
    (["run.peak_gflops=1e300"], "run.peak_gflops"),
    (["run.dir=\"\""], "run.dir"),
]

@Test(arguments: outOfRange)
func outOfRangeValueIsRejectedNamingItsKey(overrides: [String], key: String) throws {
    let error = try parseError("", overrides)
    #expect(badValueKey(error) == key)
    #expect(error.description.hasPrefix(key + " "), "\(error)")
}

/// Values outside a key's choices, or a choice missing what it requires.
private let badChoices: [([String], String)] = [
    (["data.tokenizer=word"], "data.tokenizer"),
    (["data.tokenizer=sentencepiece"], "data.tokenizer_model"),
    (["parallel.schedule=zigzag"], "parallel.schedule"),
    (["precision.compute=fp16"], "precision.compute"),
    (["precision.grad_allreduce=int8"], "precision.grad_allreduce"),
    (["precision.loss_scale=big"], "precision.loss_scale"),
    (["train.objective=ppo"], "train.objective"),
    (["train.objective=dpo", "data.preferences=p.jsonl"], "train.init_from"),
    (["train.objective=dpo", "train.init_from=runs/a"], "data.preferences"),
]

@Test(arguments: badChoices)
func badChoiceIsRejectedNamingItsKey(overrides: [String], key: String) throws {
    let error = try parseError("", overrides)
    #expect(badValueKey(error) == key)
    #expect(error.description.hasPrefix(key + " "), "\(error)")
}

@Test func rangeMessageSaysKeyValueAndRule() throws {
    #expect(try parseError("[model]\ndropout = 1.5\n").description == "model.dropout = 1.5 must be in [0, 1)")
    #expect(try parseError("", ["data.tokenizer=word"]).description
        == "data.tokenizer must be one of char, byte, sentencepiece, got \"word\" in --set data.tokenizer=word")
}

@Test func boundaryValuesAreAccepted() throws {
    let config = try TesseraConfig.parse(toml: "", overrides: [
        "model.dropout=0", "model.vocab_size=0", "model.top_k=0", "train.min_lr=1e-3", "train.warmup_steps=0",
        "train.weight_decay=0", "train.beta1=0", "train.grad_clip=0", "train.eval_every=0", "checkpoint.every=0",
        "run.seed=0", "run.peak_gflops=0", "parallel.zero=1", "model.n_experts=2", "model.top_k=2",
        "data.tokenizer=sentencepiece", "data.tokenizer_model=sp.model",
        "train.objective=dpo", "train.init_from=runs/a", "data.preferences=p.jsonl",
    ])
    #expect(config.train.minLR == config.train.lr && config.model.topK == 2 && config.train.objective == .dpo)
}

/// Each limit is a value a config may hold.
@Test func everyLimitIsAccepted() throws {
    let config = try TesseraConfig.parse(toml: "", overrides: [
        "model.n_layer=\(Limits.layers)", "model.n_head=\(Limits.heads)", "model.n_embd=\(Limits.embedding)",
        "model.block_size=\(Limits.blockSize)", "model.vocab_size=\(Limits.vocabulary)",
        "model.n_experts=\(Limits.experts)", "model.capacity_factor=\(Limits.capacityFactor)",
        "train.batch_size=\(Limits.batch)", "parallel.microbatches=\(Limits.batch)", "train.steps=\(Limits.steps)",
        "train.warmup_steps=\(Limits.steps)", "train.lr_decay_steps=\(Limits.steps)", "train.log_every=\(Limits.steps)",
        "train.eval_every=\(Limits.steps)", "checkpoint.every=\(Limits.steps)", "train.eval_steps=\(Limits.evalBatches)",
        "checkpoint.keep=\(Limits.keptCheckpoints)", "parallel.tp=\(Limits.ranks)", "train.lr=\(Limits.learningRate)",
        "precision.loss_scale=\(Limits.lossScale)", "run.peak_gflops=\(Limits.peakGflops)",
    ])
    #expect(config.model.nEmbd == Limits.embedding && config.train.steps == Limits.steps)
}

/// Experts are built from the model's MLP part and bias choice, so every family takes them.
@Test(arguments: [["model.family=\"llama\""], ["model.mlp=\"swiglu\""], ["model.bias=false"]])
func expertsComposeWithEveryMLPAndBias(parts: [String]) throws {
    let config = try TesseraConfig.parse(toml: "", overrides: parts + ["model.n_experts=4"])
    #expect(config.model.nExperts == 4)
}

@Test func topKIsFreeWithoutExperts() throws {
    #expect(try TesseraConfig.parse(toml: "", overrides: ["model.top_k=0"]).model.topK == 0)
}

@Test func validateChecksHandBuiltConfigs() throws {
    var config = TesseraConfig()
    config.train.weightDecay = .infinity
    #expect(throws: ConfigError.badValue(key: "train.weight_decay",
                                         message: "train.weight_decay = inf must be finite")) {
        try config.validate()
    }
    config = TesseraConfig()
    config.stages = [Stage(name: "a"), Stage(name: "a")]
    #expect(throws: ConfigError.self) { try config.validate() }
    config.stages = [Stage(name: "")]
    #expect(throws: ConfigError.self) { try config.validate() }
}
