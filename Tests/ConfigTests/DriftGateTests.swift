import Config
import Testing

/// A `[[stage]]` with a `drift` table: read, written back the same, and checked.
struct DriftGateTests {
    static let gated = """
        [[stage]]
        name = "pretrain"
        set = { "train.steps" = 20 }

        [[stage]]
        name = "gate"
        drift = { current = "data/new.txt", metric = "psi", threshold = 0.2 }

        [[stage]]
        name = "check-loss"
        drift = { reference = "a.txt", current = "b.txt", metric = "loss" }
        """

    @Test func aDriftStageReadsAndWritesBackTheSame() throws {
        let config = try TesseraConfig.parse(toml: Self.gated)
        #expect(config.stages[1] == Stage(name: "gate", drift: DriftGate(current: "data/new.txt", metric: .psi, threshold: 0.2)))
        #expect(config.stages[2].drift == DriftGate(reference: "a.txt", current: "b.txt", metric: .loss))
        #expect(config.stages[0].drift == nil)
        #expect(try TesseraConfig.parse(toml: config.tomlText()) == config)
    }

    @Test func driftDefaultsAreJSAndItsThreshold() throws {
        let config = try TesseraConfig.parse(toml: "[[stage]]\nname = \"g\"\ndrift = { current = \"n.txt\" }\n")
        let gate = try #require(config.stages[0].drift)
        #expect(gate.metric == .js && gate.threshold == nil && gate.metric.defaultThreshold == 0.05 && gate.reference.isEmpty)
    }

    @Test func badDriftTablesAreRefusedNamingTheKey() throws {
        #expect(try parseError("[[stage]]\nname = \"g\"\ndrift = { curent = \"n.txt\" }\n")
            == .unknownKey(key: "stage.drift.curent", source: "x.toml", suggestion: "stage.drift.current"))
        #expect(try parseError("[[stage]]\nname = \"g\"\ndrift = { current = \"n.txt\", metric = \"kl\" }\n").description
            .contains("stage.drift.metric = \"kl\" must be one of \"js\", \"psi\", \"loss\""))
        #expect(try parseError("[[stage]]\nname = \"g\"\ndrift = { reference = \"n.txt\" }\n").description.contains("stage.drift.current"))
        #expect(try parseError("[[stage]]\nname = \"g\"\ndrift = { current = \"n.txt\", threshold = -1 }\n").description
            .contains("stage.drift.threshold"))
        #expect(try parseError("[[stage]]\nname = \"g\"\nset = { \"train.steps\" = 2 }\ndrift = { current = \"n.txt\" }\n")
            .description.contains("a drift stage trains nothing"))
    }

    @Test func aLossGateNeedsAModelBeforeIt() throws {
        #expect(try parseError("[[stage]]\nname = \"g\"\ndrift = { current = \"n.txt\", metric = \"loss\" }\n").description
            .contains("needs a model"))
        _ = try TesseraConfig.parse(toml: "[[stage]]\nname = \"g\"\ndrift = { current = \"n.txt\", metric = \"loss\", checkpoint = \"runs/x\" }\n")
    }
}
