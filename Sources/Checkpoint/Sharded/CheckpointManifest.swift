import Foundation

/// `manifest.json` of a checkpoint folder: written by rank 0 after every shard is complete on disk,
/// so its presence marks a complete checkpoint. It describes every dataset of every shard (the
/// reader trusts no HDF5 dataset's shape without checking it against this) and the run-level state.
public struct CheckpointManifest: Codable, Equatable, Sendable {
    /// Bumped whenever the layout changes in a way old readers would misread.
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// The optimizer steps completed; training resumes at step + 1 (the batch sampler is a function
    /// of the step, so this is also the data position).
    public var step: Int
    /// The run's config as TOML text.
    public var config: String
    public var layout: SavedLayout
    /// fp16 dynamic loss scaling, when the run uses it.
    public var lossScaler: SavedLossScaler?
    public var tokenizer: String
    public var tokenizerData: String
    /// The counter-based generators' key: every random draw is a function of (seed, step, position).
    public var seed: Int
    public var shards: [ShardRecord]

    public init(formatVersion: Int = currentFormatVersion, step: Int, config: String, layout: SavedLayout,
                lossScaler: SavedLossScaler?, tokenizer: String, tokenizerData: String, seed: Int, shards: [ShardRecord]) {
        self.formatVersion = formatVersion
        self.step = step
        self.config = config
        self.layout = layout
        self.lossScaler = lossScaler
        self.tokenizer = tokenizer
        self.tokenizerData = tokenizerData
        self.seed = seed
        self.shards = shards
    }

    /// Every saved parameter's global shape, by name.
    public var parameterShapes: [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        for shard in shards {
            for dataset in shard.datasets where dataset.kind == .parameter { shapes[dataset.name] = dataset.globalShape }
        }
        return shapes
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data, path: String) throws -> CheckpointManifest {
        // The version first, so that a future format is named as such rather than as malformed.
        struct Version: Decodable { var formatVersion: Int? }
        let version = try? JSONDecoder().decode(Version.self, from: data)
        guard let formatVersion = version?.formatVersion else {
            throw CheckpointError.invalid(path, "is not a Tessera checkpoint manifest")
        }
        guard formatVersion == currentFormatVersion else {
            throw CheckpointError.invalid(path, "has format_version \(formatVersion); this build reads \(currentFormatVersion)")
        }
        do {
            return try JSONDecoder().decode(CheckpointManifest.self, from: data)
        } catch {
            throw CheckpointError.invalid(path, "is malformed: \(error)")
        }
    }
}

/// The parallel layout a checkpoint was saved on.
public struct SavedLayout: Codable, Equatable, Sendable {
    public var worldSize: Int, dp: Int, tp: Int, pp: Int, ep: Int, zero: Int, microbatches: Int
    public init(worldSize: Int, dp: Int, tp: Int, pp: Int, ep: Int, zero: Int, microbatches: Int) {
        (self.worldSize, self.dp, self.tp, self.pp, self.ep, self.zero, self.microbatches)
            = (worldSize, dp, tp, pp, ep, zero, microbatches)
    }
}

public struct SavedLossScaler: Codable, Equatable, Sendable {
    public var scale: Double, cleanSteps: Int, skippedSteps: Int
    public init(scale: Double, cleanSteps: Int, skippedSteps: Int) {
        (self.scale, self.cleanSteps, self.skippedSteps) = (scale, cleanSteps, skippedSteps)
    }
}

/// One rank's shard file.
public struct ShardRecord: Codable, Equatable, Sendable {
    public var file: String
    public var rank: Int
    public var bytes: Int
    /// CRC-32C of the whole file, as hex.
    public var crc32c: String
    public var datasets: [DatasetRecord]
    public init(file: String, rank: Int, bytes: Int, crc32c: String, datasets: [DatasetRecord]) {
        (self.file, self.rank, self.bytes, self.crc32c, self.datasets) = (file, rank, bytes, crc32c, datasets)
    }
}

/// A slice of one logical tensor in a shard: which elements of which tensor, and how they map to
/// global indices. The slice is the local tensor of a ParameterSpec-style split (`splitDim`, `parts`,
/// `shard` of `shards`, `paddedRows`), of which the dataset holds the local flat ranges `ranges`
/// (all of it for parameters; a rank's ZeRO-1 share for optimizer moments), concatenated.
public struct DatasetRecord: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case parameter, firstMoment, secondMoment }
    /// The dataset's name in the shard file.
    public var dataset: String
    public var kind: Kind
    /// The tensor's global name (as in model.h5) and logical shape.
    public var name: String
    public var globalShape: [Int]
    public var splitDim: Int, parts: Int, shard: Int, shards: Int, paddedRows: Int
    /// [start, end) pairs of local flat indices, in dataset order.
    public var ranges: [[Int]]

    public init(dataset: String, kind: Kind, name: String, globalShape: [Int], splitDim: Int, parts: Int,
                shard: Int, shards: Int, paddedRows: Int, ranges: [[Int]]) {
        (self.dataset, self.kind, self.name, self.globalShape) = (dataset, kind, name, globalShape)
        (self.splitDim, self.parts, self.shard, self.shards, self.paddedRows) = (splitDim, parts, shard, shards, paddedRows)
        self.ranges = ranges
    }

    /// Elements the dataset holds.
    public var count: Int { ranges.reduce(0) { $0 + ($1[1] - $1[0]) } }
}

/// A checkpoint that cannot be used: the message names the file and what is wrong.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// Not what this build and this model can read (another shape, another format): bad input.
    case invalid(String, String)
    /// Damaged: missing, truncated or checksum mismatch.
    case corrupt(String, String)

    public var description: String {
        switch self {
        case .invalid(let path, let what), .corrupt(let path, let what): "checkpoint \(path) \(what)"
        }
    }
}
