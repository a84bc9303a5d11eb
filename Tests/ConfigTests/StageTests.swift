import Config
import Testing

private let pipeline = """
    [train]
    steps = 100

    [[stage]]
    name = "pretrain"
    set = { "train.steps" = 2000 }

    [[stage]]
    name = "dpo"
    set = { train = { objective = "dpo", lr = 1 }, "data.preferences" = "p.jsonl" }
    """

@Test func stagesKeepNameAndNormalisedOverrides() throws {
    let config = try TesseraConfig.parse(toml: pipeline)
    #expect(config.stages == [
        Stage(name: "pretrain", set: ["train.steps": .int(2000)]),
        Stage(name: "dpo", set: ["train.objective": .string("dpo"), "train.lr": .float(1),
                                 "data.preferences": .string("p.jsonl")]),
    ])
    #expect(config.train.steps == 100)
}

@Test func applyingAStageOverridesAndValidates() throws {
    var base = try TesseraConfig.parse(toml: pipeline)
    #expect(try base.applying(base.stages[0]).train.steps == 2000)
    #expect(throws: ConfigError.self) { try base.applying(base.stages[1]) }
    base.train.initFrom = "runs/x/checkpoints/latest"
    let dpo = try base.applying(base.stages[1])
    #expect(dpo.train.objective == .dpo && dpo.train.lr == 1 && dpo.data.preferences == "p.jsonl")
}

@Test func unknownKeyInAStageNamesTheStage() throws {
    let error = try parseError("[[stage]]\nname = \"a\"\nset = { \"train.stepz\" = 1 }\n")
    #expect(error.description == "unknown key 'train.stepz' in stage 'a' of x.toml; did you mean 'train.steps'?")
}

@Test func wrongTypeInAStageIsATypeError() throws {
    #expect(try parseError("[[stage]]\nname = \"a\"\nset = { \"train.steps\" = \"many\" }\n")
        == .wrongType(key: "train.steps", expected: "an integer", found: "a string \"many\"",
                      source: "stage 'a' of x.toml"))
}

@Test func unknownStageFieldSuggests() throws {
    #expect(try parseError("[[stage]]\nname = \"a\"\nsett = {}\n")
        == .unknownKey(key: "stage.sett", source: "x.toml", suggestion: "stage.set"))
}

@Test func stageMustBeAnArrayOfTablesWithAName() throws {
    #expect(try parseError("stage = 3\n") == .wrongType(key: "stage", expected: "an array of tables ([[stage]])",
                                                         found: "an integer", source: "x.toml"))
    #expect(badValueKey(try parseError("[[stage]]\nset = {}\n")) == "stage.name")
    #expect(badValueKey(try parseError("[[stage]]\nname = \"a\"\n[[stage]]\nname = \"a\"\n")) == "stage.name")
}
