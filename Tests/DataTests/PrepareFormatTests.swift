import Data
import Foundation
import Testing

/// data/samples/NAME of this repository.
private func samplePath(_ name: String) -> String {
    URL(fileURLWithPath: shakespearePath).deletingLastPathComponent().appendingPathComponent("samples/\(name)").path
}

private func documents(_ path: String, format: InputFormat? = nil, template: String? = nil) throws -> UnitDocuments {
    let plan = try PreparePlan(inputs: [path], format: format)
    #expect(plan.units.count == 1)
    return try UnitReader(template: template.map { try JSONLTemplate($0) }).documents(plan.units[0])
}

@Test func formatsAreChosenByExtension() {
    #expect(InputFormat.detect(path: "a/b.txt") == .text && InputFormat.detect(path: "x.MD") == .text)
    #expect(InputFormat.detect(path: "q.jsonl") == .jsonl && InputFormat.detect(path: "t.csv") == .csv)
    #expect(InputFormat.detect(path: "t.tsv") == .tsv && InputFormat.detect(path: "g.nt") == .triples)
    #expect(InputFormat.detect(path: "p.png") == .binary && InputFormat.detect(path: "Makefile") == .binary)
}

@Test func jsonlRecordsFillTheTemplate() throws {
    let docs = try documents(samplePath("qa.jsonl"), template: "Q: {question}\\nA: {answer}")
    #expect(docs.texts == ["Q: What is the capital of France?\nA: Paris.", "Q: Who wrote Hamlet?\nA: William Shakespeare.",
                           "Q: How many legs has a spider?\nA: Eight."])
    // Without a template every field becomes a line, values that are not strings as JSON.
    let plain = try documents(samplePath("qa.jsonl"))
    #expect(plain.texts[2] == "question: How many legs has a spider?\nanswer: Eight.\nid: 3\ntags: [\"animals\",\"numbers\"]")
}

@Test func aJSONLLineThatIsNotJSONIsNamedByLine() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("bad.jsonl", text: "{\"text\": \"fine\"}\n\n{\"text\": \"broken}\n")
    #expect(throws: DataError.badInput(path: path, location: "line 3", reason: "not JSON (column 18: unterminated string)")) {
        try documents(path)
    }
}

@Test func aTemplateFieldARecordLacksIsNamed() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("qa.jsonl", text: "{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"c\"}\n")
    let error = try #require(throws: DataError.self) { try documents(path, template: "{question} {answer}") }
    #expect(error.description == "'\(path)' line 2: the template names field 'answer', which this record lacks")
}

@Test func csvRowsBecomeColumnValueLinesWithQuotesAndNewlines() throws {
    let docs = try documents(samplePath("plays.csv"))
    #expect(docs.texts.count == 3)
    #expect(docs.texts[1] == "title: Macbeth\nyear: 1606\nfirst line: When shall we three meet again\nIn thunder, lightning, or in rain?")
    #expect(docs.texts[2].hasPrefix("title: Romeo and Juliet\n"))
}

@Test func aCSVRowWithTheWrongFieldCountIsNamed() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("t.csv", text: "a,b,c\n1,2,3\n\"x\ny\",2\n")
    #expect(throws: DataError.badInput(path: path, location: "row 2 (line 3)", reason: "2 fields, the header has 3")) {
        try documents(path)
    }
}

@Test func tsvTablesAndTriples() throws {
    #expect(try documents(samplePath("characters.tsv")).texts[1] == "name: Ophelia\nrole: daughter of Polonius\nplay: Hamlet")
    // A subject/predicate/object header makes it a knowledge graph, grouped per subject.
    #expect(try documents(samplePath("facts.tsv")).texts == ["Paris capital of France.\nParis population 2102650.",
                                                              "Lyon located in France."])
}

@Test func nTriplesAreGroupedPerSubject() throws {
    #expect(try documents(samplePath("geography.nt")).texts == [
        "Paris capital of France.\nParis label Paris.\nParis river _:seine.", "France population 68000000.",
    ])
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("bad.nt", text: "<a> <b> <c> .\n<a> <b> \"open .\n")
    let error = try #require(throws: DataError.self) { try documents(path) }
    #expect(error.description.hasPrefix("'\(path)' line 2: not an N-Triples statement"))
}

@Test func binaryFilesAreTaggedAndEncodedAsBytes() throws {
    let docs = try documents(samplePath("pixel.png"))
    let raw = Array(try Foundation.Data(contentsOf: URL(fileURLWithPath: samplePath("pixel.png"))))
    #expect(docs.binary == Array("<|image|>\n".utf8) + raw)
    let (tokens, count) = try UnitReader.encode(docs, tokenizer: ByteTokenizer())
    #expect(count == 1 && tokens.count == 10 + raw.count + 1 && tokens.last == 256)
}

@Test func nonUTF8TextIsNamedWithItsByteOffset() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("bad.txt", Array("héllo ".utf8) + [0xC3, 0x28])
    let error = try #require(throws: DataError.self) { try documents(path) }
    #expect(error == .badInput(path: path, location: "byte 7",
                               reason: "not valid UTF-8 text; give binary files another extension or --format binary"))
}

@Test func largeTextFilesAreCutAfterNewlinesIndependentlyOfRanks() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let text = (0..<100).map { "line \($0) of the text" }.joined(separator: "\n") + "\n"
    let path = try scratch.file("long.txt", text: text)
    let plan = try PreparePlan(inputs: [scratch.folder.path], format: nil, chunkBytes: 500)
    #expect(plan.units.count > 3 && plan.units.allSatisfy { $0.path == path })
    #expect(plan.units.map(\.endsFile) == Array(repeating: false, count: plan.units.count - 1) + [true])
    let bytes = Array(text.utf8)
    var joined: [String] = [], tokens: [Int32] = [], documentCount = 0
    for unit in plan.units {
        #expect(unit.bytes.count >= 500 || unit.endsFile)
        #expect(bytes[unit.bytes.upperBound - 1] == 0x0A)
        let docs = try UnitReader(template: nil).documents(unit)
        joined += docs.texts
        let (ids, count) = try UnitReader.encode(docs, tokenizer: ByteTokenizer())
        tokens += ids
        documentCount += count
    }
    #expect(joined.joined() == text)
    #expect(documentCount == 1 && tokens == bytes.map { Int32($0) } + [256])
}

@Test func badTemplatesAreRejected() {
    #expect(throws: DataError.self) { try JSONLTemplate("no fields") }
    #expect(throws: DataError.self) { try JSONLTemplate("{a} }") }
}

/// `tessera prepare` takes regular files only: a FIFO would block its reader, a device never end.
@Test func aFIFOOrDeviceInputIsRefused() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let fifo = scratch.folder.appendingPathComponent("pipe").path
    #expect(mkfifo(fifo, 0o600) == 0)
    for input in [fifo, "/dev/urandom"] {
        let error = try #require(throws: DataError.self) { try PreparePlan(inputs: [input], format: nil) }
        #expect(error.description.contains("not a regular file"), "\(error)")
    }
}

/// A folder linked into itself is walked once: before, the walk followed the loop, listing its files
/// again at every level, until the path grew too long.
@Test func aLinkCycleInAnInputFolderIsWalkedOnce() throws {
    let scratch = try Scratch()
    defer { scratch.cleanUp() }
    let path = try scratch.file("a.txt", text: "hello\n")
    try FileManager.default.createSymbolicLink(atPath: scratch.folder.appendingPathComponent("loop").path,
                                               withDestinationPath: scratch.folder.path)
    let plan = try PreparePlan(inputs: [scratch.folder.path], format: nil)
    #expect(plan.units.map(\.path) == [path])
}
