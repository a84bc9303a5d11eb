import Config
import Testing

/// A config with every key away from its default, strings that need escaping and stages.
private func everythingChanged() -> TesseraConfig {
    var c = TesseraConfig()
    c.run.dir = "runs/\"quoted\" \\ tab\t新"
    c.run.seed = 7
    c.run.peakGflops = 187.5
    c.data.path = "data/other.txt"
    c.data.tokenizer = .sentencepiece
    c.data.tokenizerModel = "sp.model"
    c.data.valFraction = 0.05
    c.data.preferences = "prefs.jsonl"
    c.model.nLayer = 6
    c.model.nHead = 6
    c.model.nEmbd = 384
    c.model.blockSize = 256
    c.model.vocabSize = 50304
    c.model.dropout = 0.2
    c.model.nExperts = 8
    c.model.topK = 1
    c.model.capacityFactor = 2
    c.model.auxLossCoef = 1e-5
    c.parallel.tp = 2
    c.parallel.pp = 3
    c.parallel.ep = 4
    c.parallel.microbatches = 5
    c.parallel.schedule = .gpipe
    c.parallel.zero = 1
    c.precision.compute = .bf16
    c.precision.gradAllreduce = .fp16
    c.precision.lossScale = .fixed(65536)
    c.train.batchSize = 64
    c.train.steps = 5000
    c.train.lr = 6e-4
    c.train.minLR = 6e-5
    c.train.warmupSteps = 0
    c.train.weightDecay = 0
    c.train.beta1 = 0.8
    c.train.beta2 = 0.95
    c.train.gradClip = 0
    c.train.logEvery = 1
    c.train.evalEvery = 0
    c.train.evalSteps = 200
    c.train.objective = .dpo
    c.train.initFrom = "runs/base"
    c.train.dpoBeta = 0.5
    c.checkpoint.every = 0
    c.checkpoint.keep = 1
    c.stages = [
        Stage(name: "pretrain", set: ["train.steps": .int(2000), "train.lr": .float(1e-3)]),
        Stage(name: "dpo", set: ["train.objective": .string("dpo"), "precision.loss_scale": .string("none")]),
        Stage(name: "empty"),
    ]
    return c
}

@Test func tomlTextOfTheDefaultParsesBackEqual() throws {
    let config = TesseraConfig()
    #expect(try TesseraConfig.parse(toml: config.tomlText()) == config)
}

@Test func tomlTextOfAFullyChangedConfigParsesBackEqual() throws {
    let config = everythingChanged()
    try config.validate()
    #expect(try TesseraConfig.parse(toml: config.tomlText()) == config)
}

@Test func tomlTextIsInContractOrderWithShortFloats() {
    let text = TesseraConfig().tomlText()
    let headers = text.split(separator: "\n").filter { $0.hasPrefix("[") }
    #expect(headers == ["[run]", "[data]", "[model]", "[parallel]", "[precision]", "[train]", "[checkpoint]"])
    #expect(text.hasPrefix("[run]\ndir = \"runs/shakespeare-char\"\nseed = 1337\n"))
    for line in ["lr = 0.001", "min_lr = 0.0001", "dropout = 0.0", "loss_scale = \"dynamic\"", "schedule = \"1f1b\""] {
        #expect(text.contains("\n" + line + "\n"), "missing \(line)")
    }
}

@Test func stagesRenderAsArrayOfTables() {
    let text = everythingChanged().tomlText()
    #expect(text.contains("[[stage]]\nname = \"pretrain\"\nset = { \"train.lr\" = 0.001, \"train.steps\" = 2000 }\n"))
    #expect(text.contains("[[stage]]\nname = \"empty\"\nset = {}\n"))
}
