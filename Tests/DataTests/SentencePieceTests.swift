import Data
import Foundation
import Testing

/// One SentencePiece model for the tests: unigram, 200 pieces, trained once on the first
/// 200 kB of tinyshakespeare.
private let model: String? = {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-spm-\(UUID())")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    guard let text = try? Foundation.Data(contentsOf: URL(fileURLWithPath: shakespearePath)).prefix(200_000) else { return nil }
    let input = folder.appendingPathComponent("input.txt")
    try? text.write(to: input)
    let prefix = folder.appendingPathComponent("sp").path
    do {
        try SentencePieceTraining.train(inputs: [input.path], vocabSize: 200, modelType: .unigram, outputPrefix: prefix)
    } catch {
        return nil
    }
    return prefix + ".model"
}()

private func trainedModel() throws -> SentencePieceTokenizer {
    try SentencePieceTokenizer(modelPath: try #require(model, "training the test model failed"))
}

private let sample = "ROMEO:\nBut soft,  what light through yonder window breaks?\n\n  It is the east, and Juliet is the sun.\n"

@Test func sentencePieceTrainingWritesAModelAndVocabulary() throws {
    let tokenizer = try trainedModel()
    #expect(tokenizer.kind == .sentencepiece && tokenizer.vocabSize == 200)
    let vocab = try String(contentsOfFile: try #require(model).replacingOccurrences(of: ".model", with: ".vocab"), encoding: .utf8)
    #expect(vocab.hasPrefix("<unk>\t0\n<s>\t0\n</s>\t0\n"))
    #expect(tokenizer.endOfText == 2)  // </s>: no extra id for the document separator
}

@Test func sentencePieceRoundTripsTextWithNewlinesAndSpaces() throws {
    let tokenizer = try trainedModel()
    let ids = try tokenizer.encode(sample)
    #expect(ids.count < sample.utf8.count * 2 / 3, "\(ids.count) tokens for \(sample.utf8.count) bytes")
    #expect(tokenizer.decode(ids) == sample)
    // Cutting at a newline changes nothing: how prepare encodes large files in chunks.
    let (head, tail) = ("ROMEO:\nBut soft,  what light through yonder window breaks?\n", "\n  It is the east, and Juliet is the sun.\n")
    #expect(try tokenizer.encode(head) + tokenizer.encode(tail) == ids)
}

@Test func sentencePieceRebuildsFromItsSerializedForm() throws {
    let tokenizer = try trainedModel()
    let rebuilt = try makeTokenizer(kind: .sentencepiece, serialized: tokenizer.serialized)
    #expect(rebuilt.vocabSize == 200)
    #expect(try rebuilt.encode(sample) == tokenizer.encode(sample))
    // The end-of-text id decodes to a newline, ids outside the vocabulary to U+FFFD.
    #expect(rebuilt.decode(try tokenizer.encode("But soft") + [2] + tokenizer.encode("What")) == "But soft\nWhat")
    #expect(rebuilt.decode(try tokenizer.encode("ab") + [999]) == "ab\u{FFFD}")
}

@Test func aFileThatIsNotAModelIsRejected() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("bad.model", text: "not a model")
    let error = try #require(throws: DataError.self) { try SentencePieceTokenizer(modelPath: path) }
    guard case .badTokenizerModel(let named, _) = error else { Issue.record("got \(error)"); return }
    #expect(named == path)
}

@Test func trainingOnNonUTF8InputNamesTheByte() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("bad.txt", Array("hello ".utf8) + [0xFF])
    #expect(throws: DataError.badInput(path: path, location: "byte 6", reason: "not valid UTF-8 text")) {
        try SentencePieceTraining.train(inputs: [path], vocabSize: 50, modelType: .bpe, outputPrefix: scratch.folder.path + "/m")
    }
}

/// A Python that imports sentencepiece: Debian's, where `launch/test` installs python3-sentencepiece,
/// or the one on PATH (which may be another installation, without it).
private let pythonWithSentencePiece: String? = ["/usr/bin/python3", "python3"].first {
    run([$0, "-c", "import sentencepiece"]).status == 0
}

@Test(.enabled(if: pythonWithSentencePiece != nil,
               "no Python here imports sentencepiece (apt-get install python3-sentencepiece); skipped"))
func idsEqualPythonSentencePiece() throws {
    let tokenizer = try trainedModel()
    let script = "import sentencepiece as s, sys; m = s.SentencePieceProcessor(model_file=sys.argv[1]); "
        + "print(' '.join(map(str, m.encode(sys.argv[2]))))"
    let result = run([try #require(pythonWithSentencePiece), "-c", script, try #require(model), sample])
    #expect(result.status == 0, "\(result.output)")
    let python = result.output.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    #expect(python == (try tokenizer.encode(sample)))
}

/// Whether the `spm_encode` command is installed (Debian package sentencepiece).
private let spmEncode: Bool = run(["sh", "-c", "command -v spm_encode"]).status == 0

@Test(.enabled(if: spmEncode, "spm_encode is not installed (apt-get install sentencepiece); skipped"))
func stockSpmEncodeLoadsTheModelAndAgrees() throws {
    let tokenizer = try trainedModel()
    let line = "But soft, what light through yonder window breaks?"
    let result = run(["sh", "-c", "printf '%s\\n' \"$1\" | spm_encode --model \"$0\" --output_format=id", try #require(model), line])
    #expect(result.status == 0, "\(result.output)")
    let ids = result.output.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
    #expect(ids == (try tokenizer.encode(line)))
}

/// Runs a command, returning its status and standard output.
private func run(_ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return (127, "\(error)") }
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
