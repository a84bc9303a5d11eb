import FileSystem
import Foundation
import Model
import SafeTensors

/// Writes a Tessera model as a Hugging Face folder: `model.safetensors` (F32, the family's names
/// and orientation), `config.json`, and the tokenizer's files. Every file is replaced atomically,
/// config.json last: a folder with a config.json is a complete export.
public enum HFExport {
    /// The files an export writes and an existing folder must not already hold (without `overwrite`).
    static let weightFiles = [SafeTensorsCheckpoint.fileName, SafeTensorsCheckpoint.indexName, HFConfigFile.fileName]

    /// Refuses a `folder` that is not a folder, or that holds an export's files (or `files`) already
    /// unless `overwrite`.
    public static func checkDestination(_ folder: String, files: [TokenizerFile], overwrite: Bool) throws(InteropError) {
        let kind = FileKind.of(folder)
        guard kind == .missing || kind.isFolder else { throw InteropError(folder, "is \(kind.phrase), not a folder") }
        guard !overwrite else { return }
        for name in weightFiles + files.map(\.name) where FileKind.of(folder + "/" + name) != .missing {
            throw InteropError(folder + "/" + name, "exists; tessera export replaces an export's files only with --overwrite")
        }
    }

    /// Writes the model of `dims` into `folder` (made when missing): `tensor(name)` gives each
    /// Tessera parameter's full tensor in its global shape. `files` (the tokenizer's) are written
    /// first, then the weights, then config.json; `checkDestination` says whether files may be
    /// replaced.
    public static func write(folder: String, family: HFFamily, dims: GPTDimensions, settings: HFExportSettings,
                             files: [TokenizerFile], tensor: (String) throws -> [Float]) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for file in files {
            try replaceAtomically(folder + "/" + file.name) { temporary in
                try Foundation.Data(file.bytes).write(to: URL(fileURLWithPath: temporary))
            }
        }
        var outputs: [TensorToWrite] = []
        for rule in family.tensors(dims) {
            let values = try tensor(rule.name)
            precondition(values.count == rule.shape.reduce(1, *), "\(rule.name): \(values.count) values for \(rule.shape)")
            var row = 0
            let width = rule.shape.dropFirst().reduce(1, *)
            for piece in rule.pieces {
                let rows = rule.transposed ? piece.shape[1] : piece.shape[0]
                let slice = Array(values[(row * width)..<((row + rows) * width)])
                row += rows
                outputs.append(TensorToWrite(name: piece.name, shape: piece.shape,
                                             values: rule.transposed ? transpose(slice, rows: rows, columns: width) : slice))
            }
        }
        try writeSafeTensors(path: folder + "/" + SafeTensorsCheckpoint.fileName, tensors: outputs, metadata: ["format": "pt"])
        let text = prettyJSON(family.configMembers(dims, settings))
        try replaceAtomically(folder + "/" + HFConfigFile.fileName) { temporary in
            try Foundation.Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        }
    }
}

/// A file an export writes beside the weights.
public struct TokenizerFile: Sendable, Equatable {
    public let name: String
    public let bytes: [UInt8]

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}
