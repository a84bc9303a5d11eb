import Checkpoint
import Foundation
import Model

/// The logical tensors of a checkpoint, assembled from the slices its shards hold, whatever layout
/// wrote them. Resuming and `tessera ckpt verify` read through it, so both refuse the same damage:
/// a shard that fails its size or checksum, a dataset that is missing or of another size, a value
/// that is not finite, an element of a parameter that no slice covers.
public final class SavedTensors {
    public let folder: String
    public let manifest: CheckpointManifest
    private var sources: [String: [(shard: ShardRecord, record: DatasetRecord)]] = [:]
    private var files: [String: H5File] = [:]
    private var verified: Set<String> = []

    public init(folder: String, manifest: CheckpointManifest) {
        self.folder = folder
        self.manifest = manifest
        for shard in manifest.shards {
            for record in shard.datasets { sources[Self.key(record.kind, record.name), default: []].append((shard, record)) }
        }
    }

    deinit { files.values.forEach { try? $0.close() } }

    private static func key(_ kind: DatasetRecord.Kind, _ name: String) -> String { "\(kind.rawValue):\(name)" }

    /// Checks `shard` against its recorded size and checksum, once.
    public func verify(_ shard: ShardRecord) throws {
        guard !verified.contains(shard.file) else { return }
        try ShardFile.verify(shard, in: folder)
        verified.insert(shard.file)
    }

    private func open(_ shard: ShardRecord) throws -> H5File {
        if let file = files[shard.file] { return file }
        try verify(shard)
        let file = try H5File(reading: folder + "/" + shard.file)
        files[shard.file] = file
        return file
    }

    /// The full logical tensor of `spec.name` assembled from every saved slice of `kind`, NaN where
    /// no slice covers an element; nil when the checkpoint has no slice of it (moments of a run
    /// that never stepped). Throws when a slice has another global shape than `spec`, or a value
    /// that is not finite.
    public func assemble(_ kind: DatasetRecord.Kind, _ spec: ParameterSpec) throws -> [Float]? {
        guard let slices = sources[Self.key(kind, spec.name)] else { return nil }
        // Slices that cannot cover the tensor are refused before it is allocated: a manifest's
        // shapes are bounded by the shards' recorded sizes only through this.
        let held = slices.reduce(0) { $0 + $1.record.count }
        guard held >= spec.globalCount else {
            throw CheckpointError.corrupt(folder, "holds \(held) saved values of '\(spec.name)' (\(kind.rawValue)), "
                + "fewer than its \(spec.globalCount) elements")
        }
        var full = [Float](repeating: .nan, count: spec.globalCount)
        for (shard, record) in slices {
            guard record.globalShape == spec.globalShape else {
                throw CheckpointError.invalid(folder + "/" + CheckpointFolder.manifestName,
                    "gives '\(spec.name)' shape \(record.globalShape) in \(shard.file); this model's is \(spec.globalShape)")
            }
            var values = [Float](repeating: 0, count: record.count)
            try values.withUnsafeMutableBufferPointer { try ShardFile.read(record, from: try open(shard), into: $0) }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError.corrupt(folder + "/" + shard.file,
                    "holds \(values[bad]) in '\(record.dataset)' (element \(bad)): a checkpoint's values are finite")
            }
            let source = ParameterSpec(name: record.name, globalShape: record.globalShape, initializer: .zeros,
                                       decays: false, splitDim: record.splitDim, parts: record.parts,
                                       shard: record.shard, shards: record.shards, paddedRows: record.paddedRows)
            // Local index → position in the dataset, through the recorded ranges.
            var position = [Int](repeating: -1, count: source.localCount), at = 0
            for pair in record.ranges {
                for local in pair[0]..<pair[1] { position[local] = at; at += 1 }
            }
            source.forEachGlobalIndex { local, global in
                if position[local] >= 0 { full[global] = values[position[local]] }
            }
        }
        return full
    }

    /// A parameter's full tensor; throws when the checkpoint lacks it or leaves an element uncovered.
    public func parameter(_ spec: ParameterSpec) throws -> [Float] {
        guard let values = try assemble(.parameter, spec) else {
            throw CheckpointError.corrupt(folder, "has no saved values of '\(spec.name)'")
        }
        if values.contains(where: \.isNaN) {
            throw CheckpointError.corrupt(folder, "does not cover every element of '\(spec.name)'")
        }
        return values
    }

    /// Every check resuming makes, on every tensor of the checkpoint, as one reader would alone:
    /// each shard's size and checksum, each parameter whole, every value finite.
    public func verifyAll() throws {
        for shard in manifest.shards { try verify(shard) }
        var seen: Set<String> = []
        for shard in manifest.shards {
            for record in shard.datasets where seen.insert(Self.key(record.kind, record.name)).inserted {
                let whole = ParameterSpec(name: record.name, globalShape: record.globalShape, initializer: .zeros, decays: false)
                if record.kind == .parameter {
                    _ = try parameter(whole)
                } else {
                    _ = try assemble(record.kind, whole)
                }
            }
        }
    }
}
