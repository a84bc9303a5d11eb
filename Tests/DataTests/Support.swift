import Foundation

/// data/tinyshakespeare.txt of this repository.
let shakespearePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("data/tinyshakespeare.txt").path

/// A fresh folder for one test's files, removed by `cleanUp()`.
struct Scratch {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-data-\(UUID())")

    init() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` in the folder and returns its path.
    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Foundation.Data(bytes).write(to: url)
        return url.path
    }

    func file(_ name: String, text: String) throws -> String {
        try file(name, Array(text.utf8))
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: folder)
    }
}
