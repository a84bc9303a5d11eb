import Kernels
import Parallel

/// The part of a GPT that one rank holds: its pipeline stage's layers, and its tensor-parallel
/// shard of every split parameter (heads, MLP columns, vocabulary rows).
///
/// The first stage holds the embeddings, the last the final norm and the head; with the head tied to
/// the token embedding, both hold `wte` (the same vocabulary shard) and sum its gradients; an
/// untied head (`lm_head.weight`) is split by vocabulary rows like `wte`.
public struct GPTPartition: Sendable, Equatable {
    public let layers: Range<Int>
    public let hasEmbedding: Bool
    public let hasHead: Bool
    public let tpRank: Int
    public let tpSize: Int
    /// Position in the expert-parallel group, which splits every layer's experts evenly.
    public let epRank: Int
    public let epSize: Int

    public init(layers: Range<Int>, hasEmbedding: Bool, hasHead: Bool, tpRank: Int = 0, tpSize: Int = 1,
                epRank: Int = 0, epSize: Int = 1) {
        self.layers = layers
        self.hasEmbedding = hasEmbedding
        self.hasHead = hasHead
        self.tpRank = tpRank
        self.tpSize = tpSize
        self.epRank = epRank
        self.epSize = epSize
    }

    /// Everything, on one rank.
    public static func whole(_ dims: GPTDimensions) -> GPTPartition {
        GPTPartition(layers: 0..<dims.nLayer, hasEmbedding: true, hasHead: true)
    }

    /// What rank `layout.rank` holds.
    public init(layout: Layout, dims: GPTDimensions) {
        self.init(layers: Layout.stageLayers(stage: layout.ppIndex, stages: layout.pp, layers: dims.nLayer),
                  hasEmbedding: layout.isFirstStage, hasHead: layout.isLastStage,
                  tpRank: layout.tpIndex, tpSize: layout.tp, epRank: layout.epIndex, epSize: layout.ep)
    }

    /// The experts (global indices) whose parameters this rank holds: a contiguous run.
    public func localExperts(_ dims: GPTDimensions) -> Range<Int> {
        let perRank = (dims.experts?.count ?? 0) / epSize
        return (epRank * perRank)..<((epRank + 1) * perRank)
    }

    /// Key/value heads this rank holds: its share of them, or the one its query heads read when
    /// there are fewer kv heads than tensor ranks (then tp / NKV ranks hold a copy of each).
    public func localKVHeads(_ dims: GPTDimensions) -> Int { max(1, dims.parts.kvHeads / tpSize) }

    /// Which of the kv heads' equal slices this rank holds, and how many slices there are: its own
    /// of tp, or with fewer kv heads than ranks, the head its query heads read, one of NKV.
    public func kvShard(_ dims: GPTDimensions) -> (shard: Int, of: Int) {
        let kv = dims.parts.kvHeads
        return kv >= tpSize ? (tpRank, tpSize) : (tpRank / (tpSize / kv), kv)
    }

    /// Ranks of the tensor group holding the same kv slice as this one (1 unless replicated).
    public func kvReplicas(_ dims: GPTDimensions) -> Int { tpSize / kvShard(dims).of }

    /// Rows of this rank's [q | k | v] product: its query heads, then its kv heads' keys and values.
    public func localQKVRows(_ dims: GPTDimensions) -> Int {
        (dims.nHead / tpSize + 2 * localKVHeads(dims)) * dims.headSize
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

    /// The rank's parameters in memory order: embeddings, blocks, final norm, untied head. Split
    /// parameters are cut along their ParameterSpec split; the rest are replicated across the
    /// tensor group. Megatron's split: QKV (query heads and key/value heads alike) and the first
    /// MLP linear (SwiGLU's gate and up alike) by output rows (column-parallel), the two
    /// projections by input columns (row-parallel); norms, the router and the projections' biases
    /// replicated. Experts are split the same way, and each rank holds only its local experts.
    public func parameterSpecs(_ dims: GPTDimensions) -> [ParameterSpec] {
        var split: [String: Bool] = [:]
        var kvLeaves: Set<String> = []
        for l in layers {
            let leaves = BlockLeaf.leaves(dims, layer: l)
            for leaf in leaves where [.kWeight, .vWeight, .kBias, .vBias].contains(leaf) {
                kvLeaves.insert(GPTParameterName.block(l, leaf))
            }
            for leaf in leaves { split[GPTParameterName.block(l, leaf)] = leaf.isTensorSplit }
            for e in localExperts(dims) {
                for leaf in ExpertLeaf.leaves(dims.parts) { split[GPTParameterName.expert(l, e, leaf)] = leaf.isTensorSplit }
            }
        }
        let padding = paddedVocab(dims) - dims.vocabSize
        return dims.parameterSpecs().compactMap { spec -> ParameterSpec? in
            switch spec.name {
            case GPTParameterName.tokenEmbedding:
                guard hasEmbedding || (hasHead && dims.parts.tiedEmbeddings) else { return nil }
                return spec.sharded(tpRank, of: tpSize, paddedRows: padding)
            case GPTParameterName.head:
                return hasHead ? spec.sharded(tpRank, of: tpSize, paddedRows: padding) : nil
            case GPTParameterName.positionEmbedding:
                return hasEmbedding ? spec : nil
            case GPTParameterName.finalNormWeight, GPTParameterName.finalNormBias:
                return hasHead ? spec : nil
            default:
                guard let isSplit = split[spec.name] else { return nil }
                if kvLeaves.contains(spec.name) {
                    let (shard, of) = kvShard(dims)
                    return spec.sharded(shard, of: of)
                }
                return isSplit ? spec.sharded(tpRank, of: tpSize) : spec
            }
        }
    }
}

extension BlockLeaf {
    var isTensorSplit: Bool {
        switch self {
        case .qkvWeight, .qkvBias, .qWeight, .kWeight, .vWeight, .qBias, .kBias, .vBias, .attnProjWeight,
             .relativeBias, .crossQWeight, .crossKVWeight, .crossQBias, .crossKVBias, .crossProjWeight,
             .fcWeight, .fcBias, .fcProjWeight: true
        default: false
        }
    }
}

extension ExpertLeaf {
    /// Like the dense MLP's: all but the row-parallel projection's bias.
    var isTensorSplit: Bool { self != .projBias }
}

extension GPTPartition {
    /// The linear layers' GEMMs for `rows` tokens at this partition's tensor-parallel widths: QKV,
    /// the attention projection and the MLP's two linears (`perLayer`, once in every block), and
    /// the vocabulary head (once in the model). A decoder block of an encoder-decoder adds its
    /// cross-attention's query, key-value (over the inputs, as many rows) and output products.
    public func linearGemms(_ dims: GPTDimensions, rows: Int) -> [(shape: GemmShape, perLayer: Bool)] {
        let C = dims.nEmbd, tp = tpSize
        var block = [(localQKVRows(dims), C), (C, C / tp), (dims.parts.fcRows / tp, C), (C, dims.parts.ffnHidden / tp)]
        if dims.encoder != nil { block += [(C / tp, C), (2 * C / tp, C), (C, C / tp)] }
        return block.map { (shape: GemmShape(m: rows, n: $0.0, k: $0.1), perLayer: true) }
            + [(shape: GemmShape(m: rows, n: vocabShard(dims), k: C), perLayer: false)]
    }
}
