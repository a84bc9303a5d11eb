import Foundation
import Testing
@testable import Checkpoint

@Suite struct H5AttributesTests {
    @Test func rootAndDatasetAttributesOfEveryKindRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/attrs.h5"
            let text = "naïve ✓ \"quoted\"\nline two"
            let file = try H5File(creating: path)
            try file.attributes.set("step", .int64(-9_000_000_000))
            try file.attributes.set("lr", .double(3e-4))
            try file.attributes.set("note", .string(text))
            try file.attributes.set("empty", .string(""))
            let dataset = try file.createDataset("w", of: Float.self, shape: [1])
            try dataset.attributes.set("offset", .int64(12))
            try dataset.attributes.set("scale", .double(0.5))
            try dataset.attributes.set("origin", .string("rank 3"))
            try dataset.close()
            try file.close()

            let reread = try H5File(reading: path)
            #expect(try reread.attributes.all() == [
                "step": .int64(-9_000_000_000), "lr": .double(3e-4),
                "note": .string(text), "empty": .string(""),
            ])
            #expect(try reread.attributes.names() == ["empty", "lr", "note", "step"])
            #expect(try reread.attributes.int64("step") == -9_000_000_000)
            #expect(try reread.attributes.double("lr") == 3e-4)
            #expect(try reread.attributes.string("note") == text)
            let rereadDataset = try reread.openDataset("w")
            #expect(try rereadDataset.attributes.all() == [
                "offset": .int64(12), "scale": .double(0.5), "origin": .string("rank 3"),
            ])
        }
    }

    @Test func settingAnAttributeAgainReplacesIt() throws {
        try withTemporaryDirectory { dir in
            let file = try H5File(creating: dir + "/replace.h5")
            try file.attributes.set("x", .int64(1))
            try file.attributes.set("x", .string("now text"))
            #expect(try file.attributes.all() == ["x": .string("now text")])
        }
    }

    @Test func largeStringAttributeRoundTrips() throws {
        try withTemporaryDirectory { dir in
            let big = String(repeating: "merge ab cd\n", count: 200_000)
            let file = try H5File(creating: dir + "/big.h5")
            try file.attributes.set("tokenizer_data", .string(big))
            #expect(try file.attributes.string("tokenizer_data") == big)
        }
    }

    @Test func stringWithNULTraps() async {
        await #expect(processExitsWith: .failure) {
            let file = try H5File(creating: FileManager.default.temporaryDirectory.path + "/tessera-nul-trap.h5")
            try file.attributes.set("bad", .string("a\u{0}b"))
        }
        try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.path + "/tessera-nul-trap.h5")
    }
}
