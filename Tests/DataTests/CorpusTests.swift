import Config
import Data
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Test func tinyShakespeareSplitsLikeNanoGPT() throws {
    let corpus = try Corpus(path: shakespearePath, tokenizer: .char, valFraction: 0.1, blockSize: 64)
    #expect(corpus.train.count == 1_003_854 && corpus.val.count == 111_540)
    #expect(corpus.tokenizer.vocabSize == 65)
}

@Test func splitIsTheFirstAndLastPartOfTheTokens() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let text = String((0..<100).map { Character(UnicodeScalar(UInt8(65 + $0 % 26))) })
    let path = try scratch.file("abc.txt", text: text)
    let corpus = try Corpus(path: path, tokenizer: .char, valFraction: 0.25, blockSize: 4)
    #expect(corpus.train.count == 75 && corpus.val.count == 25)
    #expect(try corpus.tokenizer.encode(text) == Array(corpus.train) + Array(corpus.val))
}

@Test func configNamesTheCorpus() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("bytes.bin", [0xFF, 0xFE] + Array(repeating: 0x41, count: 98))
    let config = try TesseraConfig.parse(toml: "", overrides: [
        "data.path=\(path)", "data.tokenizer=byte", "model.block_size=8", "data.val_fraction=0.5",
    ])
    let corpus = try Corpus(config: config)
    #expect(corpus.tokenizer.kind == .byte && corpus.train.count == 50 && Array(corpus.train.prefix(2)) == [255, 254])
}

@Test func missingFileIsNamed() throws {
    let error = try #require(throws: DataError.self) {
        try Corpus(path: "/nonexistent/corpus.txt", tokenizer: .char, valFraction: 0.1, blockSize: 8)
    }
    #expect(error == .fileNotFound(path: "/nonexistent/corpus.txt"))
    #expect(error.description == "data file '/nonexistent/corpus.txt' does not exist")
}

@Test func folderWithoutAnIndexIsRejected() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    #expect(throws: DataError.folderNotSupported(path: scratch.folder.path)) {
        try Corpus(path: scratch.folder.path, tokenizer: .char, valFraction: 0.1, blockSize: 8)
    }
}

@Test func unreadableFileGivesTheSystemReason() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    // Root reads any file whatever its mode; /proc/self/mem opens but fails to read at offset 0.
    let path = try scratch.file("secret.txt", text: "some text")
    chmod(path, 0)
    let unreadable = geteuid() == 0 ? "/proc/self/mem" : path
    let error = try #require(throws: DataError.self) {
        try Corpus(path: unreadable, tokenizer: .char, valFraction: 0.1, blockSize: 8)
    }
    guard case .unreadable(let named, let reason) = error else {
        Issue.record("expected unreadable, got \(error)")
        return
    }
    #expect(named == unreadable && !reason.isEmpty)
    #expect(error.description.hasPrefix("cannot read data file '\(unreadable)': "))
}

@Test func emptyFileIsRejected() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("empty.txt", [])
    #expect(throws: DataError.emptyFile(path: path)) {
        try Corpus(path: path, tokenizer: .byte, valFraction: 0.1, blockSize: 8)
    }
}

@Test func nonUTF8FileIsRejectedForCharAndPointsAtTheByte() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("latin1.txt", Array("héllo".utf8) + [0x63, 0x61, 0x66, 0xE9] + Array(" ok".utf8))
    let error = try #require(throws: DataError.self) {
        try Corpus(path: path, tokenizer: .char, valFraction: 0.5, blockSize: 2)
    }
    #expect(error == .notUTF8(path: path, byteOffset: 9))
    #expect(try Corpus(path: path, tokenizer: .byte, valFraction: 0.5, blockSize: 2).train.count == 6)
}

@Test func eachSplitMustHoldOneSequenceAndItsTargets() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("short.txt", text: String(repeating: "x", count: 100))
    // 90 / 10 tokens: val holds 10 = block_size + 1 at block_size 9, not at 10.
    _ = try Corpus(path: path, tokenizer: .char, valFraction: 0.1, blockSize: 9)
    #expect(throws: DataError.splitTooShort(path: path, split: "validation", tokens: 10, needed: 11)) {
        try Corpus(path: path, tokenizer: .char, valFraction: 0.1, blockSize: 10)
    }
    #expect(throws: DataError.splitTooShort(path: path, split: "train", tokens: 50, needed: 51)) {
        try Corpus(path: path, tokenizer: .char, valFraction: 0.5, blockSize: 50)
    }
}

@Test func sentencepieceCorpusNeedsAModel() throws {
    #expect(throws: DataError.missingTokenizerModel) {
        try Corpus(path: shakespearePath, tokenizer: .sentencepiece, valFraction: 0.1, blockSize: 8)
    }
}

@Test func everyDataErrorIsOneLine() {
    let errors: [DataError] = [
        .fileNotFound(path: "a"), .folderNotSupported(path: "a"), .unreadable(path: "a", reason: "b"),
        .emptyFile(path: "a"), .notUTF8(path: "a", byteOffset: 1), .missingTokenizerModel,
        .splitTooShort(path: "a", split: "train", tokens: 1, needed: 2), .unknownCharacter("\n"),
        .badVocabulary(reason: "x"), .badTokenizerModel(path: "a", reason: "b\nc"), .tokenizerFailed(reason: "x"),
        .tokenizerTrainingFailed(reason: "x\ny"), .badInput(path: "a", location: "line 2", reason: "b"),
        .binaryNeedsByteTokenizer(path: "a"), .badIndex(path: "a", reason: "b"), .badShard(path: "a", reason: "b"),
        .checksumMismatch(path: "a", expected: 1, actual: 2), .tokenOutOfRange(path: "a", position: 1, id: 9, vocabSize: 9),
    ]
    for error in errors {
        #expect(!error.description.contains("\n"), "\(error)")
    }
}
