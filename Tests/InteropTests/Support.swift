import Foundation
import Interop
import SafeTensors
import Testing
import Training

/// Tests/Fixtures/hf/NAME: folders written by transformers (benchmarks/interop/make_fixtures.py).
func fixture(_ name: String) -> String {
    var url = URL(fileURLWithPath: #filePath)
    url.deleteLastPathComponent()
    url.deleteLastPathComponent()
    return url.appendingPathComponent("Fixtures/hf/\(name)").path
}

/// A fresh folder for one test's files, removed afterwards.
@discardableResult
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-interop-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

/// The fixture's config.json with `set`'s keys given these JSON texts (added when missing) and
/// `remove`'s keys left out. transformers writes one key a line, so the edit works on lines and
/// every other value keeps its exact text.
func fixtureConfig(_ name: String = "gpt2", set: [String: String] = [:], remove: Set<String> = []) throws -> String {
    let text = try String(contentsOfFile: fixture(name) + "/config.json", encoding: .utf8)
    var members: [(key: String, value: String)] = []
    var nested: String?  // a list or object spanning lines, gathered whole
    for line in text.split(separator: "\n").map(String.init) {
        if nested != nil {
            nested! += line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("  ]") || line.hasPrefix("  }") {
                members[members.count - 1].value = String(nested!.trimmingCharacters(in: CharacterSet(charactersIn: ",")))
                nested = nil
            }
            continue
        }
        guard line.hasPrefix("  \""), let colon = line.range(of: "\": ") else { continue }
        let key = String(line[line.index(line.startIndex, offsetBy: 3)..<colon.lowerBound])
        var value = String(line[colon.upperBound...])
        if value.hasSuffix(",") { value.removeLast() }
        members.append((key, value))
        if value == "[" || value == "{" { nested = value }
    }
    for (key, value) in set.sorted(by: { $0.key < $1.key }) {
        if let index = members.firstIndex(where: { $0.key == key }) { members[index].value = value } else { members.append((key, value)) }
    }
    return "{\n" + members.filter { !remove.contains($0.key) }.map { "  \"\($0.key)\": \($0.value)" }.joined(separator: ",\n") + "\n}\n"
}

/// Every tensor of a safetensors file as (name, shape, values), in the file's order.
func tensors(of path: String) throws -> [(name: String, shape: [Int], values: [Float])] {
    let file = try SafeTensorsFile(path: path)
    return try file.tensors.map { ($0.name, $0.shape, try file.floats($0.name)) }
}

/// A Hugging Face folder in `folder`: `config` as config.json and `tensors` as model.safetensors.
func writeFolder(_ folder: String, config: String, tensors: [(name: String, shape: [Int], values: [Float])]) throws {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try config.write(toFile: folder + "/config.json", atomically: false, encoding: .utf8)
    try writeSafeTensors(path: folder + "/model.safetensors",
                         tensors: tensors.map { TensorToWrite(name: $0.name, shape: $0.shape, values: $0.values) })
}

/// The error `body` throws, described; nil when it throws none.
func failure(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

/// max|a − b| / max|b|.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "\(a.count) values against \(b.count)")
    let scale = b.reduce(0) { max($0, abs(Double($1))) }
    return zip(a, b).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) } / scale
}

/// transformers' fixture `name` → Tessera → a Hugging Face folder of the family Tessera picks for
/// it (`modelType`): the same tensors bit for bit (names, shapes, values, the "pt" format tag),
/// read back as the same parameters.
func expectRoundTripIsBitExact(_ name: String, modelType: String, endOfText: Int?,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
    let whole = try WholeModel(huggingFace: fixture(name))
    try withTemporaryDirectory { folder in
        let family = try HFFamily.family(for: whole.model.dims, source: name)
        #expect(family.modelType == modelType, sourceLocation: sourceLocation)
        try HFExport.write(folder: folder, family: family, dims: whole.model.dims,
                           settings: HFExportSettings(dropout: 0, endOfText: endOfText), files: []) { Array(whole.parameter($0)) }
        let original = try tensors(of: fixture(name) + "/model.safetensors").sorted { $0.name < $1.name }
        let exported = try tensors(of: folder + "/model.safetensors").sorted { $0.name < $1.name }
        #expect(exported.map(\.name) == original.map(\.name), sourceLocation: sourceLocation)
        #expect(exported.map(\.shape) == original.map(\.shape), sourceLocation: sourceLocation)
        #expect(exported.map(\.values) == original.map(\.values), sourceLocation: sourceLocation)
        #expect(try SafeTensorsFile(path: folder + "/model.safetensors").metadata == ["format": "pt"],
                sourceLocation: sourceLocation)
        let again = try WholeModel(huggingFace: folder)
        #expect(again.model.dims == whole.model.dims, sourceLocation: sourceLocation)
        #expect(Array(UnsafeBufferPointer(start: again.model.store.values, count: again.model.store.count))
            == Array(UnsafeBufferPointer(start: whole.model.store.values, count: whole.model.store.count)),
                sourceLocation: sourceLocation)
    }
}
