import Config
import Foundation
import Testing

/// The contract's Config section, verbatim: every key at its default.
private let contractTOML = """
    [run]
    dir = "runs/shakespeare-char"   # metrics, checkpoints, samples
    seed = 1337

    [data]
    path = "data/tinyshakespeare.txt" # raw UTF-8 text, or a folder of token shards made by `tessera prepare`
    tokenizer = "char"                # char | byte | sentencepiece
    tokenizer_model = ""              # a SentencePiece .model for tokenizer = "sentencepiece"
    val_fraction = 0.1
    preferences = ""

    [model]
    n_layer = 4
    n_head = 4
    n_embd = 128
    block_size = 64
    vocab_size = 0          # 0 = taken from the tokenizer
    dropout = 0.0
    n_experts = 0           # 0 = dense MLP; > 0 = mixture-of-experts MLP
    top_k = 2
    capacity_factor = 1.25
    aux_loss_coef = 0.01

    [parallel]              # world size = dp * pp * tp; dp is derived
    tp = 1                  # tensor (layer) parallel
    pp = 1                  # pipeline stages
    ep = 1                  # expert parallel, carved out of dp (ep divides dp)
    microbatches = 1        # pipeline microbatches per step
    schedule = "1f1b"       # 1f1b | gpipe
    zero = 0                # 1 = optimizer state sharded across dp

    [precision]
    compute = "fp32"        # fp32 | bf16
    grad_allreduce = "fp32" # fp32 | bf16 | fp16 (wire format; accumulation in fp32)
    loss_scale = "dynamic"  # dynamic | none | a number; used with fp16

    [train]
    batch_size = 12         # sequences per optimizer step, global (all dp ranks, all microbatches)
    steps = 2000
    lr = 1e-3
    min_lr = 1e-4
    warmup_steps = 100
    weight_decay = 0.1
    beta1 = 0.9
    beta2 = 0.99
    grad_clip = 1.0
    log_every = 10
    eval_every = 250
    eval_steps = 20
    objective = "lm"        # lm | dpo
    init_from = ""
    dpo_beta = 0.1

    [checkpoint]
    every = 500             # 0 = only at the end
    keep = 3
    """

@Test func contractExampleParsesToTheDefaultConfig() throws {
    #expect(try TesseraConfig.parse(toml: contractTOML) == TesseraConfig())
}

@Test func emptyFileGivesTheDefaultConfig() throws {
    #expect(try TesseraConfig.parse(toml: "") == TesseraConfig())
}

@Test func defaultsMatchTheContract() {
    let config = TesseraConfig()
    #expect(config.run.dir == "runs/shakespeare-char" && config.run.seed == 1337)
    #expect(config.data.tokenizer == .char && config.data.valFraction == 0.1)
    #expect(config.model.nLayer == 4 && config.model.nEmbd == 128 && config.model.capacityFactor == 1.25)
    #expect(config.parallel.schedule == .oneFOneB && config.precision.lossScale == .dynamic)
    #expect(config.train.lr == 1e-3 && config.train.minLR == 1e-4 && config.train.objective == .lm)
    #expect(config.checkpoint.every == 500 && config.checkpoint.keep == 3 && config.stages.isEmpty)
}

@Test func defaultConfigIsValid() throws {
    try TesseraConfig().validate()
}

@Test func fileValuesReplaceDefaults() throws {
    let config = try TesseraConfig.parse(toml: """
        [model]
        n_layer = 6
        dropout = 0.2
        [precision]
        loss_scale = 1024
        """)
    #expect(config.model.nLayer == 6 && config.model.dropout == 0.2 && config.precision.lossScale == .fixed(1024))
    #expect(config.model.nHead == 4)
}

@Test func jsonUsesTheTOMLNamesAndRoundTrips() throws {
    var config = TesseraConfig()
    config.precision.lossScale = .fixed(512)
    config.stages = [Stage(name: "a", set: ["train.steps": .int(5)])]
    let json = try JSONEncoder().encode(config)
    #expect(String(decoding: json, as: UTF8.self).contains("\"n_layer\":4"))
    #expect(try JSONDecoder().decode(TesseraConfig.self, from: json) == config)
}
