import Foundation
import Testing
@testable import SafeTensors

/// A folder holds one `model.safetensors` or shards named by an index; either reads as one lookup,
/// and an index cannot reach outside its folder or promise tensors its shards lack.
struct SafeTensorsCheckpointTests {
    static func writeShards(in folder: String) throws {
        try writeSafeTensors(path: folder + "/model-00001-of-00002.safetensors", tensors: [
            TensorToWrite(name: "wte", shape: [2, 2], values: [1, 2, 3, 4]),
            TensorToWrite(name: "h.0.ln.weight", dtype: .bf16, shape: [2], values: [1, 1]),
        ])
        try writeSafeTensors(path: folder + "/model-00002-of-00002.safetensors", tensors: [
            TensorToWrite(name: "h.1.ln.weight", dtype: .f16, shape: [2], values: [0.5, -0.5]),
        ])
    }

    static func writeIndex(_ weightMap: [String: String], in folder: String, extra: String = "") throws {
        let entries = weightMap.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }
        let text = "{\"metadata\": {\"total_size\": 28, \"format\": \"pt\"}\(extra), \"weight_map\": {\(entries.joined(separator: ", "))}}"
        try text.write(toFile: folder + "/model.safetensors.index.json", atomically: false, encoding: .utf8)
    }

    static let weightMap = [
        "wte": "model-00001-of-00002.safetensors",
        "h.0.ln.weight": "model-00001-of-00002.safetensors",
        "h.1.ln.weight": "model-00002-of-00002.safetensors",
    ]

    @Test func shardsReadAsOneLookup() throws {
        try withTemporaryDirectory { folder in
            try Self.writeShards(in: folder)
            try Self.writeIndex(Self.weightMap, in: folder, extra: #", "comment": ["ignored", 1]"#)
            let checkpoint = try SafeTensorsCheckpoint.open(folder: folder)
            #expect(checkpoint.path == folder + "/model.safetensors.index.json")
            #expect(checkpoint.files.count == 2)
            #expect(checkpoint.names == ["h.0.ln.weight", "h.1.ln.weight", "wte"])
            #expect(checkpoint.metadata == ["total_size": "28", "format": "pt"])
            #expect(try checkpoint.floats("wte") == [1, 2, 3, 4])
            #expect(try checkpoint.floats("h.0.ln.weight") == [1, 1])
            #expect(try checkpoint.floats("h.1.ln.weight") == [0.5, -0.5])
            #expect(checkpoint.info("h.1.ln.weight")?.dtype == .f16)
            #expect(checkpoint.file(containing: "h.1.ln.weight")?.path == folder + "/model-00002-of-00002.safetensors")
            #expect(throws: SafeTensorsError(checkpoint.path, "has no tensor 'lm_head'")) { try checkpoint.floats("lm_head") }
        }
    }

    @Test func aSingleFileIsPreferredToAnIndex() throws {
        try withTemporaryDirectory { folder in
            try writeSafeTensors(path: folder + "/model.safetensors", tensors: [TensorToWrite(name: "w", shape: [1], values: [9])],
                                 metadata: ["format": "pt"])
            try Self.writeIndex(["other": "missing.safetensors"], in: folder)
            let checkpoint = try SafeTensorsCheckpoint.open(folder: folder)
            #expect(checkpoint.path == folder + "/model.safetensors")
            #expect(checkpoint.names == ["w"])
            #expect(checkpoint.metadata == ["format": "pt"])
            #expect(try checkpoint.floats("w") == [9])
        }
    }

    @Test func aFolderWithNeitherIsRefused() throws {
        try withTemporaryDirectory { folder in
            #expect(throws: SafeTensorsError(folder, "holds neither model.safetensors nor model.safetensors.index.json")) {
                try SafeTensorsCheckpoint.open(folder: folder)
            }
            #expect(throws: SafeTensorsError(folder + "/nothing", "does not exist")) {
                try SafeTensorsCheckpoint.open(folder: folder + "/nothing")
            }
        }
    }

    @Test(arguments: [
        ("../x.safetensors", "maps tensor 'wte' to shard '../x.safetensors', which is not a plain file name in the index's folder"),
        ("/etc/passwd", "maps tensor 'wte' to shard '/etc/passwd', which is not a plain file name in the index's folder"),
        ("model-00003-of-00003.safetensors", "maps tensor 'wte' to shard 'model-00003-of-00003.safetensors', which does not exist"),
        ("model-00002-of-00002.safetensors", "maps tensor 'wte' to shard 'model-00002-of-00002.safetensors', which has no such tensor"),
    ])
    func aBadShardIsRefused(_ shard: String, _ complaint: String) throws {
        try withTemporaryDirectory { folder in
            try Self.writeShards(in: folder)
            var weightMap = Self.weightMap
            weightMap["wte"] = shard
            try Self.writeIndex(weightMap, in: folder)
            let index = folder + "/model.safetensors.index.json"
            #expect(throws: SafeTensorsError(index, complaint)) { try SafeTensorsCheckpoint.open(folder: folder) }
        }
    }

    @Test func aShardWithABadHeaderIsNamed() throws {
        try withTemporaryDirectory { folder in
            try Self.writeShards(in: folder)
            try write([1, 2, 3], to: folder + "/model-00002-of-00002.safetensors")
            try Self.writeIndex(Self.weightMap, in: folder)
            #expect(throws: SafeTensorsError(folder + "/model-00002-of-00002.safetensors", "is 3 bytes, too short for the 8-byte header length")) {
                try SafeTensorsCheckpoint.open(folder: folder)
            }
        }
    }

    @Test(arguments: [
        (#"{"metadata": {}}"#, "has no weight_map"),
        (#"{"weight_map": ["a"]}"#, "weight_map is a list, not an object"),
        (#"{"weight_map": {"a": 1}}"#, "weight_map maps 'a' to an integer, not a shard file name"),
        (#"{"metadata": {"x": []}, "weight_map": {}}"#, "metadata 'x' is a list, not a string or an integer"),
        (#"{"weight_map": {"a": "x", "a": "y"}}"#, "is not valid JSON: key 'a' appears twice in one object at byte 26"),
        (#"[]"#, "is a list, not a JSON object"),
    ])
    func aMalformedIndexIsRefused(_ text: String, _ complaint: String) throws {
        try withTemporaryDirectory { folder in
            let index = folder + "/model.safetensors.index.json"
            try text.write(toFile: index, atomically: false, encoding: .utf8)
            #expect(throws: SafeTensorsError(index, complaint)) { try SafeTensorsCheckpoint(indexPath: index) }
        }
    }
}
