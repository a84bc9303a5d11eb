import Config
import Testing

private func config(_ overrides: [String]) throws -> TesseraConfig {
    try TesseraConfig.parse(toml: "", overrides: overrides)
}

private func layoutError(_ overrides: [String], worldSize: Int) throws -> String {
    let config = try config(overrides)
    let error = try #require(throws: ConfigError.self) { try config.validateLayout(worldSize: worldSize) }
    guard case .badLayout = error else {
        Issue.record("expected badLayout, got \(error)")
        return ""
    }
    return error.description
}

@Test func singleRankIsAllDataParallelOfOne() throws {
    let d = try TesseraConfig().validateLayout(worldSize: 1)
    #expect([d.worldSize, d.dp, d.tp, d.pp, d.ep, d.microbatches, d.batchPerReplica, d.microbatchSize]
        == [1, 1, 1, 1, 1, 1, 12, 12])
}

@Test func dpIsDerivedFromWorldTpAndPp() throws {
    let degrees = try config(["parallel.tp=2", "parallel.pp=2", "parallel.microbatches=3"])
        .validateLayout(worldSize: 8)
    #expect(degrees.dp == 2 && degrees.batchPerReplica == 6 && degrees.microbatchSize == 2)
}

@Test func expertParallelDividesDpAndExperts() throws {
    let degrees = try config(["model.n_experts=4", "parallel.ep=2"]).validateLayout(worldSize: 4)
    #expect(degrees.dp == 4 && degrees.ep == 2)
}

@Test func worldSizeMustBeDivisibleByTpTimesPp() throws {
    #expect(try layoutError(["parallel.tp=4"], worldSize: 6)
        == "world size 6 is not divisible by parallel.tp * parallel.pp = 4 * 1")
}

@Test func tpMustDivideHeads() throws {
    #expect(try layoutError(["parallel.tp=3"], worldSize: 3) == "parallel.tp = 3 does not divide model.n_head = 4")
}

@Test func tpMustDivideEmbedding() throws {
    // Unreachable after validate() (n_embd is a multiple of n_head), so built by hand.
    var config = TesseraConfig()
    config.model.nEmbd = 6
    config.parallel.tp = 4
    let error = try #require(throws: ConfigError.self) { try config.validateLayout(worldSize: 4) }
    #expect(error.description == "parallel.tp = 4 does not divide model.n_embd = 6")
}

@Test func tpMustDivideKeyValueHeadsAndTheMLPsHiddenWidth() throws {
    #expect(try layoutError(["model.n_head=6", "model.n_embd=120", "model.n_kv_head=3", "parallel.tp=2"], worldSize: 2)
        == "parallel.tp = 2 and the 3 key/value heads (model.n_kv_head) do not divide one another: "
        + "tensor ranks split the kv heads evenly, or copy each on tp / n_kv_head of them")
    // Fewer kv heads than tensor ranks: each is copied.
    var copied = try TesseraConfig.parse(toml: "", overrides: ["model.n_kv_head=1", "parallel.tp=2"])
    #expect(try copied.validateLayout(worldSize: 2).tp == 2)
    copied.model.nKVHead = 2
    copied.parallel.tp = 4
    #expect(try copied.validateLayout(worldSize: 4).tp == 4)
    #expect(try layoutError(["model.ffn_hidden=102", "parallel.tp=4"], worldSize: 4)
        == "parallel.tp = 4 does not divide the MLP's hidden width 102 (model.ffn_hidden)")
}

@Test func ppMustNotExceedLayers() throws {
    #expect(try layoutError(["parallel.pp=5"], worldSize: 5).hasPrefix("parallel.pp = 5 exceeds model.n_layer = 4"))
}

@Test func epNeedsExperts() throws {
    #expect(try layoutError(["parallel.ep=2"], worldSize: 2)
        == "parallel.ep = 2 needs experts, but model.n_experts = 0")
}

@Test func epMustDivideDp() throws {
    #expect(try layoutError(["model.n_experts=6", "parallel.ep=3"], worldSize: 4)
        .hasPrefix("parallel.ep = 3 does not divide dp = 4"))
}

@Test func epMustDivideExperts() throws {
    #expect(try layoutError(["model.n_experts=6", "parallel.ep=4"], worldSize: 4)
        == "parallel.ep = 4 does not divide model.n_experts = 6")
}

@Test func batchMustBeDivisibleByDp() throws {
    #expect(try layoutError([], worldSize: 5) == "train.batch_size = 12 is not divisible by dp = 5")
}

@Test func microbatchesMustDivideThePerReplicaBatch() throws {
    #expect(try layoutError(["parallel.microbatches=4"], worldSize: 2)
        == "parallel.microbatches = 4 does not divide the per-replica batch train.batch_size / dp = 12 / 2 = 6")
}
