import Testing
@testable import Checkpoint

@Suite struct H5FileTests {
    @Test func datasetsOfEveryElementTypeAndRankRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/data.h5"
            let floats: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
            let doubles: [Double] = [1e-300, -2.5, .pi]
            let int32s: [Int32] = [.min, -1, 0, 1, .max, 7]
            let int64s: [Int64] = [.min, .max]
            let bytes: [UInt8] = Array(0...255)
            let scalar: [Double] = [42]

            let file = try H5File(creating: path)
            try floats.withUnsafeBufferPointer { try file.write("f.3d", shape: [2, 3, 4], $0) }
            try doubles.withUnsafeBufferPointer { try file.write("d", shape: [3], $0) }
            try int32s.withUnsafeBufferPointer { try file.write("i32", shape: [3, 2], $0) }
            try int64s.withUnsafeBufferPointer { try file.write("i64", shape: [2], $0) }
            try bytes.withUnsafeBufferPointer { try file.write("u8", shape: [16, 16], $0) }
            try scalar.withUnsafeBufferPointer { try file.write("scalar", shape: [], $0) }
            try file.close()

            let reread = try H5File(reading: path)
            #expect(try reread.datasetNames() == ["d", "f.3d", "i32", "i64", "scalar", "u8"])
            #expect(try reread.read("f.3d", as: Float.self) == floats)
            #expect(try reread.shape(of: "f.3d") == [2, 3, 4])
            #expect(try reread.read("d", as: Double.self) == doubles)
            #expect(try reread.read("i32", as: Int32.self) == int32s)
            #expect(try reread.shape(of: "i32") == [3, 2])
            #expect(try reread.read("i64", as: Int64.self) == int64s)
            #expect(try reread.read("u8", as: UInt8.self) == bytes)
            #expect(try reread.shape(of: "scalar") == [])
            #expect(try reread.read("scalar", as: Double.self) == scalar)
            try reread.close()
        }
    }

    @Test func readingConvertsBetweenElementTypes() throws {
        try withTemporaryDirectory { dir in
            let file = try H5File(creating: dir + "/convert.h5")
            try [Float(1.5), -2].withUnsafeBufferPointer { try file.write("x", shape: [2], $0) }
            #expect(try file.read("x", as: Double.self) == [1.5, -2])
        }
    }

    @Test func emptyDatasetRoundTrips() throws {
        try withTemporaryDirectory { dir in
            let file = try H5File(creating: dir + "/empty.h5")
            try [Float]().withUnsafeBufferPointer { try file.write("none", shape: [0, 3], $0) }
            #expect(try file.shape(of: "none") == [0, 3])
            #expect(try file.read("none", as: Float.self) == [])
        }
    }

    @Test func datasetStaysUsableAfterItsFileIsClosed() throws {
        try withTemporaryDirectory { dir in
            let file = try H5File(creating: dir + "/held.h5")
            let dataset = try file.createDataset("x", of: Int64.self, shape: [2])
            try file.close()
            try [Int64(3), 4].withUnsafeBufferPointer { try dataset.write($0) }
            #expect(try dataset.read(as: Int64.self) == [3, 4])
            try dataset.close()
        }
    }
}
