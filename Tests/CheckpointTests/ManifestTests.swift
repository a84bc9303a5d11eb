@testable import Checkpoint
import Foundation
import Testing

/// A manifest is checked whole before anything is sized from it or read through it.
struct ManifestTests {
    /// Two ranks (tp 2) holding the halves of a (6, 4) tensor, with AdamW moments, as a run saves.
    static func sound() -> CheckpointManifest {
        func dataset(_ kind: DatasetRecord.Kind, shard: Int) -> DatasetRecord {
            DatasetRecord(dataset: "\(kind.rawValue):w", kind: kind, name: "w", globalShape: [6, 4], splitDim: 0, parts: 1,
                          shard: shard, shards: 2, paddedRows: 0, ranges: [[0, 12]])
        }
        let shards = (0..<2).map { rank in
            ShardRecord(file: CheckpointFolder.shardName(rank: rank), rank: rank, bytes: 4096, crc32c: "00000000",
                        datasets: [dataset(.parameter, shard: rank), dataset(.firstMoment, shard: rank)])
        }
        return CheckpointManifest(step: 10, config: "", layout: SavedLayout(worldSize: 2, dp: 1, tp: 2, pp: 1, ep: 1, zero: 0,
                                                                             microbatches: 1),
                                  lossScaler: nil, tokenizer: "char", tokenizerData: "ab", seed: 1, shards: shards)
    }

    static func decoded(_ manifest: CheckpointManifest) throws -> CheckpointManifest {
        try CheckpointManifest.decode(try manifest.encoded(), path: "m.json")
    }

    @Test func aSoundManifestDecodes() throws {
        #expect(try Self.decoded(Self.sound()) == Self.sound())
    }

    struct Damage: CustomTestStringConvertible, Sendable {
        let name: String
        let mentions: String
        let apply: @Sendable (inout CheckpointManifest) -> Void
        var testDescription: String { name }
    }

    static func dataset(_ manifest: inout CheckpointManifest, _ edit: (inout DatasetRecord) -> Void) {
        edit(&manifest.shards[1].datasets[0])
    }

    static let damages: [Damage] = [
        Damage(name: "negative step", mentions: "step -5") { $0.step = -5 },
        Damage(name: "step 2^63 − 1", mentions: "outside [0, 99999999]") { $0.step = .max },
        Damage(name: "step past eight digits", mentions: "step 100000000") { $0.step = 100_000_000 },
        Damage(name: "negative seed", mentions: "seed") { $0.seed = -1 },
        Damage(name: "degrees that overflow", mentions: "impossible layout") { $0.layout.tp = .max; $0.layout.dp = .max },
        Damage(name: "degrees that do not multiply to the world", mentions: "impossible layout") { $0.layout.worldSize = 3 },
        Damage(name: "a shard missing", mentions: "lists 1 shards") { $0.shards.removeLast() },
        Damage(name: "a path for a shard", mentions: "where shard_00000.h5 belongs") { $0.shards[0].file = "../shard_00000.h5" },
        Damage(name: "an absolute shard", mentions: "belongs") { $0.shards[1].file = "/etc/passwd" },
        Damage(name: "two shards for one rank", mentions: "belongs") { $0.shards[1].rank = 0 },
        Damage(name: "no dimensions", mentions: "global shape []") { dataset(&$0) { $0.globalShape = [] } },
        Damage(name: "a zero dimension", mentions: "global shape") { dataset(&$0) { $0.globalShape = [0, 4] } },
        Damage(name: "2^80 elements", mentions: "global shape") { dataset(&$0) { $0.globalShape = [1 << 40, 1 << 40] } },
        Damage(name: "2^41 elements", mentions: "global shape") { dataset(&$0) { $0.globalShape = [1 << 41] } },
        Damage(name: "a split dimension outside the shape", mentions: "impossible split") { dataset(&$0) { $0.splitDim = 2 } },
        Damage(name: "shard past shards", mentions: "impossible split") { dataset(&$0) { $0.shard = 2 } },
        Damage(name: "shards that overflow with parts", mentions: "impossible split") {
            dataset(&$0) { $0.shards = .max; $0.parts = .max }
        },
        Damage(name: "a split that does not divide", mentions: "impossible split") { dataset(&$0) { $0.shards = 4 } },
        Damage(name: "negative padding", mentions: "impossible split") { dataset(&$0) { $0.paddedRows = -2 } },
        Damage(name: "a range of 10^15", mentions: "range [0, 1000000000000000]") {
            dataset(&$0) { $0.ranges = [[0, 1_000_000_000_000_000]] }
        },
        Damage(name: "a reversed range", mentions: "range [5, 2]") { $0.shards[1].datasets[1].ranges = [[5, 2]] },
        Damage(name: "overlapping ranges", mentions: "range [2, 6]") { $0.shards[1].datasets[1].ranges = [[0, 4], [2, 6]] },
        Damage(name: "a range of one number", mentions: "range [3]") { $0.shards[1].datasets[1].ranges = [[3]] },
        Damage(name: "part of a parameter", mentions: "saved whole") { dataset(&$0) { $0.ranges = [[0, 6]] } },
        Damage(name: "more floats than bytes", mentions: "more floats") { $0.shards[0].bytes = 40 },
        Damage(name: "one dataset twice", mentions: "listed twice") {
            $0.shards[0].datasets.append($0.shards[0].datasets[0])
        },
        Damage(name: "a negative loss scale", mentions: "loss scale") {
            $0.lossScaler = SavedLossScaler(scale: -1, cleanSteps: 0, skippedSteps: 0)
        },
    ]

    @Test(arguments: damages)
    func aDamagedManifestIsRefusedNamingWhatIsWrong(_ damage: Damage) throws {
        var manifest = Self.sound()
        damage.apply(&manifest)
        let error = try #require(throws: CheckpointError.self) { try Self.decoded(manifest) }
        guard case .invalid(let path, let what) = error else {
            Issue.record("\(error)")
            return
        }
        #expect(path == "m.json" && what.contains(damage.mentions), "\(what)")
        #expect(!"\(error)".contains("\n"))
    }

    @Test func malformedJSONIsNamedInOneLine() throws {
        let text = #"{"formatVersion": 1, "step": "ten"}"#
        let error = try #require(throws: CheckpointError.self) { try CheckpointManifest.decode(Data(text.utf8), path: "m.json") }
        #expect("\(error)" == "checkpoint m.json is malformed: wrong or missing value at step", "\(error)")
    }
}

/// The newest complete folder is what a run continues from, whatever `latest` says.
struct CheckpointFolderTests {
    /// A run directory with complete checkpoints at `complete`, incomplete folders at `incomplete`.
    func runDirectory(_ root: String, complete: [Int], incomplete: [Int] = [], latest: String?) throws -> CheckpointFolder {
        let folders = CheckpointFolder(runDirectory: root)
        for step in complete + incomplete {
            try FileManager.default.createDirectory(atPath: folders.path(step: step), withIntermediateDirectories: true)
        }
        for step in complete {
            FileManager.default.createFile(atPath: folders.path(step: step) + "/manifest.json", contents: Data())
        }
        if let latest { try latest.write(toFile: folders.root + "/latest", atomically: true, encoding: .utf8) }
        return folders
    }

    @Test func latestNamingTheNewestNeedsNoNote() throws {
        try withTemporaryDirectory { root in
            let folders = try runDirectory(root, complete: [5, 10], incomplete: [15], latest: "step_00000010\n")
            let newest = try #require(try folders.newest())
            #expect(newest.folder == folders.path(step: 10) && newest.note == nil)
        }
    }

    @Test(arguments: [nil, "step_00000005\n", "step_00000015\n", "../../x\n", "", "step_00000099"])
    func anyOtherLatestYieldsTheNewestCompleteWithANote(_ latest: String?) throws {
        try withTemporaryDirectory { root in
            let folders = try runDirectory(root, complete: [5, 10], incomplete: [15], latest: latest)
            let newest = try #require(try folders.newest())
            #expect(newest.folder == folders.path(step: 10))
            #expect(newest.note?.contains("newest complete checkpoint is step_00000010") == true, "\(newest.note ?? "")")
        }
    }

    @Test func foldersSortByStepNotByName() throws {
        try withTemporaryDirectory { root in
            let folders = try runDirectory(root, complete: [9, 10, 100], latest: nil)
            try FileManager.default.createDirectory(atPath: folders.root + "/step_x", withIntermediateDirectories: true)
            #expect(try folders.completeSteps() == [9, 10, 100])
        }
    }

    @Test func noCheckpointAndNoLatestIsAFreshStart() throws {
        try withTemporaryDirectory { root in
            let empty = try CheckpointFolder(runDirectory: root).newest()
            #expect(empty == nil)
            let incompleteOnly = try runDirectory(root, complete: [], incomplete: [5], latest: nil).newest()
            #expect(incompleteOnly == nil)
        }
    }

    @Test func aLatestWithoutAnyCompleteFolderIsRefused() throws {
        try withTemporaryDirectory { root in
            let folders = try runDirectory(root, complete: [], incomplete: [5], latest: "step_00000005\n")
            #expect(throws: CheckpointError.self) { try folders.newest() }
        }
    }

    @Test func aLinkInPlaceOfAStepFolderIsRefused() throws {
        try withTemporaryDirectory { root in
            let folders = try runDirectory(root, complete: [5], latest: nil)
            try FileManager.default.createSymbolicLink(atPath: folders.path(step: 10), withDestinationPath: folders.path(step: 5))
            let error = try #require(throws: CheckpointError.self) { try folders.newest() }
            #expect("\(error)".contains("is a symbolic link"))
        }
    }

    @Test func pruneKeepsTheNewestAndDropsOlderIncompleteFolders() throws {
        try withTemporaryDirectory { root in
            let folders = try runDirectory(root, complete: [5, 10, 15], incomplete: [7, 20], latest: nil)
            try folders.prune(keep: 2)
            #expect(try folders.folders().map(\.step) == [10, 15, 20])
        }
    }
}
