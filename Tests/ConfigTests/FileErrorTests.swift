import Config
import Foundation
import Testing

@Test func unknownKeySuggestsTheNearestKnownKey() throws {
    let error = try parseError("[model]\nn_layers = 2\n")
    #expect(error == .unknownKey(key: "model.n_layers", source: "x.toml", suggestion: "model.n_layer"))
    #expect(error.description == "unknown key 'model.n_layers' in x.toml; did you mean 'model.n_layer'?")
}

@Test func unknownKeyFarFromAnyKnownKeyHasNoSuggestion() throws {
    let error = try parseError("[model]\nflux_capacitor = 1\n")
    #expect(error == .unknownKey(key: "model.flux_capacitor", source: "x.toml", suggestion: nil))
    #expect(error.description == "unknown key 'model.flux_capacitor' in x.toml")
}

@Test func keyInTheWrongSectionSuggestsItsSection() throws {
    #expect(try parseError("[model]\nseed = 1\n") == .unknownKey(key: "model.seed", source: "x.toml",
                                                                 suggestion: "run.seed"))
    #expect(try parseError("seed = 1\n") == .unknownKey(key: "seed", source: "x.toml", suggestion: "run.seed"))
}

@Test func unknownSectionIsNamedWithSuggestion() throws {
    let error = try parseError("[modle]\nn_layer = 2\n")
    #expect(error == .unknownSection(section: "modle", source: "x.toml", suggestion: "model"))
    #expect(error.description == "unknown section 'modle' in x.toml; did you mean 'model'?")
    #expect(try parseError("[optimizer]\n") == .unknownSection(section: "optimizer", source: "x.toml",
                                                                suggestion: nil))
}

@Test func sectionThatIsNotATableIsATypeError() throws {
    #expect(try parseError("model = 3\n") == .wrongType(key: "model", expected: "a table ([model])",
                                                         found: "an integer", source: "x.toml"))
}

@Test func wrongTypeNamesKeyExpectedAndFound() throws {
    let error = try parseError("[model]\nn_head = \"4\"\n")
    #expect(error.description == "model.n_head must be an integer, got a string \"4\" in x.toml")
    #expect(try parseError("[model]\nn_head = [4]\n") == .wrongType(key: "model.n_head", expected: "an integer",
                                                                     found: "an array", source: "x.toml"))
    #expect(try parseError("[model]\nn_layer = 2.0\n") == .wrongType(key: "model.n_layer", expected: "an integer",
                                                                      found: "a float 2.0", source: "x.toml"))
    #expect(try parseError("[run]\ndir = 5\n") == .wrongType(key: "run.dir", expected: "a string",
                                                              found: "an integer 5", source: "x.toml"))
    #expect(try parseError("[model]\nbias = 1\n") == .wrongType(key: "model.bias", expected: "true or false",
                                                               found: "an integer 1", source: "x.toml"))
    #expect(try parseError("[model]\ntie_embeddings = \"yes\"\n").description
        == "model.tie_embeddings must be true or false, got a string \"yes\" in x.toml")
}

/// A family's choices fill the part keys a config leaves out; a key it writes overrides them.
@Test func familyChoosesThePartsTheConfigLeavesOut() throws {
    let llama = try TesseraConfig.parse(toml: "[model]\nfamily = \"llama\"\nbias = true\nn_embd = 96\n")
    #expect(llama.model.effectiveNorm == .rmsnorm && llama.model.effectivePosition == .rope
        && llama.model.effectiveMLP == .swiglu && !llama.model.effectiveTieEmbeddings)
    #expect(llama.model.effectiveBias)
    #expect(llama.model.effectiveFFNHidden == 256)  // 8 · 96 / 3 = 256, a multiple of 64
    #expect(try TesseraConfig.parse(toml: "[model]\nfamily = \"llama\"\nn_embd = 128\n").model.effectiveFFNHidden == 384)
    let gpt2 = try TesseraConfig.parse(toml: "[model]\nmlp = \"swiglu\"\n")
    #expect(gpt2.model.effectiveNorm == .layernorm && gpt2.model.effectiveMLP == .swiglu
        && gpt2.model.effectiveFFNHidden == 512 && gpt2.model.effectiveKVHeads == 4)
    // The effective config written out pins every part: read back, it is the same model.
    #expect(try TesseraConfig.parse(toml: llama.tomlText()) == llama)
    #expect(llama.tomlText().contains("norm = \"rmsnorm\"") && llama.tomlText().contains("tie_embeddings = false"))
}

@Test func integerIsAcceptedForAFloatKey() throws {
    let config = try TesseraConfig.parse(toml: "[train]\nlr = 1\nmin_lr = 0\n")
    #expect(config.train.lr == 1.0 && config.train.minLR == 0.0)
}

@Test func malformedTOMLReportsLineAndColumn() throws {
    let error = try parseError("[model]\nn_layer = 2\nn_head = = 4\n")
    guard case .malformedTOML(let source, let line, let column, _) = error else {
        Issue.record("expected malformedTOML, got \(error)")
        return
    }
    #expect(source == "x.toml" && line == 3 && column > 0)
    #expect(error.description.hasPrefix("malformed TOML in x.toml at line 3, column "))
    #expect(!error.description.contains("\n"))
}

@Test func missingFileIsNamed() throws {
    let error = try #require(throws: ConfigError.self) {
        try TesseraConfig.load(path: "/nonexistent/tessera.toml")
    }
    #expect(error == .fileNotFound(path: "/nonexistent/tessera.toml"))
    #expect(error.description == "config file '/nonexistent/tessera.toml' does not exist")
}

@Test func folderAndNonUTF8FilesAreUnreadable() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-cfg-\(UUID())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    #expect(throws: ConfigError.unreadableFile(path: folder.path, reason: "is a folder, not a file")) {
        try TesseraConfig.load(path: folder.path)
    }
    let binary = folder.appendingPathComponent("bad.toml")
    try Foundation.Data([0x5B, 0xFF, 0xFE, 0x5D]).write(to: binary)
    #expect(throws: ConfigError.unreadableFile(path: binary.path, reason: "not valid UTF-8")) {
        try TesseraConfig.load(path: binary.path)
    }
}

/// A NUL byte (or any control character but tab, LF and CR) makes the file malformed TOML, named
/// with its line and column; before, toml++ accepted it.
@Test(arguments: ["[train]\nsteps = 3\u{0}\n", "[train]\nname = \"a\u{1}b\"\n", "[train]\n# \u{7F}\n"])
func controlCharactersAreMalformedTOML(_ text: String) throws {
    let error = try parseError(text)
    guard case .malformedTOML(_, let line, _, let message) = error else {
        Issue.record("\(error)")
        return
    }
    #expect(line == 2 && message.hasPrefix("control character U+00"), "\(error)")
}

/// A FIFO would block the reader and a device never end: only regular files are read.
@Test func aFIFOIsUnreadableAtOnce() throws {
    let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-cfg-fifo-\(UUID())").path
    #expect(mkfifo(fifo, 0o600) == 0)
    defer { unlink(fifo) }
    let error = try #require(throws: ConfigError.self) { try TesseraConfig.load(path: fifo) }
    #expect(error.description.contains("not a regular file"), "\(error)")
    let device = try #require(throws: ConfigError.self) { try TesseraConfig.load(path: "/dev/zero") }
    #expect(device.description.contains("not a regular file"), "\(device)")
}

@Test func loadReadsAFileAndAppliesOverrides() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID()).toml")
    try "[model]\nn_layer = 6\n".write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let config = try TesseraConfig.load(path: file.path, overrides: ["model.n_head=8"])
    #expect(config.model.nLayer == 6 && config.model.nHead == 8)
    let error = try #require(throws: ConfigError.self) {
        try TesseraConfig.load(path: file.path, overrides: ["model.n_head=3"])
    }
    #expect(error.description == "model.n_embd = 128 must be divisible by model.n_head = 3")
}

@Test func everyErrorIsOneLine() throws {
    let errors = [
        try parseError("[model]\nn_layers = 2\n"), try parseError("[x]\n"), try parseError("[[["),
        try parseError("", ["nonsense"]), try parseError("", ["model.n_layer=0"]),
    ]
    for error in errors {
        #expect(!error.description.isEmpty && !error.description.contains("\n"), "\(error)")
    }
}

/// toml++ aborts the process on these (an assert left on in release builds); they must be errors.
@Test(arguments: ["[[[", "[!]", "[", "[[ ]]\n", "[model]\n  [ #x\n", "[\r\n", "[ . ]", "\r\n[[.",
                  "a = [}", "a = [1,\n}", "x = { a = [ } }", "a = 1979-05-27 1\n", "a = 1979-05-27T:3",
                  "a = 07:32:00"])
func tableHeadersThatCrashTomlPlusPlusAreMalformed(toml: String) throws {
    guard case .malformedTOML = try parseError(toml) else {
        Issue.record("expected malformedTOML for \(toml.debugDescription)")
        return
    }
}

@Test func guardIgnoresBracketsColonsAndDatesInStringsAndComments() throws {
    let config = try TesseraConfig.parse(toml: """
        [run] # [!] 1979-05-27 07:32 }
        dir = "runs/[}] 1979-05-27 07:32 \\" ]"
        [data]
        path = '{[: 2024-01-01'
        tokenizer_model = \"\"\"multi
        [! line ] "\"\"\"
        """)
    #expect(config.run.dir == "runs/[}] 1979-05-27 07:32 \" ]")
    #expect(config.data.path == "{[: 2024-01-01" && config.data.tokenizerModel == "multi\n[! line ] \"")
}

@Test func overrideValuesThatCrashTomlPlusPlusAreTypeErrors() throws {
    #expect(try parseError("", ["model.n_layer=[}"])
        == .wrongType(key: "model.n_layer", expected: "an integer", found: "'[}'", source: "--set model.n_layer=[}"))
}
