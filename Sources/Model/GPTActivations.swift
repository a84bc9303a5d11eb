import Kernels

/// Saved-for-backward activations of one microbatch of B sequences of up to T tokens, for the
/// layers one partition holds and at its tensor-parallel widths.
/// One instance per microbatch in flight; allocated once, reused every step.
public final class GPTActivations {
    public let B: Int, T: Int
    let arena: Arena

    struct Block {
        /// (B·T) each; the means are empty under RMSNorm.
        var ln1Mean, ln1Rstd, ln2Mean, ln2Rstd: FloatPointer
        /// The residual stream between the block's two branches and after it, which the
        /// LayerNorms' backward reads. The stage's last block keeps its output in fp32: the next
        /// stage receives it and the final norm reads it.
        var residual2, residual3: SavedTensor
        /// The linear layers' inputs, in the compute precision.
        var ln1, atty, ln2, fchGelu: SavedTensor
        /// qkv (rotated under rotary positions), attention probabilities and the MLP's first linear's
        /// output (pre-GELU, or SwiGLU's [gate | up]), in the compute precision.
        var qkv, att, fch: SavedTensor
        /// With experts: the layer's routing and expert activations (fch and fchGelu are empty).
        var routing: RoutingRecord?
        /// Decoder blocks of an encoder-decoder (empty elsewhere): the residual stream after
        /// self-attention (the cross norm's input), the cross norm's output and statistics, the
        /// cross-attention's q (B, T, NH·HS), [k | v] over the inputs (B, S, 2·NH·HS), probabilities
        /// (B, NH, T, S) and output. residual2 is then the stream after cross-attention.
        var residualSelf, lnCross, crossQ, crossKV, crossAtt, crossAtty: SavedTensor
        var lnCrossMean, lnCrossRstd: FloatPointer
    }

    /// The stage's input (a `StageBoundary`): the embeddings on the first stage, else what the
    /// previous stage sent. A decoder's is its residual stream (B, T, C).
    var encoded: FloatPointer
    let boundary: StageBoundary
    /// On the stage holding an encoder-decoder's first decoder layer: the encoder's output (B, S, C)
    /// (its final norm's), and that norm's statistics.
    var encoderOutput, encoderOutputMean, encoderOutputRstd: FloatPointer
    /// The encoder's output as the cross-attention's key-value products read it: bf16 under bf16
    /// compute (filled on each stage holding decoder layers), else unused (the fp32 output is read).
    var crossInput: SavedTensor
    /// What a stage sends on when its boundary is not simply its last block's output (an
    /// encoder-decoder's streams, carried bias tables): filled at the end of its forward.
    var boundaryOutput: FloatPointer
    var blocks: [Block]
    // Head (last stage only): final norm, its output's gradient, per-row softmax statistics. The
    // logits are never kept: the head runs in blocks of rows (see GPTHead.swift).
    var lnf: SavedTensor                     // (B, T, C)
    var lnfMean, lnfRstd: FloatPointer       // (B, T), (B, T); no mean under RMSNorm
    var lnfGradient: FloatPointer            // (B, T, C) the head's input gradient, this rank's part
    var lse, losses: FloatPointer            // (B, T)
    /// The dloss of the head's backward when the last forward ran it (training); nil when the
    /// backward must recompute the logits (evaluation, per-token weights).
    var headDloss: Float?
    /// (B, T, V / tp) this rank's logit columns after a forward without targets (generation);
    /// allocated on first use.
    let sampledLogits = ScratchBuffer<Float>()

    /// Which saved tensors may be bf16 under bf16 compute: `all` the compute-sized ones (not the
    /// stage's input and output, the LayerNorm statistics, the head's input gradient and losses);
    /// `ln2` not with experts, whose fp32 router reads it.
    private static func bf16Inputs(dims: GPTDimensions, compute: ComputeType) -> (all: Bool, ln2: Bool) {
        (compute == .bf16, compute == .bf16 && dims.experts == nil)
    }

    /// One saved buffer: `count` values in bf16 or fp32; a bf16 one is computed and read back in
    /// fp32 through its `role`'s working copy, `staged` values at a time (the attention
    /// probabilities go one sequence at a time).
    struct Buffer {
        let count: Int, bf16: Bool, role: TensorStaging.Role?
        let staged: Int
        var floats: Int { SavedTensor.floats(count, bf16: bf16) }

        init(count: Int, bf16: Bool, role: TensorStaging.Role?, staged: Int? = nil) {
            self.count = count
            self.bf16 = bf16
            self.role = role
            self.staged = staged ?? count
        }
    }

    /// Every buffer, in reservation order: the stage's (input, encoder output and statistics, its
    /// bf16 copy, boundary output), each block's (the same for every block but the last of its
    /// stack on the stage, whose output stays fp32), and the head's (empty off the last stage).
    static func buffers(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int, compute: ComputeType)
        -> (stage: [Buffer], blocks: [[Buffer]], tail: [Buffer]) {
        let tp = partition.tpSize, C = dims.nEmbd
        let heads = dims.nHead / tp, width = C / tp
        let dense = dims.experts == nil
        // RMSNorm keeps no mean.
        let hasMean = dims.parts.norm == .layerNorm
        let bf16 = bf16Inputs(dims: dims, compute: compute)
        func half(_ count: Int, _ role: TensorStaging.Role) -> Buffer { Buffer(count: count, bf16: bf16.all, role: role) }
        func full(_ count: Int) -> Buffer { Buffer(count: count, bf16: false, role: nil) }
        let layers = Array(partition.layers)
        let blocks = layers.indices.map { i -> [Buffer] in
            let l = layers[i], T = dims.positions(l), BT = B * T
            let fc = dense ? BT * dims.parts.fcRows / tp : 0, hidden = dense ? BT * dims.parts.ffnHidden / tp : 0
            let mean = hasMean ? BT : 0
            let lastOfStack = i == layers.count - 1 || dims.isEncoderLayer(layers[i + 1]) != dims.isEncoderLayer(l)
            let crossRows = dims.encoder != nil && !dims.isEncoderLayer(l) ? BT : 0
            let S = dims.encoderBlockSize, crossKeys = crossRows > 0 ? B * S : 0
            return [half(BT * C, .linearInput), full(mean), full(BT), half(BT * partition.localQKVRows(dims), .qkv),
                    Buffer(count: B * heads * T * T, bf16: bf16.all, role: .attentionProbabilities, staged: heads * T * T),
                    half(BT * width, .linearInput),
                    half(BT * C, .innerResidual), Buffer(count: BT * C, bf16: bf16.ln2, role: .linearInput), full(mean), full(BT),
                    half(fc, .preActivation), half(hidden, .linearInput),
                    lastOfStack ? full(BT * C) : half(BT * C, .blockResidual),
                    half(crossRows * C, .selfResidual), half(crossRows * C, .linearInput),
                    full(hasMean ? crossRows : 0), full(crossRows), half(crossRows * width, .qkv),
                    half(crossKeys * 2 * width, .crossKeysValues),
                    Buffer(count: crossRows > 0 ? B * heads * T * S : 0, bf16: bf16.all, role: .attentionProbabilities,
                           staged: heads * T * S),
                    half(crossRows * width, .linearInput)]
        }
        let rows = partition.hasHead ? B * T : 0
        let tail = [half(rows * C, .linearInput), full(hasMean ? rows : 0), full(rows), full(rows * C),
                    full(rows), full(rows)]
        let boundary = StageBoundary(dims: dims, partition: partition, B: B)
        let encoderRows = partition.layers.contains(dims.encoderLayers) && dims.encoder != nil ? B * dims.encoderBlockSize : 0
        let crossInputRows = dims.encoder != nil && partition.layers.contains(where: { !dims.isEncoderLayer($0) })
            && bf16.all ? B * dims.encoderBlockSize : 0
        let stage = [full(boundary.count), full(encoderRows * C), full(hasMean ? encoderRows : 0), full(encoderRows),
                     Buffer(count: crossInputRows * C, bf16: true, role: nil),
                     full(boundary.sendsCopy && !partition.hasHead ? boundary.count : 0)]
        return (stage, blocks, tail)
    }

    /// Floats of the fp32 working copies (`TensorStaging`) a forward and backward of B sequences
    /// on `partition` need: per role, the most values of a bf16 tensor it holds at once.
    static func stagingFloats(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int, compute: ComputeType) -> Int {
        let all = buffers(dims: dims, partition: partition, B: B, T: T, compute: compute)
        var largest: [TensorStaging.Role: Int] = [:]
        for buffer in all.blocks.joined() + all.tail where buffer.bf16 && buffer.count > 0 {
            largest[buffer.role!] = max(largest[buffer.role!] ?? 0, buffer.staged)
        }
        return largest.values.reduce(0, +)
    }

    /// Floats one microbatch of B sequences keeps on `partition` (what `byteCount / 4` comes to,
    /// routing records included), without allocating them.
    public static func floatCount(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int,
                                  compute: ComputeType = .fp32) -> Int {
        let all = buffers(dims: dims, partition: partition, B: B, T: T, compute: compute)
        func routing(_ T: Int) -> Int { RoutingRecord.floatCount(dims: dims, partition: partition, B: B, T: T) }
        func floats(_ list: [Buffer]) -> Int { list.reduce(0) { $0 + $1.floats } }
        return floats(all.stage) + zip(partition.layers, all.blocks).reduce(0) {
            $0 + floats($1.1) + routing(dims.positions($1.0))
        } + floats(all.tail)
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
        let all = Self.buffers(dims: dims, partition: partition, B: B, T: T, compute: compute)
        let stageIDs = all.stage.map { arena.reserve($0.floats) }
        let blockIDs = all.blocks.map { $0.map { arena.reserve($0.floats) } }
        let tailIDs = all.tail.map { arena.reserve($0.floats) }
        let p = arena.allocate()
        boundary = StageBoundary(dims: dims, partition: partition, B: B)
        lastDecoderBlock = partition.layers.lastIndex { !dims.isEncoderLayer($0) }.map { $0 - partition.layers.lowerBound }
        encoded = p[stageIDs[0]]
        encoderOutput = p[stageIDs[1]]; encoderOutputMean = p[stageIDs[2]]; encoderOutputRstd = p[stageIDs[3]]
        crossInput = SavedTensor(p[stageIDs[4]], floats: all.stage[4].floats, bf16: all.stage[4].count > 0)
        boundaryOutput = p[stageIDs[5]]
        blocks = zip(blockIDs, all.blocks).map { ids, buffers in
            func saved(_ k: Int) -> SavedTensor { SavedTensor(p[ids[k]], floats: buffers[k].floats, bf16: buffers[k].bf16) }
            return Block(ln1Mean: p[ids[1]], ln1Rstd: p[ids[2]], ln2Mean: p[ids[8]], ln2Rstd: p[ids[9]],
                         residual2: saved(6), residual3: saved(12), ln1: saved(0), atty: saved(5), ln2: saved(7),
                         fchGelu: saved(11), qkv: saved(3), att: saved(4), fch: saved(10),
                         residualSelf: saved(13), lnCross: saved(14), crossQ: saved(17), crossKV: saved(18),
                         crossAtt: saved(19), crossAtty: saved(20), lnCrossMean: p[ids[15]], lnCrossRstd: p[ids[16]])
        }
        lnf = SavedTensor(p[tailIDs[0]], floats: all.tail[0].floats, bf16: all.tail[0].bf16)
        lnfMean = p[tailIDs[1]]; lnfRstd = p[tailIDs[2]]
        lnfGradient = p[tailIDs[3]]; lse = p[tailIDs[4]]; losses = p[tailIDs[5]]
    }

    /// The decoder's residual stream leaving the stage's last decoder block (its input when it has
    /// none): what the final norm reads, and a decoder's stage sends on.
    var stageOutput: FloatPointer {
        lastDecoderBlock.map { blocks[$0].residual3.fp32 } ?? encoded + boundary.decoder.lowerBound
    }

    /// Index of the stage's last decoder block, where it holds one.
    let lastDecoderBlock: Int?

    /// Bytes held, for memory reports.
    public var byteCount: Int {
        arena.floatCount * MemoryLayout<Float>.stride + blocks.reduce(0) { $0 + ($1.routing?.byteCount ?? 0) }
    }
}

/// Gradient buffers for backward through one microbatch, shared by all microbatches in flight.
/// Rows are B·max(S, T): an encoder block's backward runs over S positions, a decoder's over T.
final class GPTGradientScratch {
    let arena: Arena
    let B: Int
    /// The gradient of the stage's boundary (`StageBoundary` layout): the head's or the next
    /// stage's on arrival, the stage input's when the backward is done.
    let dboundary: FloatPointer
    let dwide, dfch, dqkv, dnarrow, dbranch, attention: FloatPointer
    /// Cross-attention's [k | v] gradient (B, S, 2·NH·HS / tp), and the encoder output's gradient
    /// from this stage's decoder layers before its sum over the tensor group (B, S, C).
    let dcrossKV, dencoderPartial: FloatPointer

    init(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int) {
        self.B = B
        let arena = Arena()
        self.arena = arena
        let C = dims.nEmbd, tp = partition.tpSize, S = dims.encoderBlockSize
        let positions = max(T, S), rows = B * positions
        let crossRows = dims.encoder == nil ? 0 : B * S
        let ids = [StageBoundary(dims: dims, partition: partition, B: B).count,
                   rows * dims.parts.ffnHidden / tp, rows * dims.parts.fcRows / tp, rows * partition.localQKVRows(dims),
                   rows * C, rows * C, positions * positions, crossRows * 2 * C / tp, crossRows * C]
            .map { arena.reserve($0) }
        let p = arena.allocate()
        dboundary = p[ids[0]]; dwide = p[ids[1]]; dfch = p[ids[2]]; dqkv = p[ids[3]]
        dnarrow = p[ids[4]]; dbranch = p[ids[5]]; attention = p[ids[6]]; dcrossKV = p[ids[7]]; dencoderPartial = p[ids[8]]
    }
}
