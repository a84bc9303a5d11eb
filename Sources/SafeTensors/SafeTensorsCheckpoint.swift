import FileSystem

/// A model's weights as Hugging Face saves them in a folder: one `model.safetensors`, or shards
/// that `model.safetensors.index.json` names ({"metadata": {...}, "weight_map": {tensor: shard}}).
/// Either way, one lookup from a tensor's name to its values. Every shard is opened, and so has its
/// header checked, before the checkpoint is returned, and every tensor the index maps must be in
/// its shard: a bad checkpoint fails at once, not halfway through loading.
public struct SafeTensorsCheckpoint: Sendable {
    public static let fileName = "model.safetensors"
    public static let indexName = "model.safetensors.index.json"
    /// The largest index accepted; a model of a few thousand tensors has one of a few hundred KiB.
    public static let maxIndexSize = 64 << 20

    /// The single file or the index.
    public let path: String
    /// The open files: the single file, or the shards in the order the index first names them.
    public let files: [SafeTensorsFile]
    /// The single file's `__metadata__`, or the index's `metadata` (integers written in decimal).
    public let metadata: [String: String]
    /// For each tensor, the position in `files` of the file holding it.
    private let locations: [String: Int]

    /// The checkpoint in `folder`: `model.safetensors` when it is there (as transformers prefers
    /// it), else the shards of `model.safetensors.index.json`.
    public static func open(folder: String) throws(SafeTensorsError) -> SafeTensorsCheckpoint {
        let kind = FileKind.of(folder)
        guard kind.isFolder else { throw SafeTensorsError(folder, kind == .missing ? "does not exist" : "is \(kind.phrase), not a folder") }
        if FileKind.of(folder + "/" + fileName) != .missing {
            return SafeTensorsCheckpoint(file: try SafeTensorsFile(path: folder + "/" + fileName))
        }
        if FileKind.of(folder + "/" + indexName) != .missing {
            return try SafeTensorsCheckpoint(indexPath: folder + "/" + indexName)
        }
        throw SafeTensorsError(folder, "holds neither \(fileName) nor \(indexName)")
    }

    /// A checkpoint of one file.
    public init(file: SafeTensorsFile) {
        path = file.path
        files = [file]
        metadata = file.metadata
        locations = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, 0) })
    }

    /// The shards an index names, each a plain file name in the index's own folder.
    public init(indexPath: String) throws(SafeTensorsError) {
        let index = try ShardIndex.read(indexPath)
        let folder = indexPath.contains("/") ? String(indexPath[..<indexPath.lastIndex(of: "/")!]) : "."
        var files: [SafeTensorsFile] = [], positions: [String: Int] = [:], locations: [String: Int] = [:]
        for (tensor, shard) in index.weightMap {
            guard isPlainFileName(shard) else {
                throw SafeTensorsError(indexPath, "maps tensor \(quoted(tensor)) to shard \(quoted(shard)), which is not a plain file name in the index's folder")
            }
            if positions[shard] == nil {
                guard FileKind.of(folder + "/" + shard) != .missing else {
                    throw SafeTensorsError(indexPath, "maps tensor \(quoted(tensor)) to shard \(quoted(shard)), which does not exist")
                }
                positions[shard] = files.count
                files.append(try SafeTensorsFile(path: folder + "/" + shard))
            }
            let position = positions[shard]!
            guard files[position].info(tensor) != nil else {
                throw SafeTensorsError(indexPath, "maps tensor \(quoted(tensor)) to shard \(quoted(shard)), which has no such tensor")
            }
            locations[tensor] = position
        }
        path = indexPath
        self.files = files
        metadata = index.metadata
        self.locations = locations
    }

    /// Every tensor's name, sorted.
    public var names: [String] { locations.keys.sorted() }

    /// The file holding the tensor called `name`.
    public func file(containing name: String) -> SafeTensorsFile? { locations[name].map { files[$0] } }

    /// The tensor called `name`, if the checkpoint has one.
    public func info(_ name: String) -> TensorInfo? { file(containing: name)?.info(name) }

    /// Reads the floating-point tensor `name` into `buffer` (see `SafeTensorsFile.readFloats`).
    public func readFloats(_ name: String, into buffer: UnsafeMutableBufferPointer<Float>) throws(SafeTensorsError) {
        try require(name).readFloats(name, into: buffer)
    }

    /// The floating-point tensor `name` as Float.
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] { try require(name).floats(name) }

    /// The integer or boolean tensor `name` as Int64.
    public func integers(_ name: String) throws(SafeTensorsError) -> [Int64] { try require(name).integers(name) }

    private func require(_ name: String) throws(SafeTensorsError) -> SafeTensorsFile {
        guard let file = file(containing: name) else { throw SafeTensorsError(path, "has no tensor \(quoted(name))") }
        return file
    }
}

/// The parts of `model.safetensors.index.json` a reader needs; other top-level keys are ignored.
struct ShardIndex {
    /// Tensor name → shard file name, in the index's order.
    var weightMap: [(tensor: String, shard: String)]
    var metadata: [String: String]

    static func read(_ path: String) throws(SafeTensorsError) -> ShardIndex {
        let text: [UInt8]
        do throws(FileReadError) {
            text = Array(try readUTF8File(path, limit: SafeTensorsCheckpoint.maxIndexSize).utf8)
        } catch {
            throw SafeTensorsError(error)
        }
        let json: JSONValue
        do throws(JSONError) {
            json = try parseJSON(text)
        } catch {
            throw SafeTensorsError(path, "is not valid JSON: \(error.description)")
        }
        guard case let .object(members) = json else { throw SafeTensorsError(path, "is \(json.kind), not a JSON object") }
        var index = ShardIndex(weightMap: [], metadata: [:]), sawWeightMap = false
        for (key, value) in members {
            switch (key, value) {
            case let ("weight_map", .object(entries)):
                sawWeightMap = true
                for (tensor, shard) in entries {
                    guard case let .string(file) = shard else {
                        throw SafeTensorsError(path, "weight_map maps \(quoted(tensor)) to \(shard.kind), not a shard file name")
                    }
                    index.weightMap.append((tensor, file))
                }
            case let ("metadata", .object(entries)):
                for (name, entry) in entries {
                    switch entry {
                    case let .string(text): index.metadata[name] = text
                    case let .integer(number): index.metadata[name] = String(number)
                    default: throw SafeTensorsError(path, "metadata \(quoted(name)) is \(entry.kind), not a string or an integer")
                    }
                }
            case ("weight_map", _), ("metadata", _):
                throw SafeTensorsError(path, "\(key) is \(value.kind), not an object")
            default:
                continue
            }
        }
        guard sawWeightMap else { throw SafeTensorsError(path, "has no weight_map") }
        return index
    }
}
