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
        let manifest: CheckpointManifest
        do {
            manifest = try JSONDecoder().decode(CheckpointManifest.self, from: data)
        } catch {
            throw CheckpointError.invalid(path, "is malformed: \(decodingProblem(error))")
        }
        if let problem = manifest.problem() { throw CheckpointError.invalid(path, problem) }
        return manifest
    }

    /// The largest tensor a manifest may describe, 2^40 elements (4 TiB of fp32).
    static let largestTensor = 1 << 40

    /// What makes the manifest unusable, checked before anything is sized from it: the step within
    /// what a run can reach, the layout's degrees multiplying to its world size, one shard per rank
    /// under its own plain name, and every dataset a slice that fits its tensor, whose elements
    /// the shard's recorded size can hold. Nil when it is sound.
    func problem() -> String? {
        guard (0...CheckpointFolder.largestStep).contains(step) else {
            return "records step \(step), outside [0, \(CheckpointFolder.largestStep)]"
        }
        guard seed >= 0 else { return "records seed \(seed)" }
        if let scaler = lossScaler, !(scaler.scale.isFinite && scaler.scale > 0 && scaler.cleanSteps >= 0 && scaler.skippedSteps >= 0) {
            return "records an impossible loss scale (\(scaler.scale), \(scaler.cleanSteps) clean, \(scaler.skippedSteps) skipped steps)"
        }
        let l = layout
        let degrees = [l.dp, l.tp, l.pp, l.ep, l.microbatches]
        guard degrees.allSatisfy({ (1...Self.largestWorld).contains($0) }), (0...1).contains(l.zero),
              let world = checkedProduct([l.dp, l.tp, l.pp]), world == l.worldSize else {
            return "records an impossible layout (world \(l.worldSize) = dp \(l.dp) × tp \(l.tp) × pp \(l.pp), "
                + "ep \(l.ep), zero \(l.zero), \(l.microbatches) microbatches)"
        }
        guard shards.count == l.worldSize else {
            return "lists \(shards.count) shards for a world of \(l.worldSize) ranks"
        }
        for (rank, shard) in shards.enumerated() {
            guard shard.rank == rank, shard.file == CheckpointFolder.shardName(rank: rank) else {
                return "lists shard '\(shard.file)' of rank \(shard.rank) where \(CheckpointFolder.shardName(rank: rank)) belongs"
            }
            var elements = 0, names: Set<String> = []
            for record in shard.datasets {
                if let problem = record.problem() { return "\(shard.file): dataset '\(record.dataset)' \(problem)" }
                guard names.insert(record.dataset).inserted else { return "\(shard.file): dataset '\(record.dataset)' is listed twice" }
                elements += record.count
                guard elements <= max(shard.bytes, 0) / 4 else {
                    return "\(shard.file): its datasets hold more floats than its \(shard.bytes) bytes can"
                }
            }
        }
        return nil
    }

    /// The most ranks a saved layout may name.
    static let largestWorld = 1 << 20
}

/// The product of `factors`, or nil when it overflows an Int.
func checkedProduct(_ factors: [Int]) -> Int? {
    var product = 1
    for factor in factors {
        let (next, overflow) = product.multipliedReportingOverflow(by: factor)
        if overflow { return nil }
        product = next
    }
    return product
}

/// A decoding error in a few words (Foundation's own description is a multi-line dump).
func decodingProblem(_ error: any Error) -> String {
    guard let error = error as? DecodingError else { return "not valid JSON" }
    func place(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
        return "wrong or missing value at \(place(context.codingPath))"
    case .keyNotFound(let key, let context):
        return "no '\(key.stringValue)' at \(place(context.codingPath))"
    case .dataCorrupted(let context):
        return context.codingPath.isEmpty ? "not valid JSON" : "bad value at \(place(context.codingPath))"
    @unknown default:
        return "not readable"
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

    /// Elements of the local slice: the global shape with the split dimension padded by
    /// `paddedRows` and cut into `shards`. Valid once `problem()` is nil.
    public var localCount: Int {
        var shape = globalShape
        shape[splitDim] = (shape[splitDim] + paddedRows) / shards
        return shape.reduce(1, *)
    }

    /// Why the record cannot describe a slice of its tensor, mirroring how tensors are split: a
    /// shape of 1 to 8 positive dimensions of at most 2^40 elements, a split dimension that pads and
    /// divides into parts × shards, ranges ascending inside the slice (all of it for a parameter).
    func problem() -> String? {
        guard (1...8).contains(globalShape.count), globalShape.allSatisfy({ $0 >= 1 }),
              let elements = checkedProduct(globalShape), elements <= CheckpointManifest.largestTensor else {
            return "has global shape \(globalShape)"
        }
        guard globalShape.indices.contains(splitDim), parts >= 1, shards >= 1, (0..<shards).contains(shard),
              paddedRows >= 0, paddedRows == 0 || parts == 1, paddedRows < shards,
              let pieces = checkedProduct([parts, shards]), (globalShape[splitDim] + paddedRows) % pieces == 0 else {
            return "has an impossible split (dimension \(splitDim), \(parts) parts, shard \(shard) of \(shards), "
                + "\(paddedRows) padded rows) of shape \(globalShape)"
        }
        var end = 0
        for pair in ranges {
            guard pair.count == 2, pair[0] >= end, pair[1] >= pair[0], pair[1] <= localCount else {
                return "has range \(pair) outside its slice of \(localCount) elements (or out of order)"
            }
            end = pair[1]
        }
        if kind == .parameter && ranges != [[0, localCount]] {
            return "holds part of a parameter's slice (ranges \(ranges)); parameters are saved whole"
        }
        return nil
    }
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
