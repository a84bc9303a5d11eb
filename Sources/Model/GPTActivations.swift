import Kernels

/// Saved-for-backward activations of one microbatch of B sequences of up to T tokens, for the
/// layers one partition holds and at its tensor-parallel widths.
/// One instance per microbatch in flight; allocated once, reused every step.
public final class GPTActivations {
    public let B: Int, T: Int
    let arena: Arena

    struct Block {
        var ln1, ln1Mean, ln1Rstd, qkv, att, atty, residual2: FloatPointer
        var ln2, ln2Mean, ln2Rstd, fch, fchGelu, residual3: FloatPointer
        /// With experts: the layer's routing and expert activations (fch and fchGelu are empty).
        var routing: RoutingRecord?
    }

    /// (B, T, C) the stage's input residual: the embeddings on the first stage, else what the
    /// previous stage sent.
    var encoded: FloatPointer
    var branch: FloatPointer         // (B, T, C) a block branch's output before the residual add
    var blocks: [Block]
    // Head (last stage only): final norm, this rank's logit columns and per-row softmax statistics.
    var lnf, lnfMean, lnfRstd: FloatPointer  // (B, T, C), (B, T), (B, T)
    public var logits: FloatPointer         // (B, T, V / tp); becomes dlogits in backward
    var lse, losses: FloatPointer            // (B, T)
    var rowStatistics: FloatPointer          // (2, B, T): Σ exp, then target logits, summed across tp

    init(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int) {
        self.B = B
        self.T = T
        let tp = partition.tpSize, C = dims.nEmbd, BT = B * T
        let heads = dims.nHead / tp, width = C / tp, V = partition.vocabShard(dims)
        let arena = Arena()
        self.arena = arena
        let encodedID = arena.reserve(BT * C)
        let branchID = arena.reserve(BT * C)
        let dense = dims.experts == nil ? BT * 4 * width : 0
        let perBlock = [BT * C, BT, BT, BT * 3 * width, B * heads * T * T, BT * width, BT * C,
                        BT * C, BT, BT, dense, dense, BT * C]
        let blockIDs = partition.layers.map { _ in perBlock.map { arena.reserve($0) } }
        let tail = partition.hasHead ? [BT * C, BT, BT, BT * V, BT, BT, 2 * BT] : [0, 0, 0, 0, 0, 0, 0]
        let tailIDs = tail.map { arena.reserve($0) }
        let p = arena.allocate()
        encoded = p[encodedID]
        branch = p[branchID]
        blocks = blockIDs.map { ids in
            Block(ln1: p[ids[0]], ln1Mean: p[ids[1]], ln1Rstd: p[ids[2]], qkv: p[ids[3]],
                  att: p[ids[4]], atty: p[ids[5]], residual2: p[ids[6]], ln2: p[ids[7]],
                  ln2Mean: p[ids[8]], ln2Rstd: p[ids[9]], fch: p[ids[10]], fchGelu: p[ids[11]],
                  residual3: p[ids[12]])
        }
        lnf = p[tailIDs[0]]; lnfMean = p[tailIDs[1]]; lnfRstd = p[tailIDs[2]]
        logits = p[tailIDs[3]]; lse = p[tailIDs[4]]; losses = p[tailIDs[5]]; rowStatistics = p[tailIDs[6]]
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
