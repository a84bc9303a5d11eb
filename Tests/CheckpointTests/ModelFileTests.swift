import Foundation
import Testing
@testable import Checkpoint

@Suite struct ModelFileTests {
    /// Three parameters of ranks 1, 2 and 3 in one allocation, as the model keeps them.
    static let shapes: [(String, [Int])] = [("wte", [8, 4]), ("h.0.attn.qkv.weight", [2, 4, 3]), ("ln_f.bias", [4])]
    static let storage: [Float] = (0..<(32 + 24 + 4)).map { Float($0) * 0.25 - 7 }
    static let attributes = ModelAttributes(
        step: 500, config: "[model]\nlayers = 2\nchannels = 4\n",
        strings: ["tokenizer": "byte", "tokenizer_data": "héllo wörld ✓"])

    /// Writes the three parameters as views into `storage`.
    static func writeModel(to path: String) throws {
        try storage.withUnsafeBufferPointer { all in
            var offset = 0
            let tensors = shapes.map { name, shape in
                let count = shape.reduce(1, *)
                defer { offset += count }
                return NamedTensor(name: name, shape: shape, data: UnsafeBufferPointer(rebasing: all[offset..<offset + count]))
            }
            try ModelFile.write(path: path, tensors: tensors, attributes: attributes)
        }
    }

    @Test func tensorsAndAttributesRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/model.h5"
            try Self.writeModel(to: path)
            let model = try ModelFile.read(path: path)
            #expect(model.attributes == Self.attributes)
            #expect(model.tensors == [
                "wte": LoadedTensor(shape: [8, 4], data: Array(Self.storage[0..<32])),
                "h.0.attn.qkv.weight": LoadedTensor(shape: [2, 4, 3], data: Array(Self.storage[32..<56])),
                "ln_f.bias": LoadedTensor(shape: [4], data: Array(Self.storage[56..<60])),
            ])
            let file = try H5File(reading: path)
            #expect(try file.attributes.get("format_version") == .int64(ModelFile.formatVersion))
        }
    }

    @Test func writeLeavesNoTemporaryFileAndReplacesTheOldModel() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/model.h5"
            try ModelFile.write(path: path, tensors: [], attributes: ModelAttributes(step: 1, config: ""))
            try Self.writeModel(to: path)
            #expect(try ModelFile.read(path: path).attributes.step == 500)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.h5"])
        }
    }

    @Test func failedWriteKeepsThePreviousModel() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/model.h5"
            try Self.writeModel(to: path)
            let one: [Float] = [1]
            #expect(throws: HDF5Error.self) {
                try one.withUnsafeBufferPointer { p in
                    let twice = [NamedTensor(name: "x", shape: [1], data: p), NamedTensor(name: "x", shape: [1], data: p)]
                    try ModelFile.write(path: path, tensors: twice, attributes: ModelAttributes(step: 9, config: ""))
                }
            }
            #expect(try ModelFile.read(path: path).attributes == Self.attributes)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.h5"])
        }
    }

    @Test func otherFormatVersionIsRejected() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/model.h5"
            try Self.writeModel(to: path)
            let file = try H5File(creating: path)
            try file.attributes.set("format_version", .int64(2))
            try file.close()
            let error = #expect(throws: HDF5Error.self) { try ModelFile.read(path: path) }
            #expect(error?.object == "attribute 'format_version'")
        }
    }

    @Test func missingModelFileThrows() throws {
        try withTemporaryDirectory { dir in
            #expect(throws: HDF5Error.self) { try ModelFile.read(path: dir + "/model.h5") }
        }
    }
}
