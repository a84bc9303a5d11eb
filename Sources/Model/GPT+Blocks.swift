import Kernels
import MPI

// One block's forward and backward, for every kind of block: a decoder's (causal self-attention,
// MLP), an encoder's (bidirectional self-attention over padded inputs) and an encoder-decoder's
// decoder block (causal self-attention, cross-attention over the encoder's output, MLP). Each
// branch is pre-norm and adds into the residual stream; under tensor parallelism each ends in one
// all-reduce forward (reduce-from-region after its row-parallel projection) and one backward
// (copy-to-region's backward before its norm).

/// What the blocks of one stack read in one microbatch's forward and backward.
struct StackContext {
    /// Positions: S in an encoder, T in a decoder.
    let T: Int
    let mask: AttentionMask
    /// The encoder's padding: B key lengths (nil: none).
    let keyLengths: UnsafePointer<Int32>?
    /// The stack's relative position bias, reading its table from the stage boundary.
    let bias: RelativePositionBias?
    /// Backward: where the table's gradient is added (the boundary gradient's slot).
    let biasGradient: FloatPointer?
    /// Decoder blocks of an encoder-decoder: the encoder's output they attend to.
    let cross: CrossSource?
}

/// The encoder's output as a decoder block's cross-attention reads it.
struct CrossSource {
    /// (B, S, C) in the compute precision of the key-value products.
    let output: SavedTensor
    let S: Int
    /// B encoder lengths (nil: unpadded).
    let keyLengths: UnsafePointer<Int32>?
    /// Backward: += the output's gradient (this tensor rank's part, before the sum over the group).
    let gradient: FloatPointer?
}

/// A block's branches, for dropout sites.
enum BlockBranch: Int {
    case selfAttention, crossAttention, mlp
}

extension GPT {
    /// Dropout sites: the embeddings (0; an encoder-decoder's targets 1), then each layer's
    /// branches: 1 + 2·l and 2 + 2·l in a decoder, 2 + 3·l + branch in an encoder-decoder.
    func dropoutSite(_ layer: Int, _ branch: BlockBranch) -> Int {
        dims.encoder == nil ? 1 + 2 * layer + (branch == .mlp ? 1 : 0) : 2 + 3 * layer + branch.rawValue
    }

    var dropoutSites: Int { dims.encoder == nil ? 1 + 2 * dims.nLayer : 2 + 3 * dims.nLayer }

    /// out = site `site`'s dropout of inp, B sequences of T positions (out may be inp). The mask is
    /// its own adjoint: the backward applies the same call to the gradient.
    func dropOut(_ out: FloatPointer, _ inp: ConstFloatPointer, _ dropout: DropoutContext, site: Int, B: Int, T: Int) {
        let C = dims.nEmbd, longest = dims.encoder == nil ? T : max(dims.blockSize, dims.encoderBlockSize)
        dropout.apply(out, inp, B: B, perSequence: T * C, site: site, sites: dropoutSites, stride: longest * C)
    }

    /// Local block i (global layer l) on the residual stream `residual` (B, T, C); returns the
    /// block's output (its exact fp32 values: valid until the stack's next block writes its own).
    /// `branch` holds a branch's output (B, T, C).
    func blockForward(_ i: Int, layer l: Int, _ a: GPTActivations.Block, input residual: ConstFloatPointer, B: Int, stack: StackContext,
                      branch: FloatPointer, dropout: DropoutContext?, routes: Bool) throws(MPIError) -> ConstFloatPointer {
        let T = stack.T, BT = B * T, C = dims.nEmbd, tp = partition.tpSize, parts = dims.parts, HS = dims.headSize
        let heads = dims.nHead / tp, kvHeads = partition.localKVHeads(dims), width = C / tp
        let qkvWidth = partition.localQKVRows(dims), fcWidth = parts.fcRows / tp, hidden = parts.ffnHidden / tp
        let p = store.values, w = BlockView(p, blockOffsets[i])
        // A row-parallel projection's bias is replicated; one rank adds it before the sum.
        let adds = tensor.rank == 0
        staging.keep(a.ln1, count: BT * C, as: .linearInput) {
            normForward($0, a.ln1Mean, a.ln1Rstd, residual, w.ln1w, w.ln1b, N: BT, C: C)
        }
        let qkv = staging.keep(a.qkv, count: BT * qkvWidth, as: .qkv) {
            linears.forward($0, a.ln1, w.qkvw, w.qkvb, BT: BT, C: C, OC: qkvWidth)
            if let rope { ropeForward($0, rope, B: B, T: T, NH: heads, NKV: kvHeads, HS: HS) }
        }
        // One sequence at a time, so the probabilities' working copy holds one sequence's.
        let probabilities = heads * T * T
        staging.keep(a.atty, count: BT * width, as: .linearInput) { atty in
            for b in 0..<B {
                staging.keep(a.att.advanced(by: b * probabilities), count: probabilities, as: .attentionProbabilities) {
                    attentionForward(atty + b * T * width, $0, qkv + b * T * qkvWidth, bias: stack.bias, B: 1, T: T,
                                     NH: heads, NKV: kvHeads, HS: HS, scale: parts.attentionScale, mask: stack.mask,
                                     keyLengths: stack.keyLengths.map { $0 + b })
                }
            }
        }
        // Branch outputs go to a separate buffer: an output aliasing an input would keep the
        // elementwise loops from vectorising.
        linears.forward(branch, a.atty, w.attProjw, adds ? w.attProjb : nil, BT: BT, C: width, OC: C)
        try tensor.reduceFromRegion(branch, count: BT * C)
        if let dropout { dropOut(branch, branch, dropout, site: dropoutSite(l, .selfAttention), B: B, T: T) }
        var residual2: ConstFloatPointer
        if let cross = stack.cross {
            let residualSelf = staging.keep(a.residualSelf, count: BT * C, as: .selfResidual) {
                residualForward($0, residual, branch, N: BT * C)
            }
            try crossBranchForward(a, w, input: residualSelf, cross: cross, B: B, T: T, branch: branch, adds: adds)
            if let dropout { dropOut(branch, branch, dropout, site: dropoutSite(l, .crossAttention), B: B, T: T) }
            residual2 = UnsafePointer(staging.keep(a.residual2, count: BT * C, as: .innerResidual) {
                residualForward($0, residualSelf, branch, N: BT * C)
            })
        } else {
            residual2 = UnsafePointer(staging.keep(a.residual2, count: BT * C, as: .innerResidual) {
                residualForward($0, residual, branch, N: BT * C)
            })
        }
        staging.keep(a.ln2, count: BT * C, as: .linearInput) {
            normForward($0, a.ln2Mean, a.ln2Rstd, residual2, w.ln2w, w.ln2b, N: BT, C: C)
        }
        if let experts, let routing = a.routing {
            try experts.forward(routing, input: a.ln2.fp32, output: branch, weights: expertWeights(p, block: i), B: B, T: T)
            if routes { routingTotals.add(routing, layer: l) }
        } else {
            let fch = staging.keep(a.fch, count: BT * fcWidth, as: .preActivation) {
                linears.forward($0, a.ln2, w.fcw, w.fcb, BT: BT, C: C, OC: fcWidth)
            }
            staging.keep(a.fchGelu, count: BT * hidden, as: .linearInput) { parts.mlp.forward($0, fch, rows: BT, H: hidden) }
            linears.forward(branch, a.fchGelu, w.fcProjw, adds ? w.fcProjb : nil, BT: BT, C: hidden, OC: C)
        }
        try tensor.reduceFromRegion(branch, count: BT * C)
        if let dropout { dropOut(branch, branch, dropout, site: dropoutSite(l, .mlp), B: B, T: T) }
        return UnsafePointer(staging.keep(a.residual3, count: BT * C, as: .blockResidual) {
            residualForward($0, residual2, branch, N: BT * C)
        })
    }

    /// The cross-attention branch: branch (B, T, C) = proj(attention of q = norm(input) over the
    /// encoder output's keys and values).
    private func crossBranchForward(_ a: GPTActivations.Block, _ w: BlockView, input: ConstFloatPointer,
                                       cross: CrossSource, B: Int, T: Int, branch: FloatPointer,
                                       adds: Bool) throws(MPIError) {
        let BT = B * T, C = dims.nEmbd, S = cross.S, heads = dims.nHead / partition.tpSize, width = C / partition.tpSize
        staging.keep(a.lnCross, count: BT * C, as: .linearInput) {
            normForward($0, a.lnCrossMean, a.lnCrossRstd, input, w.crossNormw, w.crossNormb, N: BT, C: C)
        }
        let q = staging.keep(a.crossQ, count: BT * width, as: .qkv) {
            linears.forward($0, a.lnCross, w.crossQw, w.crossQb, BT: BT, C: C, OC: width)
        }
        let kv = staging.keep(a.crossKV, count: B * S * 2 * width, as: .crossKeysValues) {
            linears.forward($0, cross.output, w.crossKVw, w.crossKVb, BT: B * S, C: C, OC: 2 * width)
        }
        let probabilities = heads * T * S
        staging.keep(a.crossAtty, count: BT * width, as: .linearInput) { atty in
            for b in 0..<B {
                staging.keep(a.crossAtt.advanced(by: b * probabilities), count: probabilities, as: .attentionProbabilities) {
                    Kernels.crossAttentionForward(atty + b * T * width, $0, q + b * T * width, kv + b * S * 2 * width,
                                                  B: 1, T: T, S: S, NH: heads, HS: dims.headSize,
                                                  scale: dims.parts.attentionScale,
                                                  keyLengths: cross.keyLengths.map { $0 + b })
                }
            }
        }
        linears.forward(branch, a.crossAtty, w.crossProjw, adds ? w.crossProjb : nil, BT: BT, C: width, OC: C)
        try tensor.reduceFromRegion(branch, count: BT * C)
    }

    /// `blockForward`'s backward: dresidual (B, T, C) holds the block output's gradient and
    /// becomes its input's (`input` the block's input, as the forward read it). Parameter
    /// gradients are added (+=); so are the bias table's and the encoder output's.
    func blockBackward(_ i: Int, layer l: Int, _ a: GPTActivations.Block, input residualIn: ConstFloatPointer, dresidual: FloatPointer, B: Int,
                       stack: StackContext, scratch s: GPTGradientScratch, dloss: Float,
                       dropout: DropoutContext?) throws(MPIError) {
        let T = stack.T, BT = B * T, C = dims.nEmbd, tp = partition.tpSize, parts = dims.parts, HS = dims.headSize
        let heads = dims.nHead / tp, kvHeads = partition.localKVHeads(dims), width = C / tp
        let qkvWidth = partition.localQKVRows(dims), fcWidth = parts.fcRows / tp, hidden = parts.ffnHidden / tp
        let p = store.values, g = store.grads
        let w = BlockView(p, blockOffsets[i]), dw = BlockView(g, blockOffsets[i])
        /// The branch's output gradient: the residual's, through the branch's dropout.
        func branchGradient(_ branch: BlockBranch) -> ConstFloatPointer {
            guard let dropout else { return UnsafePointer(dresidual) }
            dropOut(s.dbranch, dresidual, dropout, site: dropoutSite(l, branch), B: B, T: T)
            return UnsafePointer(s.dbranch)
        }
        // MLP branch.
        var dbranch = branchGradient(.mlp)
        if let experts, let routing = a.routing {
            // Each sequence's balancing loss weighs coef / global batch, i.e. coef · dloss · T.
            let auxScale = Float(experts.settings.auxLossCoefficient) * dloss * Float(dims.blockSize)
            try experts.backward(routing, dOutput: dbranch, input: a.ln2.fp32, dInput: s.dnarrow,
                                 weights: expertWeights(p, block: i), grads: expertWeights(g, block: i),
                                 auxScale: auxScale, B: B, T: T)
        } else {
            linears.backward(s.dwide, dw.fcProjw, dw.fcProjb, dbranch, a.fchGelu, w.fcProjw, BT: BT, C: hidden, OC: C)
            let fch = staging.widen(a.fch, count: BT * fcWidth, as: .preActivation)
            parts.mlp.backward(s.dfch, s.dwide, fch, rows: BT, H: hidden)
            linears.backward(s.dnarrow, dw.fcw, dw.fcb, s.dfch, a.ln2, w.fcw, BT: BT, C: C, OC: fcWidth)
            try tensor.copyToRegionBackward(s.dnarrow, count: BT * C)
        }
        normBackward(dresidual, dw.ln2w, dw.ln2b, s.dnarrow, staging.widen(a.residual2, count: BT * C, as: .innerResidual),
                     w.ln2w, a.ln2Mean, a.ln2Rstd, N: BT, C: C)
        if let cross = stack.cross {
            dbranch = branchGradient(.crossAttention)
            try crossBranchBackward(a, w, dw, dbranch: dbranch, dresidual: dresidual, cross: cross, B: B, T: T, scratch: s)
        }
        // Self-attention branch.
        dbranch = branchGradient(.selfAttention)
        linears.backward(s.dnarrow, dw.attProjw, dw.attProjb, dbranch, a.atty, w.attProjw, BT: BT, C: width, OC: C)
        let qkv = staging.widen(a.qkv, count: BT * qkvWidth, as: .qkv), probabilities = heads * T * T
        for b in 0..<B {
            let att = staging.widen(a.att.advanced(by: b * probabilities), count: probabilities, as: .attentionProbabilities)
            attentionBackward(s.dqkv + b * T * qkvWidth, biasGradient: stack.biasGradient, s.attention,
                              s.dnarrow + b * T * width, att, qkv + b * T * qkvWidth, bias: stack.bias, B: 1, T: T,
                              NH: heads, NKV: kvHeads, HS: HS, scale: parts.attentionScale, mask: stack.mask,
                              keyLengths: stack.keyLengths.map { $0 + b })
        }
        if let rope { ropeBackward(s.dqkv, rope, B: B, T: T, NH: heads, NKV: kvHeads, HS: HS) }
        try summingReplicatedKV(block: i, grads: dw) {
            linears.backward(s.dnarrow, dw.qkvw, dw.qkvb, s.dqkv, a.ln1, w.qkvw, BT: BT, C: C, OC: qkvWidth)
        }
        try tensor.copyToRegionBackward(s.dnarrow, count: BT * C)
        normBackward(dresidual, dw.ln1w, dw.ln1b, s.dnarrow, residualIn, w.ln1w, a.ln1Mean, a.ln1Rstd, N: BT, C: C)
    }

    /// The cross-attention branch's backward: dresidual += the gradient through it; the encoder
    /// output's gradient += its key-value products' input gradient.
    private func crossBranchBackward(_ a: GPTActivations.Block, _ w: BlockView, _ dw: BlockView,
                                        dbranch: ConstFloatPointer, dresidual: FloatPointer, cross: CrossSource,
                                        B: Int, T: Int, scratch s: GPTGradientScratch) throws(MPIError) {
        let BT = B * T, C = dims.nEmbd, S = cross.S, heads = dims.nHead / partition.tpSize, width = C / partition.tpSize
        linears.backward(s.dnarrow, dw.crossProjw, dw.crossProjb, dbranch, a.crossAtty, w.crossProjw, BT: BT, C: width, OC: C)
        let q = staging.widen(a.crossQ, count: BT * width, as: .qkv)
        let kv = staging.widen(a.crossKV, count: B * S * 2 * width, as: .crossKeysValues)
        let probabilities = heads * T * S, dq = s.dqkv
        for b in 0..<B {
            let att = staging.widen(a.crossAtt.advanced(by: b * probabilities), count: probabilities,
                                    as: .attentionProbabilities)
            Kernels.crossAttentionBackward(dq + b * T * width, s.dcrossKV + b * S * 2 * width, s.attention,
                                           s.dnarrow + b * T * width, att, q + b * T * width, kv + b * S * 2 * width,
                                           B: 1, T: T, S: S, NH: heads, HS: dims.headSize,
                                           scale: dims.parts.attentionScale, keyLengths: cross.keyLengths.map { $0 + b })
        }
        linears.backward(cross.gradient, dw.crossKVw, dw.crossKVb, s.dcrossKV, cross.output, w.crossKVw,
                         BT: B * S, C: C, OC: 2 * width, accumulateInput: true)
        linears.backward(s.dnarrow, dw.crossQw, dw.crossQb, dq, a.lnCross, w.crossQw, BT: BT, C: C, OC: width)
        try tensor.copyToRegionBackward(s.dnarrow, count: BT * C)
        normBackward(dresidual, dw.crossNormw, dw.crossNormb, s.dnarrow,
                     staging.widen(a.residualSelf, count: BT * C, as: .selfResidual), w.crossNormw,
                     a.lnCrossMean, a.lnCrossRstd, N: BT, C: C)
    }
}
