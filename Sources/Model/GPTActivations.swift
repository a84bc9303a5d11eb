import Config
import Kernels

/// Saved-for-backward activations of one microbatch of B sequences of up to T tokens, for the
/// layers one partition holds and at its tensor-parallel widths.
/// One instance per microbatch in flight; allocated once, reused every step.
public final class GPTActivations {
    public let B: Int, T: Int
    let arena: Arena

    struct Block {
        var ln1Mean, ln1Rstd, residual2: FloatPointer
        var ln2Mean, ln2Rstd, residual3: FloatPointer
        /// The linear layers' inputs, in the compute precision.
        var ln1, atty, ln2, fchGelu: SavedTensor
        /// qkv, attention probabilities and pre-GELU values, in the compute precision.
        var qkv, att, fch: SavedTensor
        /// With experts: the layer's routing and expert activations (fch and fchGelu are empty).
        var routing: RoutingRecord?
    }

    /// (B, T, C) the stage's input residual: the embeddings on the first stage, else what the
    /// previous stage sent.
    var encoded: FloatPointer
    var branch: FloatPointer         // (B, T, C) a block branch's output before the residual add
    var blocks: [Block]
    // Head (last stage only): final norm, its output's gradient, per-row softmax statistics. The
    // logits are never kept: the head runs in blocks of rows (see GPTHead.swift).
    var lnf: SavedTensor                     // (B, T, C)
    var lnfMean, lnfRstd: FloatPointer       // (B, T), (B, T)
    var lnfGradient: FloatPointer            // (B, T, C) the head's input gradient, this rank's part
    var lse, losses: FloatPointer            // (B, T)
    /// The dloss of the head's backward when the last forward ran it (training); nil when the
    /// backward must recompute the logits (evaluation, per-token weights).
    var headDloss: Float?
    /// (B, T, V / tp) this rank's logit columns after a forward without targets (generation);
    /// allocated on first use.
    let sampledLogits = ScratchBuffer<Float>()

    /// Which saved tensors are bf16: all but the residual stream and LayerNorm statistics under bf16
    /// compute, except the experts' input (ln2 with experts), which the fp32 router reads.
    private static func bf16Inputs(dims: GPTDimensions, compute: ComputeType) -> (all: Bool, ln2: Bool) {
        (compute == .bf16, compute == .bf16 && dims.experts == nil)
    }

    /// Floats of every buffer, in reservation order: the stage's two residual buffers, one block's
    /// (the same for every block), and the head's (zeros off the last stage).
    static func bufferSizes(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int, compute: ComputeType)
        -> (stage: [Int], perBlock: [Int], tail: [Int]) {
        let tp = partition.tpSize, C = dims.nEmbd, BT = B * T
        let heads = dims.nHead / tp, width = C / tp
        let dense = dims.experts == nil ? BT * 4 * width : 0
        let bf16 = bf16Inputs(dims: dims, compute: compute)
        func saved(_ count: Int, _ isBF16: Bool) -> Int { SavedTensor.floats(count, bf16: isBF16) }
        let perBlock = [saved(BT * C, bf16.all), BT, BT, saved(BT * 3 * width, bf16.all), saved(B * heads * T * T, bf16.all),
                        saved(BT * width, bf16.all), BT * C, saved(BT * C, bf16.ln2), BT, BT, saved(dense, bf16.all),
                        saved(dense, bf16.all), BT * C]
        let tail = partition.hasHead ? [saved(BT * C, bf16.all), BT, BT, BT * C, BT, BT] : [0, 0, 0, 0, 0, 0]
        return ([BT * C, BT * C], perBlock, tail)
    }

    /// Floats one microbatch of B sequences keeps on `partition` (what `byteCount / 4` comes to,
    /// routing records included), without allocating them.
    public static func floatCount(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int,
                                  compute: ComputeType = .fp32) -> Int {
        let sizes = bufferSizes(dims: dims, partition: partition, B: B, T: T, compute: compute)
        let block = sizes.perBlock.reduce(0, +) + RoutingRecord.floatCount(dims: dims, partition: partition, B: B, T: T)
        return sizes.stage.reduce(0, +) + partition.layers.count * block + sizes.tail.reduce(0, +)
    }

    /// Floats the elementwise kernels pass over in one microbatch, for cost models: the saved
    /// activations and the head's logits, which it computes block by block without keeping.
    public static func workFloats(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int,
                                  compute: ComputeType = .fp32) -> Int {
        floatCount(dims: dims, partition: partition, B: B, T: T, compute: compute)
            + (partition.hasHead ? B * T * partition.vocabShard(dims) : 0)
    }

    init(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int, compute: ComputeType) {
        self.B = B
        self.T = T
        let arena = Arena()
        self.arena = arena
        let sizes = Self.bufferSizes(dims: dims, partition: partition, B: B, T: T, compute: compute)
        let bf16 = Self.bf16Inputs(dims: dims, compute: compute)
        let encodedID = arena.reserve(sizes.stage[0])
        let branchID = arena.reserve(sizes.stage[1])
        let blockIDs = partition.layers.map { _ in sizes.perBlock.map { arena.reserve($0) } }
        let tailIDs = sizes.tail.map { arena.reserve($0) }
        let p = arena.allocate()
        encoded = p[encodedID]
        branch = p[branchID]
        blocks = blockIDs.map { ids in
            func saved(_ k: Int, _ isBF16: Bool) -> SavedTensor { SavedTensor(p[ids[k]], floats: sizes.perBlock[k], bf16: isBF16) }
            return Block(ln1Mean: p[ids[1]], ln1Rstd: p[ids[2]], residual2: p[ids[6]],
                         ln2Mean: p[ids[8]], ln2Rstd: p[ids[9]], residual3: p[ids[12]],
                         ln1: saved(0, bf16.all), atty: saved(5, bf16.all), ln2: saved(7, bf16.ln2),
                         fchGelu: saved(11, bf16.all), qkv: saved(3, bf16.all), att: saved(4, bf16.all),
                         fch: saved(10, bf16.all))
        }
        lnf = SavedTensor(p[tailIDs[0]], floats: sizes.tail[0], bf16: bf16.all)
        lnfMean = p[tailIDs[1]]; lnfRstd = p[tailIDs[2]]
        lnfGradient = p[tailIDs[3]]; lse = p[tailIDs[4]]; losses = p[tailIDs[5]]
    }

    /// The residual stream leaving the stage's last block (its input when it has no blocks).
    var stageOutput: FloatPointer { blocks.last?.residual3 ?? encoded }

    /// Bytes held, for memory reports.
    public var byteCount: Int {
        arena.floatCount * MemoryLayout<Float>.stride + blocks.reduce(0) { $0 + ($1.routing?.byteCount ?? 0) }
    }
}

/// Gradient buffers for backward through one microbatch, shared by all microbatches in flight.
final class GPTGradientScratch {
    let arena: Arena
    let B: Int
    let dresidual, dwide, dfch, dqkv, dnarrow, dbranch, attention: FloatPointer

    init(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int) {
        self.B = B
        let arena = Arena()
        self.arena = arena
        let C = dims.nEmbd, BT = B * T, width = C / partition.tpSize
        let ids = [BT * C, BT * 4 * width, BT * 4 * width, BT * 3 * width, BT * C, BT * C, T * T]
            .map { arena.reserve($0) }
        let p = arena.allocate()
        dresidual = p[ids[0]]; dwide = p[ids[1]]; dfch = p[ids[2]]; dqkv = p[ids[3]]
        dnarrow = p[ids[4]]; dbranch = p[ids[5]]; attention = p[ids[6]]
    }
}
