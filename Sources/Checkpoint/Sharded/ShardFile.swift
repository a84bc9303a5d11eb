import FileSystem
import Foundation

/// One rank's shard of a checkpoint: flat float32 datasets, one per DatasetRecord, each carrying its
/// tensor's global name, global shape and slice as attributes so the file explains itself (h5dump);
/// readers take the layout from the manifest and check every dataset against it.
public enum ShardFile {
    /// Writes the datasets to `path` (a temporary name, flushed and renamed: never half a file) and
    /// returns the shard's record with its size and CRC-32C as found on disk.
    public static func write(path: String, rank: Int, step: Int,
                             datasets: [(record: DatasetRecord, data: UnsafeBufferPointer<Float>)]) throws -> ShardRecord {
        try replaceAtomically(path) { temporary in
            let file = try H5File(creating: temporary)
            try file.attributes.set("format_version", .int64(Int64(CheckpointManifest.currentFormatVersion)))
            try file.attributes.set("rank", .int64(Int64(rank)))
            try file.attributes.set("step", .int64(Int64(step)))
            for (record, data) in datasets {
                precondition(data.count == record.count, "\(record.dataset): \(data.count) values for \(record.count)")
                let dataset = try file.createDataset(record.dataset, of: Float.self, shape: [record.count])
                try dataset.write(data)
                try dataset.attributes.set("global_name", .string(record.name))
                try dataset.attributes.set("global_shape", .string(record.globalShape.map(String.init).joined(separator: ",")))
                try dataset.attributes.set("slice", .string(
                    "split_dim \(record.splitDim), parts \(record.parts), shard \(record.shard) of \(record.shards), "
                        + "padded_rows \(record.paddedRows), local ranges \(record.ranges)"))
                try dataset.close()
            }
            try file.close()
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return ShardRecord(file: (path as NSString).lastPathComponent, rank: rank, bytes: bytes,
                           crc32c: try crc32cOfFile(path), datasets: datasets.map(\.record))
    }

    /// Checks a shard file against its record: present, the recorded size, the recorded CRC-32C.
    public static func verify(_ shard: ShardRecord, in folder: String) throws {
        let path = folder + "/" + shard.file
        switch FileKind.of(path) {
        case .regular: break
        case .missing: throw CheckpointError.corrupt(path, "is missing")
        case let kind: throw CheckpointError.invalid(path, "is \(kind.phrase); a checkpoint's shards are regular files")
        }
        guard let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int else {
            throw CheckpointError.corrupt(path, "cannot be read")
        }
        guard size == shard.bytes else {
            throw CheckpointError.corrupt(path, "has \(size) bytes; the manifest records \(shard.bytes) (truncated?)")
        }
        let crc = try crc32cOfFile(path)
        guard crc == shard.crc32c else {
            throw CheckpointError.corrupt(path, "fails its checksum (CRC-32C \(crc), manifest \(shard.crc32c))")
        }
    }

    /// Reads `record`'s dataset from an open shard into `buffer` (record.count floats), after
    /// checking that the dataset exists with exactly the recorded size.
    public static func read(_ record: DatasetRecord, from file: H5File, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        precondition(buffer.count == record.count)
        let dataset: H5Dataset
        do {
            dataset = try file.openDataset(record.dataset)
        } catch {
            throw CheckpointError.corrupt(file.path, "lacks dataset '\(record.dataset)' the manifest lists")
        }
        defer { try? dataset.close() }
        guard dataset.shape == [record.count] else {
            throw CheckpointError.corrupt(file.path, "dataset '\(record.dataset)' has shape \(dataset.shape); the manifest says [\(record.count)]")
        }
        try dataset.read(into: buffer)
    }
}
