import Foundation
import Testing
@testable import SafeTensors

/// What the writer saves, the reader gives back: F32 bit for bit, F16 and BF16 as rounded; and
/// both agree byte for byte with the format's own examples.
struct RoundTripTests {
    /// The format's example: one F32 tensor "attn.0" of shape [1, 2, 3] holding 0…5; its header is
    /// 64 bytes, already a multiple of 8, so there is no padding.
    static let specExample: [UInt8] = [64, 0, 0, 0, 0, 0, 0, 0]
        + Array(#"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#.utf8)
        + [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]

    @Test func theSpecExampleReads() throws {
        try withTemporaryDirectory { folder in
            try write(Self.specExample, to: folder + "/example.safetensors")
            let file = try SafeTensorsFile(path: folder + "/example.safetensors")
            #expect(file.tensors == [TensorInfo(name: "attn.0", dtype: .f32, shape: [1, 2, 3], dataOffsets: 0..<24, count: 6)])
            #expect(file.metadata.isEmpty)
            #expect(try file.floats("attn.0") == [0, 1, 2, 3, 4, 5])
        }
    }

    @Test func theWriterProducesTheSpecExampleByteForByte() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/example.safetensors"
            try writeSafeTensors(path: path, tensors: [TensorToWrite(name: "attn.0", shape: [1, 2, 3], values: [0, 1, 2, 3, 4, 5])])
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == Self.specExample)
        }
    }

    /// Token ids (a logits file's `input_ids`) go out as I64 and come back exact, beside F32 data,
    /// which is laid out after them (larger elements first, then in the given order).
    @Test func integersRoundTripAsI64() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/ids.safetensors"
            let ids: [Int64] = [0, 1, -2, Int64.max, Int64.min, 95]
            try writeSafeTensors(path: path, tensors: [TensorToWrite(name: "logits", shape: [2], values: [0.5, -1]),
                                                       TensorToWrite(name: "input_ids", shape: [2, 3], integers: ids)])
            let file = try SafeTensorsFile(path: path)
            #expect(file.info("input_ids")?.dtype == .i64 && file.info("input_ids")?.shape == [2, 3])
            #expect(file.info("input_ids")?.dataOffsets == 0..<48)
            #expect(try file.integers("input_ids") == ids)
            #expect(try file.floats("logits") == [0.5, -1])
        }
    }

    @Test func anEmptyFileIsPaddedToEightBytes() throws {
        try withTemporaryDirectory { folder in
            try writeSafeTensors(path: folder + "/empty.safetensors", tensors: [])
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/empty.safetensors")))
                == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
            try writeSafeTensors(path: folder + "/meta.safetensors", tensors: [], metadata: ["framework": "pt"])
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/meta.safetensors")))
                == [40, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"__metadata__":{"framework":"pt"}}     "#.utf8))
        }
    }

    @Test func f32IsBitExactForEveryShapeIncludingScalarAndEmpty() throws {
        let special: [Float] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                                Float(bitPattern: 0x7FC0_1234), .pi, -1e-30]
        let tensors = [
            TensorToWrite(name: "special", shape: [3, 3], values: special),
            TensorToWrite(name: "scalar", shape: [], values: [42.5]),
            TensorToWrite(name: "empty", shape: [0, 4], values: []),
            TensorToWrite(name: "vector", shape: [1000], values: (0..<1000).map { Float($0) * 0.001 - 0.37 }),
            TensorToWrite(name: "weird name \"é\"\n", shape: [2, 1, 2], values: [1, 2, 3, 4]),
        ]
        try withTemporaryDirectory { folder in
            let path = folder + "/model.safetensors"
            try writeSafeTensors(path: path, tensors: tensors, metadata: ["format": "pt", "note": "a \"quoted\"\tvalue"])
            let file = try SafeTensorsFile(path: path)
            #expect(file.metadata == ["format": "pt", "note": "a \"quoted\"\tvalue"])
            #expect(file.tensors.map(\.name) == tensors.map(\.name))
            for tensor in tensors {
                guard case let .array(values) = tensor.values else { continue }
                #expect(file.info(tensor.name)?.shape == tensor.shape)
                #expect(try file.floats(tensor.name).map(\.bitPattern) == values.map(\.bitPattern), "\(tensor.name)")
            }
            #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        }
    }

    @Test func f16AndBF16ReadBackAsRounded() throws {
        let values: [Float] = [1, -2, 1.0 / 3, 65504, 70000, 0x1p-24, .pi, -0.0]
        try withTemporaryDirectory { folder in
            let path = folder + "/half.safetensors"
            try writeSafeTensors(path: path, tensors: [
                TensorToWrite(name: "half", dtype: .f16, shape: [8], values: values),
                TensorToWrite(name: "brain", dtype: .bf16, shape: [2, 4], values: values),
            ])
            let file = try SafeTensorsFile(path: path)
            #expect(try file.floats("half") == [1, -2, 0.333251953125, 65504, .infinity, 0x1p-24, 3.140625, -0.0])
            #expect(try file.floats("brain") == values.map { floatFromBF16(bf16FromFloat($0)) })
            #expect(try file.floats("brain")[6] == 3.140625)
        }
    }

    @Test func aWriteIntoAMissingFolderIsOneErrorAndLeavesNothing() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/none/model.safetensors"
            let error = #expect(throws: SafeTensorsError.self) {
                try writeSafeTensors(path: path, tensors: [TensorToWrite(name: "w", shape: [1], values: [1])])
            }
            #expect(error?.description == path + ".tmp: cannot be created: No such file or directory")
            let left = try FileManager.default.contentsOfDirectory(atPath: folder)
            #expect(left.isEmpty)
        }
    }

    @Test func dataIsLaidOutLargestElementFirstAndAligned() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/mixed.safetensors"
            try writeSafeTensors(path: path, tensors: [
                TensorToWrite(name: "b", dtype: .bf16, shape: [3], values: [1, 2, 3]),
                TensorToWrite(name: "f", shape: [1], values: [4]),
                TensorToWrite(name: "h", dtype: .f16, shape: [1], values: [5]),
                TensorToWrite(name: "g", shape: [2], values: [6, 7]),
            ])
            let file = try SafeTensorsFile(path: path)
            #expect(file.tensors.map(\.name) == ["f", "g", "b", "h"])
            #expect(file.dataStart % 8 == 0)
            for info in file.tensors { #expect(info.dataOffsets.lowerBound % info.dtype.size == 0) }
            #expect(try file.floats("h") == [5])
        }
    }

    @Test func aTensorLargerThanTheStagingBufferReadsWhole() throws {
        let count = SafeTensorsFile.stagingBytes / 2 + 12345  // F16: more than one staging buffer
        let values = (0..<count).map { Float($0 % 2048) }  // exact in F16
        try withTemporaryDirectory { folder in
            let path = folder + "/big.safetensors"
            try values.withUnsafeBufferPointer { buffer in
                try writeSafeTensors(path: path, tensors: [TensorToWrite(name: "w", dtype: .f16, shape: [count], buffer: buffer)])
            }
            let file = try SafeTensorsFile(path: path)
            var read = [Float](repeating: -1, count: count)
            try read.withUnsafeMutableBufferPointer { try file.readFloats("w", into: $0) }
            #expect(read == values)
        }
    }
}
