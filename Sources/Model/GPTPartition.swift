import Parallel

/// The part of a GPT that one rank holds: its pipeline stage's layers, and its tensor-parallel
/// shard of every split parameter (heads, MLP columns, vocabulary rows).
///
/// The first stage holds the embeddings, the last the final norm and the head; with the head tied to
/// the token embedding, both hold `wte` (the same vocabulary shard) and sum its gradients.
public struct GPTPartition: Sendable, Equatable {
    public let layers: Range<Int>
    public let hasEmbedding: Bool
    public let hasHead: Bool
    public let tpRank: Int
    public let tpSize: Int

    public init(layers: Range<Int>, hasEmbedding: Bool, hasHead: Bool, tpRank: Int = 0, tpSize: Int = 1) {
        self.layers = layers
        self.hasEmbedding = hasEmbedding
        self.hasHead = hasHead
        self.tpRank = tpRank
        self.tpSize = tpSize
    }

    /// Everything, on one rank.
    public static func whole(_ dims: GPTDimensions) -> GPTPartition {
        GPTPartition(layers: 0..<dims.nLayer, hasEmbedding: true, hasHead: true)
    }

    /// What rank `layout.rank` holds.
    public init(layout: Layout, dims: GPTDimensions) {
        self.init(layers: Layout.stageLayers(stage: layout.ppIndex, stages: layout.pp, layers: dims.nLayer),
                  hasEmbedding: layout.isFirstStage, hasHead: layout.isLastStage,
                  tpRank: layout.tpIndex, tpSize: layout.tp)
    }

    /// The vocabulary rounded up to a multiple of the tensor-parallel size.
    public func paddedVocab(_ dims: GPTDimensions) -> Int {
        (dims.vocabSize + tpSize - 1) / tpSize * tpSize
    }

    /// Rows of wte (and logit columns) this rank holds, padding included.
    public func vocabShard(_ dims: GPTDimensions) -> Int { paddedVocab(dims) / tpSize }
    public func vocabStart(_ dims: GPTDimensions) -> Int { tpRank * vocabShard(dims) }
    /// This rank's rows that are real tokens (the rest are padding).
    public func validVocab(_ dims: GPTDimensions) -> Int {
        max(0, min(vocabShard(dims), dims.vocabSize - vocabStart(dims)))
    }

    /// The rank's parameters in memory order: embeddings, blocks, final norm. Split parameters are
    /// cut along their ParameterSpec split; the rest are replicated across the tensor group.
    public func parameterSpecs(_ dims: GPTDimensions) -> [ParameterSpec] {
        let all = dims.parameterSpecs()
        let blockNames = Set(layers.flatMap { l in BlockLeaf.allCases.map { GPTParameterName.block(l, $0) } })
        let padding = paddedVocab(dims) - dims.vocabSize
        return all.compactMap { spec -> ParameterSpec? in
            switch spec.name {
            case GPTParameterName.tokenEmbedding:
                guard hasEmbedding || hasHead else { return nil }
                return spec.sharded(tpRank, of: tpSize, paddedRows: padding)
            case GPTParameterName.positionEmbedding:
                return hasEmbedding ? spec : nil
            case GPTParameterName.finalNormWeight, GPTParameterName.finalNormBias:
                return hasHead ? spec : nil
            default:
                guard blockNames.contains(spec.name) else { return nil }
                return GPTPartition.isTensorSplit(spec.name) ? spec.sharded(tpRank, of: tpSize) : spec
            }
        }
    }

    /// Megatron's split: QKV and the first MLP linear by output rows (column-parallel), the two
    /// projections by input columns (row-parallel); norms and the projections' biases replicated.
    static func isTensorSplit(_ name: String) -> Bool {
        let leaf = name.split(separator: ".", maxSplits: 2).last.map(String.init)
        switch leaf.flatMap(BlockLeaf.init(rawValue:)) {
        case .qkvWeight, .qkvBias, .attnProjWeight, .fcWeight, .fcBias, .fcProjWeight: return true
        default: return false
        }
    }
}
