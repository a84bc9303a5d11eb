import Testing
@testable import SafeTensors

/// Reading the types a checkpoint or a test fixture may hold from a file built byte by byte:
/// floats widen to Float, integers and booleans to Int64, and asking for the wrong kind is an error.
struct ReadTests {
    static func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    /// Seven tensors; the header lists them out of data order, which the reader must not mind.
    static let mixed = fileBytes(header: #"""
        {"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[63,66]},\#
        "ids":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},\#
        "d":{"dtype":"F64","shape":[2],"data_offsets":[24,40]},\#
        "__metadata__":{"source":"hand-built"},\#
        "i32":{"dtype":"I32","shape":[2,2],"data_offsets":[40,56]},\#
        "i16":{"dtype":"I16","shape":[2],"data_offsets":[56,60]},\#
        "i8":{"dtype":"I8","shape":[2],"data_offsets":[60,62]},\#
        "u8":{"dtype":"U8","shape":[1,1],"data_offsets":[62,63]}}
        """#,
        data: bytes([Int64(1), -2, 1 << 40]) + bytes([0.1, -3.5]) + bytes([Int32(1), -2, 3, .max])
            + bytes([Int16(-300), 7]) + bytes([Int8(-1), 5]) + [255] + [1, 0, 2])

    @Test func everyTypeReadsAsItsWideKind() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/mixed.safetensors"
            try write(Self.mixed, to: path)
            let file = try SafeTensorsFile(path: path)
            #expect(file.tensors.map(\.name) == ["ids", "d", "i32", "i16", "i8", "u8", "mask"])
            #expect(file.metadata == ["source": "hand-built"])
            #expect(try file.integers("ids") == [1, -2, 1 << 40])
            #expect(try file.floats("d") == [0.1, -3.5])
            #expect(try file.integers("i32") == [1, -2, 3, 2147483647])
            #expect(try file.integers("i16") == [-300, 7])
            #expect(try file.integers("i8") == [-1, 5])
            #expect(try file.integers("u8") == [255])
            #expect(try file.integers("mask") == [1, 0, 1])
        }
    }

    @Test func theWrongKindOrAnUnknownNameIsAnError() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/mixed.safetensors"
            try write(Self.mixed, to: path)
            let file = try SafeTensorsFile(path: path)
            #expect(throws: SafeTensorsError(path, "tensor 'ids' is I64, not a floating-point tensor")) { try file.floats("ids") }
            #expect(throws: SafeTensorsError(path, "tensor 'd' is F64, not an integer tensor")) { try file.integers("d") }
            #expect(throws: SafeTensorsError(path, "has no tensor 'wte'")) { try file.floats("wte") }
        }
    }

    /// The reference library's own documentation example: a 60-byte header ('<') and an I32 [2, 2].
    @Test func theReferenceDocumentationExampleReads() throws {
        let header = #"{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}"#
        try withTemporaryDirectory { folder in
            try write([60, 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8) + Self.bytes([Int32(7), -7, 0, 1]), to: folder + "/t.safetensors")
            #expect(try SafeTensorsFile(path: folder + "/t.safetensors").integers("test") == [7, -7, 0, 1])
        }
    }
}
