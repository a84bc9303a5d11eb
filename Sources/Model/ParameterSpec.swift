/// How a parameter's first values are drawn.
public enum ParameterInit: Sendable, Equatable {
    case normal(std: Float)
    case zeros
    case ones
}

/// A sharded-tensor record: one parameter's global identity and the slice this rank holds.
///
/// The slice is taken along `splitDim`, which is viewed as `parts` equal interleaved parts (3 for
/// a fused QKV weight, whose rows are [q | k | v]); each part is divided evenly into `shards` and
/// this rank holds shard `shard` of every part. An unsplit parameter has shards = 1.
///
/// `paddedRows` zero rows follow the logical rows along `splitDim` (a vocabulary padded to a
/// multiple of the shard count): they are sharded like the rest but belong to no global index, so
/// they stay zero, never reach model.h5 and never depend on the layout's padding.
public struct ParameterSpec: Sendable, Equatable {
    public let name: String
    public let globalShape: [Int]
    public let initializer: ParameterInit
    /// Decoupled weight decay applies (matrices and embeddings; never norms or biases).
    public let decays: Bool
    public let splitDim: Int
    public let parts: Int
    public let shard: Int
    public let shards: Int
    public let paddedRows: Int

    public init(name: String, globalShape: [Int], initializer: ParameterInit, decays: Bool,
                splitDim: Int = 0, parts: Int = 1, shard: Int = 0, shards: Int = 1, paddedRows: Int = 0) {
        precondition(paddedRows == 0 || parts == 1, "\(name): padding applies to single-part tensors")
        precondition((globalShape[splitDim] + paddedRows) % (parts * shards) == 0,
                     "\(name): dimension \(globalShape[splitDim]) does not split into \(parts)×\(shards)")
        self.name = name
        self.globalShape = globalShape
        self.initializer = initializer
        self.decays = decays
        self.splitDim = splitDim
        self.parts = parts
        self.shard = shard
        self.shards = shards
        self.paddedRows = paddedRows
    }

    /// The same parameter cut into `shards` pieces, of which this rank holds `shard`.
    public func sharded(_ shard: Int, of shards: Int, paddedRows: Int = 0) -> ParameterSpec {
        ParameterSpec(name: name, globalShape: globalShape, initializer: initializer, decays: decays,
                      splitDim: splitDim, parts: parts, shard: shard, shards: shards, paddedRows: paddedRows)
    }

    public var localShape: [Int] {
        var shape = globalShape
        shape[splitDim] = (shape[splitDim] + paddedRows) / shards
        return shape
    }

    public var localCount: Int { localShape.reduce(1, *) }
    public var globalCount: Int { globalShape.reduce(1, *) }

    /// Global row-major index of every local element, in local order (padding rows skipped).
    /// Drives initialisation (so values never depend on the layout) and gathering shards into full
    /// tensors.
    public func forEachGlobalIndex(_ body: (_ local: Int, _ global: Int) -> Void) {
        let rows = globalShape[splitDim]
        let outer = globalShape[..<splitDim].reduce(1, *)
        let inner = globalShape[(splitDim + 1)...].reduce(1, *)
        let partRows = (rows + paddedRows) / parts
        let shardRows = partRows / shards
        var local = 0
        for o in 0..<outer {
            for p in 0..<parts {
                for r in 0..<shardRows {
                    let row = p * partRows + shard * shardRows + r
                    if row < rows {
                        let base = (o * rows + row) * inner
                        for i in 0..<inner { body(local + i, base + i) }
                    }
                    local += inner
                }
            }
        }
    }
}
