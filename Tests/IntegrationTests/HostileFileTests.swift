import Checkpoint
import Foundation
import Testing

/// Checkpoints and model files from elsewhere: whatever a manifest or an HDF5 file declares, resume,
/// `ckpt verify` and `sample` answer with one `error:` line (never a signal, never an allocation
/// sized by the file), read nothing outside the folder named, and agree on what is damaged.
@Suite(.serialized)
struct HostileFileTests {
    /// A finished 2-rank run with checkpoints at steps 5 and 10.
    static let finished: TesseraRun = Tessera.train(np: 2, overrides: ["train.steps=10", "checkpoint.every=5"],
                                                    label: "hostile-finished")

    /// A copy of the finished run directory and its step-10 checkpoint folder.
    static func copy(_ label: String) throws -> (run: URL, folder: URL) {
        try #require(finished.status == 0, "\(finished.stderr)")
        let dir = Tessera.temporaryDirectory(label).appendingPathComponent("run")
        try FileManager.default.copyItem(at: finished.runDir, to: dir)
        return (dir, dir.appendingPathComponent("checkpoints/step_00000010"))
    }

    /// Rewrites the manifest in `folder` as JSON through `edit`.
    static func editManifest(_ folder: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = folder.appendingPathComponent("manifest.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    static func shard(_ object: inout [String: Any], _ index: Int, _ edit: (inout [String: Any]) -> Void) {
        var shards = object["shards"] as! [[String: Any]]
        edit(&shards[index])
        object["shards"] = shards
    }

    struct Edit: CustomTestStringConvertible, Sendable {
        let name: String
        let mentions: String
        let apply: @Sendable (inout [String: Any]) -> Void
        var testDescription: String { name }
    }

    static let manifestEdits: [Edit] = [
        Edit(name: "step -5", mentions: "step -5") { $0["step"] = -5 },
        Edit(name: "step 2^63-1", mentions: "step 9223372036854775807") { $0["step"] = Int.max },
        Edit(name: "a range of 10^15 elements", mentions: "range") { object in
            shard(&object, 0) { shard in
                var datasets = shard["datasets"] as! [[String: Any]]
                datasets[0]["ranges"] = [[0, 1_000_000_000_000_000]]
                shard["datasets"] = datasets
            }
        },
        Edit(name: "a global shape of 2^40 x 2^40", mentions: "global shape") { object in
            shard(&object, 1) { shard in
                var datasets = shard["datasets"] as! [[String: Any]]
                datasets[0]["globalShape"] = [1 << 40, 1 << 40]
                shard["datasets"] = datasets
            }
        },
        Edit(name: "more floats than the shard's bytes", mentions: "more floats") { object in
            shard(&object, 0) { $0["bytes"] = 16 }
        },
        Edit(name: "a shard outside the folder", mentions: "../../../outside/shard_00000.h5") { object in
            shard(&object, 0) { $0["file"] = "../../../outside/shard_00000.h5" }
        },
        Edit(name: "/etc/passwd as a shard", mentions: "where shard_00000.h5 belongs") { object in
            shard(&object, 0) { $0["file"] = "../../../../../../../../etc/passwd" }
        },
        Edit(name: "an impossible layout", mentions: "impossible layout") { object in
            var layout = object["layout"] as! [String: Any]
            layout["tp"] = Int.max
            object["layout"] = layout
        },
        Edit(name: "a missing field", mentions: "no 'step'") { $0["step"] = nil },
    ]

    /// Before: steps -5 and 2^63-1 crashed resume with SIGILL, the huge range made verify abort,
    /// and a shard outside the folder was read (verify passed; /etc/passwd's size was printed).
    @Test(arguments: manifestEdits)
    func aHostileManifestIsRefusedByResumeAndVerify(_ edit: Edit) throws {
        let (run, folder) = try Self.copy("hostile-manifest")
        let outside = run.deletingLastPathComponent().appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: folder.appendingPathComponent("shard_00000.h5"),
                                         to: outside.appendingPathComponent("shard_00000.h5"))
        try Self.editManifest(folder, edit.apply)
        let resumed = Tessera.train(np: 2, overrides: ["train.steps=12"], label: "hostile-manifest-run", runDir: run)
        #expect(resumed.status == 2, "\(resumed.stderr)")
        #expect(resumed.errorLines.count == 1 && resumed.errorLines[0].contains(edit.mentions), "\(resumed.stderr)")
        #expect(!resumed.stderr.contains("root:"), "a file outside the folder was read")
        let verify = runCommand([Tessera.executable.path, "ckpt", "verify", folder.path], timeout: 60)
        #expect(verify.status == 2, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stderr.hasPrefix("error: ") && verify.stderr.contains(edit.mentions), "\(verify.stderr)")
    }

    /// Before: a shard replaced by a link to another file was opened through the link.
    @Test func aLinkInACheckpointFolderIsRefused() throws {
        let (run, folder) = try Self.copy("hostile-link")
        let shard = folder.appendingPathComponent("shard_00001.h5")
        let elsewhere = run.deletingLastPathComponent().appendingPathComponent("elsewhere.h5")
        try FileManager.default.moveItem(at: shard, to: elsewhere)
        try FileManager.default.createSymbolicLink(at: shard, withDestinationURL: elsewhere)
        let verify = runCommand([Tessera.executable.path, "ckpt", "verify", folder.path], timeout: 60)
        #expect(verify.status == 1 && verify.stderr.contains("shard_00001.h5 is a symbolic link"), "\(verify.stderr)")
        let resumed = Tessera.train(np: 2, overrides: ["train.steps=12"], label: "hostile-link-run", runDir: run)
        #expect(resumed.status == 1 && resumed.errorLines.count == 1 && resumed.errorLines[0].contains("symbolic link"),
                "\(resumed.stderr)")
    }

    /// A shard rewritten with a NaN weight and a matching checksum. Before: `ckpt verify` said the
    /// checkpoint was fine while resume refused it.
    @Test func verifyRefusesNonFiniteWeightsAsResumeDoes() throws {
        let (run, folder) = try Self.copy("hostile-nan")
        let manifest = try CheckpointFolder.manifest(in: folder.path)
        var shards = manifest.shards
        let record = try #require(shards[0].datasets.first { $0.kind == .parameter })
        let path = folder.appendingPathComponent(shards[0].file).path
        let original = try H5File(reading: path)
        var datasets: [(DatasetRecord, [Float])] = []
        for dataset in shards[0].datasets {
            var values: [Float] = try original.read(dataset.dataset)
            if dataset.dataset == record.dataset { values[values.count / 2] = .nan }
            datasets.append((dataset, values))
        }
        try original.close()
        try FileManager.default.removeItem(atPath: path)
        shards[0] = try withBuffers(datasets) {
            try ShardFile.write(path: path, rank: 0, step: manifest.step, datasets: $0)
        }
        var damaged = manifest
        damaged.shards = shards
        try CheckpointFolder.write(damaged, in: folder.path)

        let verify = runCommand([Tessera.executable.path, "ckpt", "verify", folder.path], timeout: 60)
        #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stderr.contains("nan") && verify.stderr.contains(record.dataset), "\(verify.stderr)")
        let resumed = Tessera.train(np: 2, overrides: ["train.steps=12"], label: "hostile-nan-run", runDir: run)
        #expect(resumed.status == 1, "\(resumed.stderr)")
        #expect(resumed.errorLines.count == 1 && resumed.errorLines[0].contains("nan")
                && resumed.errorLines[0].contains(record.dataset), "\(resumed.stderr)")
    }

    /// Calls `body` with each array as an UnsafeBufferPointer that lives through the call.
    func withBuffers<R>(_ datasets: [(DatasetRecord, [Float])],
                        _ body: ([(record: DatasetRecord, data: UnsafeBufferPointer<Float>)]) throws -> R) throws -> R {
        let copies = datasets.map { record, values in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
            _ = buffer.initialize(from: values)
            return (record: record, buffer: buffer)
        }
        defer { copies.forEach { $0.buffer.deallocate() } }
        return try body(copies.map { (record: $0.record, data: UnsafeBufferPointer($0.buffer)) })
    }

    struct ModelCase: CustomTestStringConvertible, Sendable {
        let name: String
        /// Overrides of the finished run's config attribute.
        let config: [String: String]
        /// The declared shape of wte (nil: the real one).
        let wte: [Int]?
        let mentions: String
        var testDescription: String { name }
    }

    static let modelCases: [ModelCase] = [
        ModelCase(name: "wte declared (2^33, 32)", config: [:], wte: [1 << 33, 32], mentions: "wte"),
        ModelCase(name: "n_embd = 10^9", config: ["n_embd": "1000000000"], wte: nil, mentions: "model.n_embd"),
        ModelCase(name: "block_size = 4·10^9", config: ["block_size": "4000000000"], wte: nil, mentions: "model.block_size"),
        ModelCase(name: "n_layer = 10^8", config: ["n_layer": "100000000"], wte: nil, mentions: "model.n_layer"),
        ModelCase(name: "a model larger than memory", config: ["n_embd": "16384", "n_head": "128", "n_layer": "200"],
                  wte: [65, 16384], mentions: "memory"),
        ModelCase(name: "a tensor of another shape", config: [:], wte: [65, 31], mentions: "wte"),
    ]

    /// A model.h5 whose datasets are declared, not written (HDF5 allocates them lazily, so the file
    /// stays small), with the finished run's attributes and `change` applied to its config.
    static func hostileModel(_ change: ModelCase, in dir: URL) throws -> URL {
        let source = try ModelFileReader(path: finished.runDir.appendingPathComponent("model.h5").path)
        var config = source.attributes.config
        for (key, value) in change.config {
            config = config.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.hasPrefix("\(key) = ") ? "\(key) = \(value)" : String($0)
            }.joined(separator: "\n")
        }
        let path = dir.appendingPathComponent("model.h5")
        let file = try H5File(creating: path.path)
        try file.attributes.set("format_version", .int64(ModelFile.formatVersion))
        try file.attributes.set("step", .int64(source.attributes.step))
        try file.attributes.set("config", .string(config))
        for (name, text) in source.attributes.strings { try file.attributes.set(name, .string(text)) }
        for name in try source.file.datasetNames() {
            let shape = try (name == "wte" ? change.wte : nil) ?? source.file.shape(of: name)
            try file.createDataset(name, of: Float.self, shape: shape).close()
        }
        try file.close()
        return path
    }

    /// Before: wte declared (2^33, 32) made `sample` allocate 1 TiB (SIGABRT); the huge config
    /// attributes crashed it with SIGILL, SIGABRT or SIGSEGV.
    @Test(arguments: modelCases)
    func sampleRefusesAHostileModelFileInOneLine(_ change: ModelCase) throws {
        try #require(Self.finished.status == 0)
        let model = try Self.hostileModel(change, in: Tessera.temporaryDirectory("hostile-model"))
        let sample = runCommand([Tessera.executable.path, "sample", "--checkpoint", model.path, "--tokens", "4"], timeout: 60)
        #expect(sample.status == 2, "\(sample.stdout)\(sample.stderr)")
        let lines = sample.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: ") && lines[0].contains(change.mentions), "\(sample.stderr)")
    }
}
