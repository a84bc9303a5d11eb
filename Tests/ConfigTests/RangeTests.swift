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
