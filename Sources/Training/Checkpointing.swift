import Checkpoint
import Config
import Foundation
import Model
import MPI
import Parallel

/// Sharded checkpoints of a Trainer: every rank writes its own shard in parallel, holding exactly
/// the slices of parameters and AdamW moments it is the one to write; rank 0 then adds model.h5,
/// the manifest (which makes the folder complete) and moves `latest`. Resuming reads, on every
/// rank, only the slices its own partition needs, whatever layout wrote them.
extension Trainer {
    /// Which of this rank's tensors it writes, so that every value is written exactly once: the
    /// tied embedding's copy on the last stage never; tensors replicated across the tensor group
    /// on tensor rank 0 only (a kv head copied on several tensor ranks, on the first). Parameters (and, without ZeRO, moments) are held alike by every data
    /// replica (by every expert group, for experts): the replicas split the store into equal
    /// consecutive parts by size and each writes the tensors centred in its part, so all ranks
    /// write in parallel. With ZeRO-1 each replica owns distinct moments and writes them.
    private func writes(_ spec: ParameterSpec, index: Int, moments: Bool) -> Bool {
        let layout = groups.layout
        if spec.name == GPTParameterName.tokenEmbedding && !model.partition.hasEmbedding { return false }
        // A slice several tensor ranks hold (a replicated tensor, a kv head copied): the first writes.
        if spec.shards < layout.tp && layout.tpIndex % (layout.tp / spec.shards) != 0 { return false }
        if moments && sync.isSharded { return true }
        let range = model.store.range(of: index)
        let (replicas, replica) = model.isExpert(range.lowerBound) ? (layout.dp / layout.ep, layout.epGroupIndex)
            : (layout.dp, layout.dpIndex)
        let centre = Double(range.lowerBound + range.upperBound) / 2 / Double(max(model.store.count, 1))
        return min(replicas - 1, Int(centre * Double(replicas))) == replica
    }

    private func record(_ spec: ParameterSpec, kind: DatasetRecord.Kind, ranges: [Range<Int>]) -> DatasetRecord {
        let prefix = switch kind {
        case .parameter: "param"
        case .firstMoment: "adam_m"
        case .secondMoment: "adam_v"
        }
        return DatasetRecord(dataset: "\(prefix):\(spec.name)", kind: kind, name: spec.name, globalShape: spec.globalShape,
                             splitDim: spec.splitDim, parts: spec.parts, shard: spec.shard, shards: spec.shards,
                             paddedRows: spec.paddedRows, ranges: ranges.map { [$0.lowerBound, $0.upperBound] })
    }

    /// Saves the state after `step` into RUN_DIR/checkpoints/step_NNNNNNNN and makes it `latest`.
    func saveCheckpoint(step: Int) throws {
        let started = MPIEnvironment.wallTime()
        let folders = CheckpointFolder(runDirectory: config.run.dir)
        let folder = folders.path(step: step)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = model.store
        // Moments live only for owned runs; a spec's owned runs are packed into one staging copy.
        var staging: [UnsafeMutableBufferPointer<Float>] = []
        defer { staging.forEach { $0.deallocate() } }
        var datasets: [(record: DatasetRecord, data: UnsafeBufferPointer<Float>)] = []
        for (i, spec) in store.specs.enumerated() {
            let range = store.range(of: i)
            if writes(spec, index: i, moments: false) {
                datasets.append((record(spec, kind: .parameter, ranges: [0..<spec.localCount]),
                                 UnsafeBufferPointer(start: store.values + range.lowerBound, count: range.count)))
            }
            let runs = optimizer.ownedRuns(in: range)
            guard writes(spec, index: i, moments: true), !runs.isEmpty else { continue }
            let local = runs.map { ($0.range.lowerBound - range.lowerBound)..<($0.range.upperBound - range.lowerBound) }
            for (kind, moments) in [(DatasetRecord.Kind.firstMoment, optimizer.m), (.secondMoment, optimizer.v)] {
                let packed = UnsafeMutableBufferPointer<Float>.allocate(capacity: runs.reduce(0) { $0 + $1.range.count })
                staging.append(packed)
                var at = 0
                for run in runs {
                    (packed.baseAddress! + at).update(from: moments + run.moments, count: run.range.count)
                    at += run.range.count
                }
                datasets.append((record(spec, kind: kind, ranges: local), UnsafeBufferPointer(packed)))
            }
        }
        let rank = groups.world.rank
        // Test hook (`TESSERA_KILL_IN_SAVE=STEP:RANK`): that rank dies mid-save, as a crash would.
        if let hook = ProcessInfo.processInfo.environment["TESSERA_KILL_IN_SAVE"],
           hook == "\(step):\(rank)" {
            kill(getpid(), SIGKILL)
        }
        var failure: String?
        var shard: ShardRecord?
        do {
            shard = try ShardFile.write(path: folder + "/" + CheckpointFolder.shardName(rank: rank), rank: rank,
                                        step: step, datasets: datasets)
        } catch {
            failure = "writing checkpoint shard: \(error)"
        }
        // Every shard is on disk (or the save failed everywhere) before the folder is completed.
        if let failed = try groups.world.firstFailure(failure) {
            throw RunError("rank \(failed.rank): \(failed.message)", seenByEveryRank: true)
        }
        let json = try JSONEncoder().encode(shard!)
        let gathered = try gatherStrings(String(decoding: json, as: UTF8.self))
        try ModelExport.write(model: model, setup: setup, groups: groups, step: step, path: folder + "/model.h5")
        if let gathered {
            let shards = try gathered.map { try JSONDecoder().decode(ShardRecord.self, from: Data($0.utf8)) }
            let d = degrees
            let manifest = CheckpointManifest(
                step: step, config: config.tomlText(),
                layout: SavedLayout(worldSize: d.worldSize, dp: d.dp, tp: d.tp, pp: d.pp, ep: d.ep,
                                    zero: config.parallel.zero, microbatches: d.microbatches),
                lossScaler: scaler.map { SavedLossScaler(scale: $0.scale, cleanSteps: $0.cleanSteps, skippedSteps: $0.skippedSteps) },
                tokenizer: setup.corpus.tokenizer.kind.rawValue, tokenizerData: setup.corpus.tokenizer.serialized,
                seed: config.run.seed, shards: shards)
            try CheckpointFolder.write(manifest, in: folder)
            try folders.setLatest(step: step)
            try folders.prune(keep: config.checkpoint.keep)
            let seconds = MPIEnvironment.wallTime() - started, megabytes = Double(shards.reduce(0) { $0 + $1.bytes }) / 1e6
            progress("tessera: saved \(folder) in \(String(format: "%.2f", seconds)) s: \(shards.count) shards, "
                + "\(String(format: "%.1f", megabytes)) MB (\(String(format: "%.0f", megabytes / seconds)) MB/s, model.h5 not counted)")
        }
        try groups.world.barrier()
    }

    /// Every rank's string, in rank order, on rank 0 (nil elsewhere).
    private func gatherStrings(_ text: String) throws -> [String]? {
        let world = groups.world
        let lengths = try world.gather([Int64(text.utf8.count)], root: 0)
        guard let bytes = try world.gatherv(Array(text.utf8), root: 0), let lengths else { return nil }
        var strings: [String] = [], start = 0
        for length in lengths.map(Int.init) {
            strings.append(String(decoding: bytes[start..<(start + length)], as: UTF8.self))
            start += length
        }
        return strings
    }

    /// Checks that the checkpoint in `folder` holds this model (every tensor, same global shape);
    /// throws CheckpointError.invalid naming the file otherwise. Returns its manifest.
    public static func compatibleManifest(folder: String, dims: GPTDimensions) throws -> CheckpointManifest {
        let manifest = try CheckpointFolder.manifest(in: folder)
        let path = folder + "/" + CheckpointFolder.manifestName
        let saved = manifest.parameterShapes
        for spec in dims.parameterSpecs() {
            guard let shape = saved[spec.name] else {
                throw CheckpointError.invalid(path, "has no tensor '\(spec.name)': it was saved from another model")
            }
            guard shape == spec.globalShape else {
                throw CheckpointError.invalid(path, "holds '\(spec.name)' with shape \(shape); this model's is \(spec.globalShape)")
            }
        }
        return manifest
    }

    /// Loads parameters, moments, step and loss scale from `folder` (whose manifest every rank
    /// already has): each rank opens only the shards holding tensors it needs, verifies their
    /// checksums, and maps every saved slice through global indices into its own slices.
    /// `parametersOnly`: take the weights alone (a run that starts from another's, like DPO from
    /// `train.init_from`), leaving moments, step and loss scale as they are.
    public func loadCheckpoint(folder: String, manifest: CheckpointManifest, parametersOnly: Bool = false) throws {
        let store = model.store
        let saved = SavedTensors(folder: folder, manifest: manifest)
        // Every shard is checked by some rank, those this rank reads by itself too, so damage
        // anywhere stops the resume.
        let world = groups.world
        for (i, shard) in manifest.shards.enumerated() where i % world.size == world.rank {
            try saved.verify(shard)
        }
        try loadParameters { try saved.parameter($0) }
        guard !parametersOnly else { return }
        for (i, spec) in store.specs.enumerated() {
            let range = store.range(of: i)
            var globalOf = [Int](repeating: -1, count: spec.localCount)  // padding rows stay -1
            spec.forEachGlobalIndex { local, global in globalOf[local] = global }
            for (kind, moments) in [(DatasetRecord.Kind.firstMoment, optimizer.m), (.secondMoment, optimizer.v)] {
                guard let savedMoments = try saved.assemble(kind, spec) else { continue }
                for run in optimizer.ownedRuns(in: range) {
                    for flat in run.range {
                        let global = globalOf[flat - range.lowerBound]
                        moments[run.moments + flat - run.range.lowerBound] = global >= 0 ? savedMoments[global] : 0
                    }
                }
            }
        }
        startStep = manifest.step + 1
        if let saved = manifest.lossScaler, scaler != nil {
            scaler = LossScaler(restoring: saved)
        }
    }

    /// Sets every parameter this rank holds from its full logical tensor, which `full` gives for a
    /// spec in global row-major order (`globalShape`), whatever layout or format it comes from: a
    /// sharded checkpoint, a Hugging Face folder. Padding rows keep their zeros.
    public func loadParameters(_ full: (ParameterSpec) throws -> [Float]) throws {
        let store = model.store
        for (i, spec) in store.specs.enumerated() {
            let values = try full(spec)
            precondition(values.count == spec.globalCount, "\(spec.name): \(values.count) values for \(spec.globalShape)")
            let start = store.range(of: i).lowerBound
            spec.forEachGlobalIndex { local, global in store.values[start + local] = values[global] }
        }
        model.parametersChanged()
    }
}
