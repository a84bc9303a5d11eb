import Config
import Testing

@Test func overridesReplaceFileValuesInOrder() throws {
    let config = try TesseraConfig.parse(toml: "[model]\nn_layer = 6\n",
                                         overrides: ["model.n_layer=2", "model.n_layer=3", "train.steps = 7"])
    #expect(config.model.nLayer == 3 && config.train.steps == 7)
}

@Test func integerOverrideIsAcceptedForAFloatKey() throws {
    let config = try TesseraConfig.parse(toml: "", overrides: ["train.lr=1", "train.min_lr=3e-4"])
    #expect(config.train.lr == 1.0 && config.train.minLR == 3e-4)
}

@Test func bareWordsAreStringsForStringKeys() throws {
    let config = try TesseraConfig.parse(toml: "", overrides: [
        "data.path=data/x.txt", "data.tokenizer=byte", "run.dir=1234", "parallel.schedule=gpipe",
        "precision.compute=bf16", "data.preferences=",
    ])
    #expect(config.data.path == "data/x.txt" && config.data.tokenizer == .byte && config.run.dir == "1234")
    #expect(config.parallel.schedule == .gpipe && config.precision.compute == .bf16 && config.data.preferences == "")
}

@Test func quotedStringsAreTOMLStrings() throws {
    let config = try TesseraConfig.parse(toml: "", overrides: [#"run.dir="a \"b\" c""#, "data.path='raw\\x'"])
    #expect(config.run.dir == #"a "b" c"# && config.data.path == #"raw\x"#)
}

@Test func lossScaleTakesWordsAndNumbers() throws {
    #expect(try TesseraConfig.parse(toml: "", overrides: ["precision.loss_scale=none"]).precision.lossScale == .none)
    #expect(try TesseraConfig.parse(toml: "", overrides: ["precision.loss_scale=1024"]).precision.lossScale
        == .fixed(1024))
    #expect(try TesseraConfig.parse(toml: "", overrides: ["precision.loss_scale=dynamic"]).precision.lossScale
        == .dynamic)
}

@Test func overrideWithoutEqualsIsBadSyntax() throws {
    #expect(try parseError("", ["model.n_layer"])
        == .badOverride(text: "model.n_layer", reason: "expected KEY=VALUE, e.g. model.n_layer=2"))
}

@Test func overrideKeyMustBeSectionDotKey() throws {
    for text in ["n_layer=2", "model.n_layer.x=2", ".n_layer=2", "model.=2"] {
        let error = try parseError("", [text])
        #expect(error == .badOverride(text: text, reason: "the key must be section.key, e.g. model.n_layer"))
    }
}

@Test func overrideOfUnknownKeyOrSectionSuggests() throws {
    #expect(try parseError("", ["model.n_layers=2"])
        == .unknownKey(key: "model.n_layers", source: "--set model.n_layers=2", suggestion: "model.n_layer"))
    #expect(try parseError("", ["modle.n_layer=2"])
        == .unknownSection(section: "modle", source: "--set modle.n_layer=2", suggestion: "model"))
}

@Test func overrideOfWrongTypeIsATypeError() throws {
    #expect(try parseError("", ["model.n_layer=four"]).description
        == "model.n_layer must be an integer, got 'four' in --set model.n_layer=four")
    #expect(try parseError("", ["model.n_layer=2.5"])
        == .wrongType(key: "model.n_layer", expected: "an integer", found: "a float 2.5",
                      source: "--set model.n_layer=2.5"))
    #expect(try parseError("", ["model.dropout=true"])
        == .wrongType(key: "model.dropout", expected: "a number", found: "a boolean true",
                      source: "--set model.dropout=true"))
    #expect(try parseError("", ["model.n_layer=[2]"])
        == .wrongType(key: "model.n_layer", expected: "an integer", found: "an array",
                      source: "--set model.n_layer=[2]"))
}

@Test func overrideWithBrokenOrMissingValueIsBadSyntax() throws {
    #expect(try parseError("", [#"run.dir="open"#])
        == .badOverride(text: #"run.dir="open"#, reason: "the quoted string is not valid TOML"))
    #expect(try parseError("", ["model.n_layer="])
        == .badOverride(text: "model.n_layer=", reason: "the value is missing"))
}

@Test func dashboardSwitchesAreBooleansOffByDefault() throws {
    let defaults = try TesseraConfig.parse(toml: "")
    #expect(!defaults.run.tensorboard && !defaults.run.prometheus)
    let on = try TesseraConfig.parse(toml: "[run]\ntensorboard = true\n", overrides: ["run.prometheus=true"])
    #expect(on.run.tensorboard && on.run.prometheus)
    #expect(on.tomlText().contains("tensorboard = true") && on.tomlText().contains("prometheus = true"))
    #expect(try parseError("[run]\nprometheus = 1\n")
        == .wrongType(key: "run.prometheus", expected: "true or false", found: "an integer 1", source: "x.toml"))
    #expect(try parseError("", ["run.tensorboard=yes"]).description
        == "run.tensorboard must be true or false, got 'yes' in --set run.tensorboard=yes")
}
