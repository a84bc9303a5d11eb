import Foundation
import Testing
@testable import SafeTensors

/// A file of unknown origin is refused with one error that names it and says what is wrong, and
/// nothing the file claims is allocated or read before it is checked against the file's real size.
struct HostileFileTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let bytes: [UInt8]
        let complaint: String
    }

    static let f32Pair = #""dtype":"F32","shape":[2]"#

    static let cases: [Case] = [
        Case(testDescription: "an empty file", bytes: [], complaint: "is 0 bytes, too short for the 8-byte header length"),
        Case(testDescription: "a 7-byte file", bytes: [2, 0, 0, 0, 0, 0, 0], complaint: "is 7 bytes, too short"),
        Case(testDescription: "a header length larger than the file", bytes: fileBytes(header: "{}", length: 1000),
             complaint: "header length 1000 runs past the end of the 10-byte file"),
        Case(testDescription: "a header length of 2^63", bytes: fileBytes(header: "{}", length: 1 << 63),
             complaint: "header length 9223372036854775808 is over the 100000000 bytes a header may have"),
        Case(testDescription: "a tensor of terabytes",
             bytes: fileBytes(header: #"{"w":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}"#),
             complaint: "tensor 'w': data_offsets [0, 1099511627776] run past the data section's 0 bytes"),
        Case(testDescription: "offsets past the end",
             bytes: fileBytes(header: #"{"w":{\#(f32Pair),"data_offsets":[8,16]}}"#, data: zeros(8)),
             complaint: "tensor 'w': data_offsets [8, 16] run past the data section's 8 bytes"),
        Case(testDescription: "overlapping tensors",
             bytes: fileBytes(header: #"{"a":{\#(f32Pair),"data_offsets":[0,8]},"b":{\#(f32Pair),"data_offsets":[4,12]}}"#, data: zeros(12)),
             complaint: "tensors 'a' [0, 8] and 'b' [4, 12] overlap"),
        Case(testDescription: "a hole between tensors",
             bytes: fileBytes(header: #"{"a":{\#(f32Pair),"data_offsets":[0,8]},"b":{\#(f32Pair),"data_offsets":[12,20]}}"#, data: zeros(20)),
             complaint: "data bytes [8, 12) before tensor 'b' belong to no tensor"),
        Case(testDescription: "bytes after the last tensor",
             bytes: fileBytes(header: #"{"a":{\#(f32Pair),"data_offsets":[0,8]}}"#, data: zeros(12)),
             complaint: "data bytes [8, 12) at the end of the file belong to no tensor"),
        Case(testDescription: "end before begin",
             bytes: fileBytes(header: #"{"a":{\#(f32Pair),"data_offsets":[8,0]}}"#, data: zeros(8)),
             complaint: "tensor 'a': data_offsets [8, 0] end before they begin"),
        Case(testDescription: "an unsupported dtype",
             bytes: fileBytes(header: #"{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "tensor 'a': dtype 'F8_E4M3' is not supported (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL are)"),
        Case(testDescription: "a lower-case dtype", bytes: fileBytes(header: #"{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "dtype 'f32' is not supported"),
        Case(testDescription: "a shape of 2^40 × 2^40",
             bytes: fileBytes(header: #"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "tensor 'a': F32 [1099511627776, 1099511627776] needs more bytes than an Int can count"),
        Case(testDescription: "a shape whose bytes overflow only with the dtype",
             bytes: fileBytes(header: #"{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "needs more bytes than an Int can count"),
        Case(testDescription: "a negative extent",
             bytes: fileBytes(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "header is not valid JSON: a negative number at byte 29"),
        Case(testDescription: "a fractional extent",
             bytes: fileBytes(header: #"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "a number that is not an integer"),
        Case(testDescription: "an extent past Int.max", bytes: fileBytes(header: #"{"a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "tensor 'a': shape is not a list of non-negative integers"),
        Case(testDescription: "three offsets", bytes: fileBytes(header: #"{"a":{\#(f32Pair),"data_offsets":[0,8,8]}}"#, data: zeros(8)),
             complaint: "data_offsets is not a list of two non-negative integers"),
        Case(testDescription: "a missing dtype", bytes: fileBytes(header: #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "tensor 'a': no dtype string"),
        Case(testDescription: "an unknown key", bytes: fileBytes(header: #"{"a":{\#(f32Pair),"data_offsets":[0,8],"offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "tensor 'a': unknown key 'offsets'"),
        Case(testDescription: "a JSON list", bytes: fileBytes(header: "[1,2]"), complaint: "header is a list, not a JSON object"),
        Case(testDescription: "a JSON string", bytes: fileBytes(header: #""{}""#), complaint: "header is a string, not a JSON object"),
        Case(testDescription: "truncated JSON", bytes: fileBytes(header: #"{"a":{"dtype":"F3"#), complaint: "header is not valid JSON: text ends inside a string"),
        Case(testDescription: "invalid UTF-8", bytes: littleEndian(4) + [0x7B, 0x22, 0xFF, 0x7D], complaint: "header is not valid UTF-8"),
        Case(testDescription: "a duplicate name",
             bytes: fileBytes(header: #"{"a":{\#(f32Pair),"data_offsets":[0,8]},"a":{\#(f32Pair),"data_offsets":[8,16]}}"#, data: zeros(16)),
             complaint: "key 'a' appears twice in one object"),
        Case(testDescription: "an empty name", bytes: fileBytes(header: #"{"":{\#(f32Pair),"data_offsets":[0,8]}}"#, data: zeros(8)),
             complaint: "a tensor has an empty name"),
        Case(testDescription: "a tensor entry that is a string", bytes: fileBytes(header: #"{"a":"F32"}"#),
             complaint: "tensor 'a': entry is a string, not an object"),
        Case(testDescription: "metadata that is not all strings", bytes: fileBytes(header: #"{"__metadata__":{"step":3}}"#),
             complaint: "__metadata__ 'step' is an integer, not a string"),
        Case(testDescription: "a name with a newline", bytes: fileBytes(header: #"{"a\nb":{"dtype":"U16","shape":[],"data_offsets":[0,2]}}"#, data: zeros(2)),
             complaint: #"tensor 'a\nb': dtype 'U16' is not supported"#),
    ]

    @Test(arguments: cases)
    func isRefusedWithOneLine(_ hostile: Case) throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/model.safetensors"
            try write(hostile.bytes, to: path)
            let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
            #expect(error?.path == path)
            #expect(error?.message.contains(hostile.complaint) == true, "\(error?.description ?? "no error")")
            #expect(error?.description.contains("\n") == false)
        }
    }

    @Test func theMismatchMessageNamesFileTensorOffsetsAndShape() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/model.safetensors"
            try write(fileBytes(header: #"{"h.0.attn.c_attn.weight":{"dtype":"F32","shape":[4,8],"data_offsets":[0,96]}}"#, data: zeros(96)), to: path)
            let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
            #expect(error?.description == path + ": tensor 'h.0.attn.c_attn.weight': data_offsets [0, 96] hold 96 bytes but F32 [4, 8] needs 128")
        }
    }

    @Test func aMissingFileAndAFolderAreRefused() throws {
        try withTemporaryDirectory { folder in
            #expect(throws: SafeTensorsError(folder + "/none.safetensors", "does not exist")) {
                try SafeTensorsFile(path: folder + "/none.safetensors")
            }
            #expect(throws: SafeTensorsError(folder, "is a folder, not a file")) { try SafeTensorsFile(path: folder) }
        }
    }

    @Test func aFileCutShortAfterOpeningFailsTheReadNotTheProcess() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/model.safetensors"
            try writeSafeTensors(path: path, tensors: [TensorToWrite(name: "w", shape: [1024], values: [Float](repeating: 1, count: 1024))])
            let file = try SafeTensorsFile(path: path)
            #expect(truncate(path, off_t(file.dataStart + 100)) == 0)
            let error = #expect(throws: SafeTensorsError.self) { try file.floats("w") }
            #expect(error?.message.contains("tensor 'w' cannot be read: the file ends at byte") == true, "\(error?.description ?? "")")
        }
    }
}

func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }
