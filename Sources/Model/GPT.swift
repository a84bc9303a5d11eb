import Kernels

/// A pre-LayerNorm GPT decoder with tied input/output embeddings.
/// Forward and backward run one microbatch through every layer this instance holds.
public final class GPT {
    public let dims: GPTDimensions
    public let store: ParameterStore
    private let blockOffsets: [[BlockLeaf: Int]]
    private let wte, wpe, lnfw, lnfb: Int
    private var scratch: GPTGradientScratch?

    public init(dims: GPTDimensions, seed: UInt64) {
        self.dims = dims
        store = ParameterStore(specs: dims.parameterSpecs())
        store.initialize(seed: seed)
        let s = store
        wte = s.offsets[s.index(of: GPTParameterName.tokenEmbedding)]
        wpe = s.offsets[s.index(of: GPTParameterName.positionEmbedding)]
        lnfw = s.offsets[s.index(of: GPTParameterName.finalNormWeight)]
        lnfb = s.offsets[s.index(of: GPTParameterName.finalNormBias)]
        blockOffsets = (0..<dims.nLayer).map { l in
            Dictionary(uniqueKeysWithValues: BlockLeaf.allCases.map {
                ($0, s.offsets[s.index(of: GPTParameterName.block(l, $0))])
            })
        }
    }

    /// Flat parameter range of block `layer` (its gradient bucket).
    public func blockRange(_ layer: Int) -> Range<Int> {
        let first = store.index(of: GPTParameterName.block(layer, .ln1Weight))
        let last = store.index(of: GPTParameterName.block(layer, .fcProjBias))
        return store.offsets[first]..<store.range(of: last).upperBound
    }

    public func makeActivations(batch B: Int) -> GPTActivations {
        GPTActivations(dims: dims, layers: dims.nLayer, B: B, T: dims.blockSize)
    }

    private var dropoutSites: Int { 1 + 2 * dims.nLayer }

    /// Runs B sequences of T ≤ block_size tokens. With targets, returns the summed token losses
    /// and keeps what backward needs; without, leaves logits (B, T, V) in `acts.logits`.
    @discardableResult
    public func forward(_ acts: GPTActivations, tokens: UnsafePointer<Int32>,
                        targets: UnsafePointer<Int32>?, T: Int? = nil,
                        dropout: DropoutContext? = nil) -> Double {
        let B = acts.B, T = T ?? acts.T, C = dims.nEmbd, NH = dims.nHead, V = dims.vocabSize
        precondition(T <= acts.T && (targets == nil || T == acts.T),
                     "forward over \(T) tokens with activations for \(acts.T); training needs full blocks")
        let BT = B * T
        let p = store.values
        embeddingForward(acts.encoded, tokens, p + wte, p + wpe, B: B, T: T, C: C)
        if let dropout {
            dropout.mask.apply(acts.encoded, acts.encoded, N: BT * C, counterBase: dropout.counterBase(
                site: 0, sites: dropoutSites, elementsPerSequence: T * C))
        }
        var residual = UnsafeMutablePointer(acts.encoded)
        for l in 0..<dims.nLayer {
            let w = BlockView(p, blockOffsets[l]), a = acts.blocks[l]
            layerNormForward(a.ln1, a.ln1Mean, a.ln1Rstd, residual, w.ln1w, w.ln1b, N: BT, C: C)
            linearForward(a.qkv, a.ln1, w.qkvw, w.qkvb, BT: BT, C: C, OC: 3 * C)
            attentionForward(a.atty, a.att, a.qkv, B: B, T: T, NH: NH, HS: C / NH)
            // Branch outputs go to a separate buffer: an output aliasing an input would keep the
            // elementwise loops from vectorising.
            linearForward(acts.branch, a.atty, w.attProjw, w.attProjb, BT: BT, C: C, OC: C)
            if let dropout {
                dropout.mask.apply(acts.branch, acts.branch, N: BT * C, counterBase: dropout.counterBase(
                    site: 1 + 2 * l, sites: dropoutSites, elementsPerSequence: T * C))
            }
            residualForward(a.residual2, residual, acts.branch, N: BT * C)
            layerNormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.residual2, w.ln2w, w.ln2b, N: BT, C: C)
            linearForward(a.fch, a.ln2, w.fcw, w.fcb, BT: BT, C: C, OC: 4 * C)
            geluForward(a.fchGelu, a.fch, N: BT * 4 * C)
            linearForward(acts.branch, a.fchGelu, w.fcProjw, w.fcProjb, BT: BT, C: 4 * C, OC: C)
            if let dropout {
                dropout.mask.apply(acts.branch, acts.branch, N: BT * C, counterBase: dropout.counterBase(
                    site: 2 + 2 * l, sites: dropoutSites, elementsPerSequence: T * C))
            }
            residualForward(a.residual3, a.residual2, acts.branch, N: BT * C)
            residual = a.residual3
        }
        layerNormForward(acts.lnf, acts.lnfMean, acts.lnfRstd, residual, p + lnfw, p + lnfb, N: BT, C: C)
        linearForward(acts.logits, acts.lnf, p + wte, nil, BT: BT, C: C, OC: V)
        guard let targets else { return 0 }
        crossEntropyForward(acts.losses, acts.lse, acts.logits, targets, BT: BT, V: V, ld: V)
        var sum: Double = 0
        for i in 0..<BT { sum += Double(acts.losses[i]) }
        return sum
    }

    /// Accumulates (+=) parameter gradients of `dloss · Σ token losses` into `store.grads`.
    /// `blockDone(l)` fires as soon as block l's gradients are complete (for overlapped all-reduce);
    /// embeddings and the final norm are complete when this returns.
    public func backward(_ acts: GPTActivations, tokens: UnsafePointer<Int32>,
                         targets: UnsafePointer<Int32>, dloss: Float,
                         dropout: DropoutContext? = nil, blockDone: (Int) -> Void = { _ in }) {
        let B = acts.B, T = acts.T, C = dims.nEmbd, NH = dims.nHead, V = dims.vocabSize
        let BT = B * T
        if scratch?.B != B { scratch = GPTGradientScratch(dims: dims, B: B, T: T) }
        let s = scratch!
        let p = store.values, g = store.grads
        let lastResidual = dims.nLayer > 0 ? acts.blocks[dims.nLayer - 1].residual3 : acts.encoded

        crossEntropyBackward(acts.logits, acts.lse, targets, dloss: dloss, BT: BT, V: V, ld: V)
        linearBackward(s.dnarrow, g + wte, nil, acts.logits, acts.lnf, p + wte, BT: BT, C: C, OC: V)
        s.dresidual.update(repeating: 0, count: BT * C)
        layerNormBackward(s.dresidual, g + lnfw, g + lnfb, s.dnarrow, lastResidual, p + lnfw,
                          acts.lnfMean, acts.lnfRstd, N: BT, C: C)

        for l in stride(from: dims.nLayer - 1, through: 0, by: -1) {
            let w = BlockView(p, blockOffsets[l]), dw = BlockView(g, blockOffsets[l])
            let a = acts.blocks[l]
            let residualIn = l == 0 ? acts.encoded : acts.blocks[l - 1].residual3
            // MLP branch: the residual gradient enters through the (possibly dropped-out) projection.
            var dbranch = UnsafePointer(s.dresidual)
            if let dropout {
                dropout.mask.apply(s.dbranch, s.dresidual, N: BT * C, counterBase: dropout.counterBase(
                    site: 2 + 2 * l, sites: dropoutSites, elementsPerSequence: T * C))
                dbranch = UnsafePointer(s.dbranch)
            }
            linearBackward(s.dwide, dw.fcProjw, dw.fcProjb, dbranch, a.fchGelu, w.fcProjw,
                           BT: BT, C: 4 * C, OC: C)
            geluBackward(s.dfch, s.dwide, a.fch, N: BT * 4 * C)
            linearBackward(s.dnarrow, dw.fcw, dw.fcb, s.dfch, a.ln2, w.fcw, BT: BT, C: C, OC: 4 * C)
            layerNormBackward(s.dresidual, dw.ln2w, dw.ln2b, s.dnarrow, a.residual2, w.ln2w,
                              a.ln2Mean, a.ln2Rstd, N: BT, C: C)
            // Attention branch.
            dbranch = UnsafePointer(s.dresidual)
            if let dropout {
                dropout.mask.apply(s.dbranch, s.dresidual, N: BT * C, counterBase: dropout.counterBase(
                    site: 1 + 2 * l, sites: dropoutSites, elementsPerSequence: T * C))
                dbranch = UnsafePointer(s.dbranch)
            }
            linearBackward(s.dnarrow, dw.attProjw, dw.attProjb, dbranch, a.atty, w.attProjw,
                           BT: BT, C: C, OC: C)
            attentionBackward(s.dqkv, s.attention, s.dnarrow, a.att, a.qkv, B: B, T: T, NH: NH, HS: C / NH)
            linearBackward(s.dnarrow, dw.qkvw, dw.qkvb, s.dqkv, a.ln1, w.qkvw, BT: BT, C: C, OC: 3 * C)
            layerNormBackward(s.dresidual, dw.ln1w, dw.ln1b, s.dnarrow, residualIn, w.ln1w,
                              a.ln1Mean, a.ln1Rstd, N: BT, C: C)
            blockDone(l)
        }
        if let dropout {
            dropout.mask.apply(s.dresidual, s.dresidual, N: BT * C, counterBase: dropout.counterBase(
                site: 0, sites: dropoutSites, elementsPerSequence: T * C))
        }
        embeddingBackward(g + wte, g + wpe, s.dresidual, tokens, B: B, T: T, C: C)
    }
}
