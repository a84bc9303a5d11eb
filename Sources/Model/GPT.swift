#if canImport(Glibc)
import Glibc
#endif
import Kernels
import MPI
import Parallel

/// A pre-norm decoder built from `dims.parts` (GPT-2's, LLaMA's, or any mix): the part of it one
/// rank holds (a GPTPartition), run one microbatch at a time.
///
/// Tensor parallelism follows Megatron: attention heads and MLP columns are split across the
/// tensor group, each block needing one all-reduce per branch forward (reduce-from-region after
/// the row-parallel projection) and one per branch backward (copy-to-region's backward before the
/// LayerNorm). The vocabulary is split too: embedding rows and logit columns, with the softmax
/// statistics combined across ranks, so no rank holds the full logits.
///
/// A pipeline stage reads its input residual from `stageInput` and leaves its output in
/// `stageOutput`; backward takes the output's gradient in `residualGradient` and leaves the
/// input's gradient there. Whoever drives the pipeline moves those buffers between stages.
public final class GPT {
    public let dims: GPTDimensions
    public let partition: GPTPartition
    public let store: ParameterStore
    public let tensor: TensorParallelGroup
    /// The mixture-of-experts MLP shared by every block, when the model has experts.
    let experts: MixtureOfExperts?
    let blockOffsets: [[BlockLeaf: Int]]
    /// Per local block, per local expert: offsets of its parameters (two without biases).
    private let expertOffsets: [[[ExpertLeaf: Int]]]
    /// Routing statistics summed over every forward with targets since the last `takeRoutingTotals`.
    private var routingTotals: RoutingTotals
    /// Flat offsets of the token embedding, the position embedding, the final norm and the head's
    /// weight (the token embedding when tied), where this rank holds them.
    let wte: Int?
    let wpe, lnfw, lnfb: Int?
    let headWeight: Int?
    /// cos and sin of every position's rotary angles, under rotary positions.
    let rope: RopeTable?
    private var scratch: GPTGradientScratch?
    /// The linear layers' products in the compute precision.
    let linears: LinearLayers
    /// fp32 working copies of the activations saved in bf16.
    private let staging = TensorStaging()
    /// Key and value gradients of every kv head, summed over the tensor ranks that copy them.
    private let kvGradientSum = ScratchBuffer<Float>()
    /// (B, T, C) a block branch's output before the residual add, during one forward.
    private let branchOutput = ScratchBuffer<Float>()
    /// One block of rows of the head's logits, and their softmax statistics (see GPTHead.swift).
    let headLogits = ScratchBuffer<Float>(), headStatistics = ScratchBuffer<Float>()
    /// Rows per head block; nil: `headRows`'s choice (tests set small blocks).
    var headBlockRows: Int?
    /// Full logits gathered across the tensor group, for generation; allocated on first use.
    private var gatheredLogits: UnsafeMutablePointer<Float>?

    public init(dims: GPTDimensions, partition: GPTPartition, tensor: TensorParallelGroup = .single,
                experts expertGroup: ExpertParallelGroup = .single, compute: ComputeType = .fp32, seed: UInt64) {
        precondition(tensor.size == partition.tpSize && tensor.rank == partition.tpRank,
                     "tensor group (\(tensor.rank) of \(tensor.size)) does not match the partition")
        precondition(expertGroup.size == partition.epSize && expertGroup.rank == partition.epRank,
                     "expert group (\(expertGroup.rank) of \(expertGroup.size)) does not match the partition")
        self.dims = dims
        self.partition = partition
        self.tensor = tensor
        store = ParameterStore(specs: partition.parameterSpecs(dims))
        store.initialize(seed: seed)
        linears = LinearLayers(store: store, compute: compute)
        let s = store
        func offset(_ name: String) -> Int? { s.contains(name) ? s.offsets[s.index(of: name)] : nil }
        wte = offset(GPTParameterName.tokenEmbedding)
        wpe = offset(GPTParameterName.positionEmbedding)
        lnfw = offset(GPTParameterName.finalNormWeight)
        lnfb = offset(GPTParameterName.finalNormBias)
        headWeight = partition.hasHead ? offset(dims.parts.tiedEmbeddings ? GPTParameterName.tokenEmbedding : GPTParameterName.head)
            : nil
        if case .rotary(let theta) = dims.parts.position {
            rope = RopeTable(HS: dims.headSize, positions: dims.blockSize, theta: theta)
        } else {
            rope = nil
        }
        blockOffsets = partition.layers.map { l in
            Dictionary(uniqueKeysWithValues: BlockLeaf.leaves(dims).compactMap { leaf in
                offset(GPTParameterName.block(l, leaf)).map { (leaf, $0) }
            })
        }
        expertOffsets = partition.layers.map { l in
            partition.localExperts(dims).map { e in
                Dictionary(uniqueKeysWithValues: ExpertLeaf.leaves(dims.parts).map {
                    ($0, s.offsets[s.index(of: GPTParameterName.expert(l, e, $0))])
                })
            }
        }
        experts = dims.experts.map {
            MixtureOfExperts(settings: $0, group: expertGroup, tensor: tensor, C: dims.nEmbd, parts: dims.parts)
        }
        routingTotals = RoutingTotals(layers: dims.nLayer, experts: dims.experts?.count ?? 0)
    }

    /// The whole model on one rank.
    public convenience init(dims: GPTDimensions, seed: UInt64) {
        self.init(dims: dims, partition: .whole(dims), seed: seed)
    }

    deinit { gatheredLogits?.deallocate() }

    /// Call after writing the parameters (an optimizer step, a load): under bf16 compute the
    /// next forward rounds fresh bf16 weights from them.
    public func parametersChanged() { linears.parametersChanged() }

    /// What runs the bf16 products on this CPU; nil under fp32 compute.
    public var bf16Engine: BF16Gemm.Engine? { linears.engine }

    /// Flat parameter range of global block `layer`'s dense parameters (its gradient bucket,
    /// summed across data-parallel replicas); the block must be local.
    public func blockRange(_ layer: Int) -> Range<Int> {
        let leaves = BlockLeaf.leaves(dims)
        let first = store.index(of: GPTParameterName.block(layer, leaves.first!))
        let last = store.index(of: GPTParameterName.block(layer, leaves.last!))
        return store.offsets[first]..<store.range(of: last).upperBound
    }

    /// Flat range of global block `layer`'s local experts, right after its dense parameters
    /// (summed across the ranks that hold the same experts); empty without experts.
    public func expertRange(_ layer: Int) -> Range<Int> {
        let start = blockRange(layer).upperBound
        let local = partition.localExperts(dims)
        guard let last = local.last else { return start..<start }
        let lastLeaf = ExpertLeaf.leaves(dims.parts).last!
        return start..<store.range(of: store.index(of: GPTParameterName.expert(layer, last, lastLeaf))).upperBound
    }

    /// Whether flat element `index` belongs to an expert: the one rule for who sums, counts and
    /// saves a parameter as an expert's (expert groups) rather than a dense one (all replicas).
    public func isExpert(_ index: Int) -> Bool {
        partition.layers.contains { expertRange($0).contains(index) }
    }

    /// The flat ranges outside every block, non-empty: the token embedding on its own (so that both
    /// stages holding it cut it alike), the position embedding, the final norm and untied head.
    public var nonBlockRanges: [Range<Int>] {
        let blocks = partition.layers.first.map { blockRange($0).lowerBound } ?? store.count
        let end = partition.layers.last.map { expertRange($0).upperBound } ?? store.count
        let embedding = tokenEmbeddingRange ?? 0..<0
        return [embedding, embedding.upperBound..<blocks, end..<store.count].filter { !$0.isEmpty }
    }

    /// Flat range of the token embedding, when this rank holds it.
    public var tokenEmbeddingRange: Range<Int>? {
        wte == nil ? nil : store.range(of: store.index(of: GPTParameterName.tokenEmbedding))
    }

    /// The token embedding's range where the first and last pipeline stages both hold it, as the
    /// tied head, and sum its gradients; nil with an untied head.
    public var tiedEmbeddingRange: Range<Int>? { dims.parts.tiedEmbeddings ? tokenEmbeddingRange : nil }

    public func makeActivations(batch B: Int) -> GPTActivations {
        let acts = GPTActivations(dims: dims, partition: partition, B: B, T: dims.blockSize, compute: linears.compute)
        if let experts {
            for i in acts.blocks.indices { acts.blocks[i].routing = experts.makeRecord(B: B, T: dims.blockSize) }
        }
        return acts
    }

    /// Floats of the buffers one microbatch's training forward and backward work in and the
    /// microbatches share: the head's block, a branch's output and, under bf16 compute, the fp32
    /// working copies of the tensors saved in bf16.
    public static func workspaceFloats(dims: GPTDimensions, partition: GPTPartition, B: Int, compute: ComputeType) -> Int {
        let T = dims.blockSize
        return headWorkspaceFloats(dims: dims, partition: partition, B: B) + B * T * dims.nEmbd
            + GPTActivations.stagingFloats(dims: dims, partition: partition, B: B, T: T, compute: compute)
    }

    /// What `workspaceFloats` predicts, as allocated by the forward and backward passes so far.
    var workspaceFloatsHeld: Int {
        headLogits.capacity + headStatistics.capacity + branchOutput.capacity + staging.floatCount
    }

    /// Router and local expert pointers of local block i inside `base` (values or gradients).
    private func expertWeights(_ base: FloatPointer, block i: Int) -> ExpertWeights {
        ExpertWeights(router: BlockView(base, blockOffsets[i]).routerw, experts: expertOffsets[i].map {
            (base + $0[.fcWeight]!, $0[.fcBias].map { base + $0 }, base + $0[.projWeight]!, $0[.projBias].map { base + $0 })
        })
    }

    /// Time in the experts' all-to-all exchanges, when the model has experts.
    public var expertCommunicationTime: TimeAccount? { experts?.group.communicationTime }

    /// The routing statistics of every forward with targets since the last call, then reset.
    public func takeRoutingTotals() -> RoutingTotals {
        defer { routingTotals = RoutingTotals(layers: dims.nLayer, experts: dims.experts?.count ?? 0) }
        return routingTotals
    }

    /// Floats in a stage boundary transfer of one microbatch: the residual stream (B, T, C).
    public func boundaryCount(_ acts: GPTActivations) -> Int { acts.B * acts.T * dims.nEmbd }
    /// Where a stage without the embedding expects its input before `forward`.
    public func stageInput(_ acts: GPTActivations) -> UnsafeMutablePointer<Float> { acts.encoded }
    /// A stage's output after `forward`, when it has no head.
    public func stageOutput(_ acts: GPTActivations) -> UnsafeMutablePointer<Float> { acts.stageOutput }
    /// Before `backward` on a stage without the head: the gradient of its output; after `backward`
    /// on a stage without the embedding: the gradient of its input.
    public func residualGradient(batch B: Int) -> UnsafeMutablePointer<Float> { scratch(B).dresidual }

    private func scratch(_ B: Int) -> GPTGradientScratch {
        if let scratch, scratch.B == B { return scratch }
        let made = GPTGradientScratch(dims: dims, partition: partition, B: B, T: dims.blockSize)
        scratch = made
        return made
    }

    private var dropoutSites: Int { 1 + 2 * dims.nLayer }

    /// Runs B sequences of T ≤ block_size tokens through this rank's layers. On the last stage with
    /// targets, returns the summed token losses (equal on every tensor rank) and keeps what backward
    /// needs; without targets, leaves this rank's logit columns for `fullLogits`. Other stages
    /// return 0 and leave their output in `stageOutput`.
    /// `dloss`, when the backward that follows will take the same uniform dloss: the head's
    /// backward runs here, so the backward need not recompute the logits.
    @discardableResult
    public func forward(_ acts: GPTActivations, tokens: UnsafePointer<Int32>,
                        targets: UnsafePointer<Int32>?, T: Int? = nil,
                        dropout: DropoutContext? = nil, dloss: Float? = nil) throws(MPIError) -> Double {
        let B = acts.B, T = T ?? acts.T, C = dims.nEmbd, tp = partition.tpSize, parts = dims.parts
        let heads = dims.nHead / tp, kvHeads = partition.localKVHeads(dims), width = C / tp
        let qkvWidth = partition.localQKVRows(dims), fcWidth = parts.fcRows / tp, hidden = parts.ffnHidden / tp
        precondition(T <= acts.T && (targets == nil || T == acts.T),
                     "forward over \(T) tokens with activations for \(acts.T); training needs full blocks")
        let BT = B * T
        let p = store.values
        if partition.hasEmbedding, let wte {
            // Vocabulary-parallel embedding: each rank adds the rows it holds; one rank adds the
            // position embedding, so the sum counts it once.
            embeddingForward(acts.encoded, tokens, p + wte, tensor.rank == 0 ? wpe.map { UnsafePointer(p + $0) } : nil, B: B, T: T, C: C,
                             vocabStart: partition.vocabStart(dims), vocabCount: partition.validVocab(dims))
            try tensor.reduceFromRegion(acts.encoded, count: BT * C)
            if let dropout {
                dropout.mask.apply(acts.encoded, acts.encoded, N: BT * C, counterBase: dropout.counterBase(
                    site: 0, sites: dropoutSites, elementsPerSequence: T * C))
            }
        }
        let branch = branchOutput.take(BT * C)
        // The residual stream runs in fp32; each block keeps it in the compute precision for backward.
        var residual = UnsafePointer(acts.encoded)
        for (i, l) in partition.layers.enumerated() {
            let w = BlockView(p, blockOffsets[i]), a = acts.blocks[i]
            // A row-parallel projection's bias is replicated; one rank adds it before the sum.
            let adds = tensor.rank == 0
            staging.keep(a.ln1, count: BT * C, as: .linearInput) {
                normForward($0, a.ln1Mean, a.ln1Rstd, residual, w.ln1w, w.ln1b, N: BT, C: C)
            }
            let qkv = staging.keep(a.qkv, count: BT * qkvWidth, as: .qkv) {
                linears.forward($0, a.ln1, w.qkvw, w.qkvb, BT: BT, C: C, OC: qkvWidth)
                if let rope { ropeForward($0, rope, B: B, T: T, NH: heads, NKV: kvHeads, HS: dims.headSize) }
            }
            // One sequence at a time, so the probabilities' working copy holds one sequence's.
            let probabilities = heads * T * T
            staging.keep(a.atty, count: BT * width, as: .linearInput) { atty in
                for b in 0..<B {
                    staging.keep(a.att.advanced(by: b * probabilities), count: probabilities, as: .attentionProbabilities) {
                        attentionForward(atty + b * T * width, $0, qkv + b * T * qkvWidth, B: 1, T: T, NH: heads,
                                         NKV: kvHeads, HS: dims.headSize)
                    }
                }
            }
            // Branch outputs go to a separate buffer: an output aliasing an input would keep the
            // elementwise loops from vectorising.
            linears.forward(branch, a.atty, w.attProjw, adds ? w.attProjb : nil, BT: BT, C: width, OC: C)
            try tensor.reduceFromRegion(branch, count: BT * C)
            if let dropout {
                dropout.mask.apply(branch, branch, N: BT * C, counterBase: dropout.counterBase(
                    site: 1 + 2 * l, sites: dropoutSites, elementsPerSequence: T * C))
            }
            let residual2 = staging.keep(a.residual2, count: BT * C, as: .innerResidual) {
                residualForward($0, residual, branch, N: BT * C)
            }
            staging.keep(a.ln2, count: BT * C, as: .linearInput) {
                normForward($0, a.ln2Mean, a.ln2Rstd, residual2, w.ln2w, w.ln2b, N: BT, C: C)
            }
            if let experts, let routing = a.routing {
                try experts.forward(routing, input: a.ln2.fp32, output: branch, weights: expertWeights(p, block: i),
                                    B: B, T: T)
                if targets != nil { routingTotals.add(routing, layer: l) }
            } else {
                let fch = staging.keep(a.fch, count: BT * fcWidth, as: .preActivation) {
                    linears.forward($0, a.ln2, w.fcw, w.fcb, BT: BT, C: C, OC: fcWidth)
                }
                staging.keep(a.fchGelu, count: BT * hidden, as: .linearInput) { parts.mlp.forward($0, fch, rows: BT, H: hidden) }
                linears.forward(branch, a.fchGelu, w.fcProjw, adds ? w.fcProjb : nil, BT: BT, C: hidden, OC: C)
            }
            try tensor.reduceFromRegion(branch, count: BT * C)
            if let dropout {
                dropout.mask.apply(branch, branch, N: BT * C, counterBase: dropout.counterBase(
                    site: 2 + 2 * l, sites: dropoutSites, elementsPerSequence: T * C))
            }
            residual = UnsafePointer(staging.keep(a.residual3, count: BT * C, as: .blockResidual) {
                residualForward($0, residual2, branch, N: BT * C)
            })
        }
        acts.headDloss = nil
        guard let headWeight, let lnfw else { return 0 }
        let V = partition.vocabShard(dims)
        staging.keep(acts.lnf, count: BT * C, as: .linearInput) {
            normForward($0, acts.lnfMean, acts.lnfRstd, residual, p + lnfw, lnfb.map { p + $0 }, N: BT, C: C)
        }
        guard let targets else {
            linears.forward(acts.sampledLogits.take(B * acts.T * V), acts.lnf, p + headWeight, nil, BT: BT, C: C, OC: V)
            return 0
        }
        return try headLoss(acts, targets: targets, BT: BT, dloss: dloss)
    }

    /// Per-token losses (B·T) after a forward with targets, on the stage with the head.
    public func tokenLosses(_ acts: GPTActivations) -> UnsafePointer<Float> { UnsafePointer(acts.losses) }

    /// The logits of every vocabulary entry after a forward without targets: (B, T, ld) rows, the
    /// first V columns real. With tensor parallelism the shards are gathered (generation only).
    public func fullLogits(_ acts: GPTActivations) throws(MPIError) -> (values: UnsafePointer<Float>, ld: Int) {
        let shard = partition.vocabShard(dims)
        let BT = acts.B * acts.T, local = acts.sampledLogits.take(BT * shard)
        guard tensor.size > 1 else { return (UnsafePointer(local), shard) }
        let padded = partition.paddedVocab(dims)
        if gatheredLogits == nil { gatheredLogits = .allocate(capacity: BT * padded) }
        try tensor.gatherFromRegion(local: local, full: gatheredLogits!, rows: BT, columns: shard)
        return (UnsafePointer(gatheredLogits!), padded)
    }

    /// Accumulates (+=) parameter gradients of `dloss · Σ token losses` into `store.grads`.
    /// `blockDone(l)` fires as soon as global block l's gradients are complete (for overlapped
    /// all-reduce); embeddings and the final norm are complete when this returns.
    /// `tokenWeights` (B·T), when given, replaces dloss per token: the gradient of Σ w_t · loss_t.
    public func backward(_ acts: GPTActivations, tokens: UnsafePointer<Int32>,
                         targets: UnsafePointer<Int32>, dloss: Float, tokenWeights: UnsafePointer<Float>? = nil,
                         dropout: DropoutContext? = nil, blockDone: (Int) -> Void = { _ in }) throws(MPIError) {
        let B = acts.B, T = acts.T, C = dims.nEmbd, tp = partition.tpSize, parts = dims.parts
        let heads = dims.nHead / tp, kvHeads = partition.localKVHeads(dims), width = C / tp
        let qkvWidth = partition.localQKVRows(dims), fcWidth = parts.fcRows / tp, hidden = parts.ffnHidden / tp
        let BT = B * T
        let s = scratch(B)
        let p = store.values, g = store.grads

        if let lnfw {
            let dlnf = headBackward(acts, targets: targets, dloss: dloss, tokenWeights: tokenWeights)
            try tensor.copyToRegionBackward(dlnf, count: BT * C)
            s.dresidual.update(repeating: 0, count: BT * C)
            normBackward(s.dresidual, g + lnfw, lnfb.map { g + $0 }, dlnf, acts.stageOutput, p + lnfw,
                         acts.lnfMean, acts.lnfRstd, N: BT, C: C)
        }

        for (i, l) in partition.layers.enumerated().reversed() {
            let w = BlockView(p, blockOffsets[i]), dw = BlockView(g, blockOffsets[i])
            let a = acts.blocks[i]
            // MLP branch: the residual gradient enters through the (possibly dropped-out) projection.
            var dbranch = UnsafePointer(s.dresidual)
            if let dropout {
                dropout.mask.apply(s.dbranch, s.dresidual, N: BT * C, counterBase: dropout.counterBase(
                    site: 2 + 2 * l, sites: dropoutSites, elementsPerSequence: T * C))
                dbranch = UnsafePointer(s.dbranch)
            }
            if let experts, let routing = a.routing {
                // Each sequence's balancing loss weighs coef / global batch, i.e. coef · dloss · T.
                let auxScale = Float(experts.settings.auxLossCoefficient) * dloss * Float(T)
                try experts.backward(routing, dOutput: dbranch, input: a.ln2.fp32, dInput: s.dnarrow,
                                     weights: expertWeights(p, block: i), grads: expertWeights(g, block: i),
                                     auxScale: auxScale, B: B, T: T)
            } else {
                linears.backward(s.dwide, dw.fcProjw, dw.fcProjb, dbranch, a.fchGelu, w.fcProjw,
                                 BT: BT, C: hidden, OC: C)
                let fch = staging.widen(a.fch, count: BT * fcWidth, as: .preActivation)
                parts.mlp.backward(s.dfch, s.dwide, fch, rows: BT, H: hidden)
                linears.backward(s.dnarrow, dw.fcw, dw.fcb, s.dfch, a.ln2, w.fcw, BT: BT, C: C, OC: fcWidth)
                try tensor.copyToRegionBackward(s.dnarrow, count: BT * C)
            }
            normBackward(s.dresidual, dw.ln2w, dw.ln2b, s.dnarrow,
                         staging.widen(a.residual2, count: BT * C, as: .innerResidual), w.ln2w,
                         a.ln2Mean, a.ln2Rstd, N: BT, C: C)
            // Attention branch.
            dbranch = UnsafePointer(s.dresidual)
            if let dropout {
                dropout.mask.apply(s.dbranch, s.dresidual, N: BT * C, counterBase: dropout.counterBase(
                    site: 1 + 2 * l, sites: dropoutSites, elementsPerSequence: T * C))
                dbranch = UnsafePointer(s.dbranch)
            }
            linears.backward(s.dnarrow, dw.attProjw, dw.attProjb, dbranch, a.atty, w.attProjw,
                             BT: BT, C: width, OC: C)
            let qkv = staging.widen(a.qkv, count: BT * qkvWidth, as: .qkv), probabilities = heads * T * T
            for b in 0..<B {
                let att = staging.widen(a.att.advanced(by: b * probabilities), count: probabilities,
                                        as: .attentionProbabilities)
                attentionBackward(s.dqkv + b * T * qkvWidth, s.attention, s.dnarrow + b * T * width, att,
                                  qkv + b * T * qkvWidth, B: 1, T: T, NH: heads, NKV: kvHeads, HS: dims.headSize)
            }
            if let rope { ropeBackward(s.dqkv, rope, B: B, T: T, NH: heads, NKV: kvHeads, HS: dims.headSize) }
            try summingReplicatedKV(block: i, grads: dw) {
                linears.backward(s.dnarrow, dw.qkvw, dw.qkvb, s.dqkv, a.ln1, w.qkvw, BT: BT, C: C, OC: qkvWidth)
            }
            try tensor.copyToRegionBackward(s.dnarrow, count: BT * C)
            let residualIn = i == 0 ? acts.encoded
                : staging.widen(acts.blocks[i - 1].residual3, count: BT * C, as: .blockResidual)
            normBackward(s.dresidual, dw.ln1w, dw.ln1b, s.dnarrow, residualIn, w.ln1w,
                         a.ln1Mean, a.ln1Rstd, N: BT, C: C)
            blockDone(l)
        }
        guard let wte, partition.hasEmbedding else { return }
        if let dropout {
            dropout.mask.apply(s.dresidual, s.dresidual, N: BT * C, counterBase: dropout.counterBase(
                site: 0, sites: dropoutSites, elementsPerSequence: T * C))
        }
        embeddingBackward(g + wte, wpe.map { g + $0 }, s.dresidual, tokens, B: B, T: T, C: C,
                          vocabStart: partition.vocabStart(dims), vocabCount: partition.validVocab(dims))
    }

    /// Runs `backward` (which adds this microbatch's qkv gradients) and, where kv heads are copied
    /// on several tensor ranks, sums their key and value gradients over the copies: each copy saw
    /// only its own query heads. Each rank puts this microbatch's contribution in its head's slot of
    /// a buffer of every kv head, and one all-reduce over the tensor group sums each slot.
    private func summingReplicatedKV(block i: Int, grads dw: BlockView, _ backward: () -> Void) throws(MPIError) {
        guard partition.kvReplicas(dims) > 1 else { return backward() }
        let layer = partition.layers.lowerBound + i
        let pieces = [BlockLeaf.kWeight, .vWeight, .kBias, .vBias].compactMap { leaf in
            dw[leaf].map { ($0, store.specs[store.index(of: GPTParameterName.block(layer, leaf))].localCount) }
        }
        let slot = pieces.reduce(0) { $0 + $1.1 }, (shard, heads) = partition.kvShard(dims)
        let sums = kvGradientSum.take(slot * heads + slot), before = sums + slot * heads
        var offset = 0
        for (gradient, count) in pieces {
            (before + offset).update(from: gradient, count: count)
            offset += count
        }
        backward()
        sums.update(repeating: 0, count: slot * heads)
        offset = 0
        for (gradient, count) in pieces {
            let mine = sums + shard * slot + offset, old = before + offset
            for j in 0..<count { mine[j] = gradient[j] - old[j] }
            offset += count
        }
        try tensor.sum(sums, count: slot * heads)
        offset = 0
        for (gradient, count) in pieces {
            let summed = sums + shard * slot + offset, old = before + offset
            for j in 0..<count { gradient[j] = old[j] + summed[j] }
            offset += count
        }
    }

    /// The block's norm: LayerNorm (saving mean and rstd) or RMSNorm (saving rstd).
    func normForward(_ out: FloatPointer, _ mean: FloatPointer, _ rstd: FloatPointer, _ inp: ConstFloatPointer,
                             _ weight: ConstFloatPointer, _ bias: ConstFloatPointer?, N: Int, C: Int) {
        switch dims.parts.norm {
        case .layerNorm: layerNormForward(out, mean, rstd, inp, weight, bias!, N: N, C: C, eps: dims.parts.normEps)
        case .rmsNorm: rmsNormForward(out, rstd, inp, weight, N: N, C: C, eps: dims.parts.normEps)
        }
    }

    /// `normForward`'s backward: adds into `dinp` (the residual stream's gradient).
    private func normBackward(_ dinp: FloatPointer, _ dweight: FloatPointer, _ dbias: FloatPointer?,
                              _ dout: ConstFloatPointer, _ inp: ConstFloatPointer, _ weight: ConstFloatPointer,
                              _ mean: ConstFloatPointer, _ rstd: ConstFloatPointer, N: Int, C: Int) {
        switch dims.parts.norm {
        case .layerNorm: layerNormBackward(dinp, dweight, dbias!, dout, inp, weight, mean, rstd, N: N, C: C)
        case .rmsNorm: rmsNormBackward(dinp, dweight, dout, inp, weight, rstd, N: N, C: C)
        }
    }
}

/// Routing statistics over some microbatches: for the balancing loss's value and the metrics.
public struct RoutingTotals: Sendable {
    /// Σ over sequences and layers of E · Σ_i f_i · P_i.
    public var auxSum: Double = 0
    /// (token, choice) assignments made, and those dropped for lack of capacity.
    public var assignments = 0
    public var dropped = 0
    /// Kept assignments per (global layer, expert), row-major.
    public var loads: [Int]

    init(layers: Int, experts: Int) {
        loads = Array(repeating: 0, count: layers * experts)
    }

    mutating func add(_ record: RoutingRecord, layer: Int) {
        auxSum += record.auxSum
        assignments += record.kept.count
        dropped += record.dropped
        let E = record.loads.count
        for e in 0..<E { loads[layer * E + e] += record.loads[e] }
    }
}
