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
    var routingTotals: RoutingTotals
    /// Flat offsets of the token embedding, the position embedding, the final norm and the head's
    /// weight (the token embedding when tied), where this rank holds them.
    let wte: Int?
    let wpe, lnfw, lnfb: Int?
    let headWeight: Int?
    /// cos and sin of every position's rotary angles, under rotary positions.
    let rope: RopeTable?
    /// The buckets of every relative position, per stack (the encoder's, then the decoder's), under
    /// relative positions.
    let relativeBuckets: [RelativePositionBuckets]?
    private var scratch: GPTGradientScratch?
    /// The linear layers' products in the compute precision.
    let linears: LinearLayers
    /// fp32 working copies of the activations saved in bf16.
    let staging = TensorStaging()
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
        relativeBuckets = dims.parts.relativeBuckets.map { table in
            let decoder = RelativePositionBuckets(bidirectional: false, buckets: table.buckets,
                                                  maxDistance: table.maxDistance, length: dims.blockSize)
            guard let encoder = dims.encoder else { return [decoder] }
            return [RelativePositionBuckets(bidirectional: true, buckets: table.buckets, maxDistance: table.maxDistance,
                                            length: encoder.blockSize), decoder]
        }
        blockOffsets = partition.layers.map { l in
            Dictionary(uniqueKeysWithValues: BlockLeaf.leaves(dims, layer: l).compactMap { leaf in
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
        let leaves = BlockLeaf.leaves(dims, layer: layer)
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
            for (i, l) in partition.layers.enumerated() {
                acts.blocks[i].routing = experts.makeRecord(B: B, T: dims.positions(l))
            }
        }
        return acts
    }

    /// Floats of the buffers one microbatch's training forward and backward work in and the
    /// microbatches share: the head's block, a branch's output and, under bf16 compute, the fp32
    /// working copies of the tensors saved in bf16.
    public static func workspaceFloats(dims: GPTDimensions, partition: GPTPartition, B: Int, compute: ComputeType) -> Int {
        let T = dims.blockSize
        return headWorkspaceFloats(dims: dims, partition: partition, B: B) + B * max(T, dims.encoderBlockSize) * dims.nEmbd
            + GPTActivations.stagingFloats(dims: dims, partition: partition, B: B, T: T, compute: compute)
    }

    /// What `workspaceFloats` predicts, as allocated by the forward and backward passes so far.
    var workspaceFloatsHeld: Int {
        headLogits.capacity + headStatistics.capacity + branchOutput.capacity + staging.floatCount
    }

    /// Router and local expert pointers of local block i inside `base` (values or gradients).
    func expertWeights(_ base: FloatPointer, block i: Int) -> ExpertWeights {
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

    /// Floats in a stage boundary transfer of one microbatch (see `StageBoundary`).
    public func boundaryCount(_ acts: GPTActivations) -> Int { acts.boundary.count }
    /// Where a stage without the embedding expects its input before `forward`.
    public func stageInput(_ acts: GPTActivations) -> UnsafeMutablePointer<Float> { acts.encoded }
    /// What a stage without the head sends on after `forward`.
    public func stageOutput(_ acts: GPTActivations) -> UnsafeMutablePointer<Float> {
        acts.boundary.sendsCopy ? acts.boundaryOutput : acts.stageOutput
    }
    /// Before `backward` on a stage without the head: the gradient of its output; after `backward`
    /// on a stage without the embedding: the gradient of its input.
    public func residualGradient(batch B: Int) -> UnsafeMutablePointer<Float> { scratch(B).dboundary }

    /// Token ids of one microbatch of B sequences as `forward` and `backward` read them: a
    /// decoder's (B, T); an encoder-decoder's (B, S) inputs, (B, T) decoder inputs, then the B
    /// inputs' lengths (1...S; positions past a length are padding).
    public func inputCount(batch B: Int) -> Int {
        dims.encoder == nil ? B * dims.blockSize : B * (dims.encoderBlockSize + dims.blockSize + 1)
    }

    private func scratch(_ B: Int) -> GPTGradientScratch {
        if let scratch, scratch.B == B { return scratch }
        let made = GPTGradientScratch(dims: dims, partition: partition, B: B, T: dims.blockSize)
        scratch = made
        return made
    }

    /// What the blocks of `layer`'s stack read: its positions and mask, the encoder's padding, the
    /// relative position bias from the stage boundary's table (its gradient into `boundaryGradient`'s).
    private func stack(_ acts: GPTActivations, layer: Int, tokens: UnsafePointer<Int32>, T: Int,
                       boundaryGradient: FloatPointer? = nil, cross: CrossSource? = nil) -> StackContext {
        let encoder = dims.isEncoderLayer(layer), B = acts.B
        var bias: RelativePositionBias?, biasGradient: FloatPointer?
        if let buckets = relativeBuckets {
            let slot = acts.boundary.table(layer: layer, dims: dims)
            bias = RelativePositionBias(table: acts.encoded + slot.lowerBound, ld: dims.nHead / partition.tpSize,
                                        buckets: buckets[encoder || dims.encoder == nil ? 0 : 1])
            biasGradient = boundaryGradient.map { $0 + slot.lowerBound }
        }
        return StackContext(T: encoder ? dims.encoderBlockSize : T, mask: encoder ? .none : .causal,
                            keyLengths: encoder ? inputLengths(tokens, B: B) : nil, bias: bias,
                            biasGradient: biasGradient, cross: cross)
    }

    /// An encoder-decoder's input lengths inside a microbatch's tokens (see `inputCount`).
    private func inputLengths(_ tokens: UnsafePointer<Int32>, B: Int) -> UnsafePointer<Int32> {
        tokens + B * (dims.encoderBlockSize + dims.blockSize)
    }

    /// The cross-attention's source for this stage's decoder blocks: on the stage holding the first
    /// decoder layer, the encoder's final norm of its last residual (`encoderStream`); on later
    /// stages, what arrived in the boundary. Rounded to bf16 once under bf16 compute. `computing`
    /// in the forward (the norm and the rounding run); the backward reads what the forward left.
    private func crossSource(_ acts: GPTActivations, block i: Int, layer: Int, encoderStream: ConstFloatPointer,
                             tokens: UnsafePointer<Int32>, gradient: FloatPointer? = nil,
                             computing: Bool) -> CrossSource {
        let BS = acts.B * dims.encoderBlockSize, C = dims.nEmbd
        var output = encoderStream
        if layer == dims.encoderLayers {
            output = UnsafePointer(acts.encoderOutput)
            if computing {
                let w = BlockView(store.values, blockOffsets[i])
                normForward(acts.encoderOutput, acts.encoderOutputMean, acts.encoderOutputRstd, encoderStream,
                            w[.encoderNormWeight]!, w[.encoderNormBias], N: BS, C: C)
            }
        }
        var saved = SavedTensor(UnsafeMutablePointer(mutating: output), floats: BS * C, bf16: false)
        if case .bf16(let half) = acts.crossInput.storage {
            if computing { convertToHalf(.bf16, output, half, count: BS * C) }
            saved = acts.crossInput
        }
        return CrossSource(output: saved, S: dims.encoderBlockSize, keyLengths: inputLengths(tokens, B: acts.B),
                           gradient: gradient)
    }

    /// The residual stream block i read: the stack's previous block's output on this stage, or the
    /// stack's stream in the stage input.
    private func blockInput(_ acts: GPTActivations, block i: Int) -> ConstFloatPointer {
        let layer = partition.layers.lowerBound + i
        if i > 0 && dims.isEncoderLayer(layer - 1) == dims.isEncoderLayer(layer) {
            return UnsafePointer(staging.widen(acts.blocks[i - 1].residual3,
                                               count: acts.B * dims.positions(layer) * dims.nEmbd, as: .blockResidual))
        }
        let stream = dims.isEncoderLayer(layer) ? acts.boundary.encoder! : acts.boundary.decoder
        return UnsafePointer(acts.encoded + stream.lowerBound)
    }

    /// Runs B sequences of T ≤ block_size tokens through this rank's layers. On the last stage with
    /// targets, returns the summed token losses (equal on every tensor rank; a negative target is
    /// ignored) and keeps what backward needs; without targets, leaves this rank's logit columns
    /// for `fullLogits`. Other stages return 0 and leave their output in `stageOutput`.
    /// An encoder-decoder reads its tokens as `inputCount` says and runs full blocks only.
    /// `dloss`, when the backward that follows will take the same uniform dloss: the head's
    /// backward runs here, so the backward need not recompute the logits.
    @discardableResult
    public func forward(_ acts: GPTActivations, tokens: UnsafePointer<Int32>,
                        targets: UnsafePointer<Int32>?, T: Int? = nil,
                        dropout: DropoutContext? = nil, dloss: Float? = nil) throws(MPIError) -> Double {
        let B = acts.B, T = T ?? acts.T, C = dims.nEmbd, S = dims.encoderBlockSize
        precondition(T <= acts.T && (targets == nil || T == acts.T) && (dims.encoder == nil || T == acts.T),
                     "forward over \(T) tokens with activations for \(acts.T); training needs full blocks")
        let BT = B * T, io = acts.boundary
        let p = store.values
        if partition.hasEmbedding, let wte {
            try embed(acts, tokens: tokens, wte: p + wte, T: T, dropout: dropout)
        }
        let branch = branchOutput.take(B * max(T, S) * C)
        // The residual streams run in fp32; each block keeps its own in the compute precision for backward.
        var encoderStream = UnsafePointer(acts.encoded + (io.encoder?.lowerBound ?? 0))
        var decoderStream = UnsafePointer(acts.encoded + io.decoder.lowerBound)
        var cross: CrossSource?
        for (i, l) in partition.layers.enumerated() {
            if relativeBuckets != nil && l == dims.stackStart(l) {
                // The stack's table travels with the boundary from here on (see StageBoundary).
                let slot = io.table(layer: l, dims: dims)
                (acts.encoded + slot.lowerBound).update(from: BlockView(p, blockOffsets[i])[.relativeBias]!, count: slot.count)
            }
            if dims.isEncoderLayer(l) {
                encoderStream = try blockForward(i, layer: l, acts.blocks[i], input: encoderStream, B: B,
                                                 stack: stack(acts, layer: l, tokens: tokens, T: T), branch: branch,
                                                 dropout: dropout, routes: targets != nil)
                continue
            }
            if dims.encoder != nil && cross == nil {
                cross = crossSource(acts, block: i, layer: l, encoderStream: encoderStream, tokens: tokens, computing: true)
                if l == dims.encoderLayers { encoderStream = UnsafePointer(acts.encoderOutput) }
            }
            decoderStream = try blockForward(i, layer: l, acts.blocks[i], input: decoderStream, B: B,
                                             stack: stack(acts, layer: l, tokens: tokens, T: T, cross: cross),
                                             branch: branch, dropout: dropout, routes: targets != nil)
        }
        acts.headDloss = nil
        guard let headWeight, let lnfw else {
            if io.sendsCopy {
                let out = acts.boundaryOutput
                if let encoder = io.encoder { (out + encoder.lowerBound).update(from: encoderStream, count: encoder.count) }
                (out + io.decoder.lowerBound).update(from: decoderStream, count: io.decoder.count)
                for slot in io.tables { (out + slot.lowerBound).update(from: acts.encoded + slot.lowerBound, count: slot.count) }
            }
            return 0
        }
        let V = partition.vocabShard(dims)
        staging.keep(acts.lnf, count: BT * C, as: .linearInput) {
            normForward($0, acts.lnfMean, acts.lnfRstd, decoderStream, p + lnfw, lnfb.map { p + $0 }, N: BT, C: C)
        }
        guard let targets else {
            linears.forward(acts.sampledLogits.take(B * acts.T * V), acts.lnf, p + headWeight, nil, BT: BT, C: C, OC: V)
            return 0
        }
        return try headLoss(acts, targets: targets, BT: BT, dloss: dloss)
    }

    /// The first stage's embeddings: the vocabulary-parallel token embedding (each rank adds the
    /// rows it holds; one rank adds the position embedding, so the sum counts it once), of a
    /// decoder's tokens, or of an encoder-decoder's inputs and decoder inputs.
    private func embed(_ acts: GPTActivations, tokens: UnsafePointer<Int32>, wte: ConstFloatPointer, T: Int,
                       dropout: DropoutContext?) throws(MPIError) {
        let B = acts.B, C = dims.nEmbd, io = acts.boundary, p = store.values
        let (start, count) = (partition.vocabStart(dims), partition.validVocab(dims))
        var rows = 0
        if let encoder = io.encoder {
            let S = dims.encoderBlockSize
            embeddingForward(acts.encoded + encoder.lowerBound, tokens, wte, nil, B: B, T: S, C: C,
                             vocabStart: start, vocabCount: count)
            rows = B * S
        }
        embeddingForward(acts.encoded + io.decoder.lowerBound, tokens + rows, wte,
                         tensor.rank == 0 ? wpe.map { UnsafePointer(p + $0) } : nil, B: B, T: T, C: C,
                         vocabStart: start, vocabCount: count)
        try tensor.reduceFromRegion(acts.encoded, count: (rows + B * T) * C)
        guard let dropout else { return }
        if io.encoder != nil {
            dropOut(acts.encoded, acts.encoded, dropout, site: 0, B: B, T: dims.encoderBlockSize)
            let decoder = acts.encoded + io.decoder.lowerBound
            dropOut(decoder, decoder, dropout, site: 1, B: B, T: T)
        } else {
            dropOut(acts.encoded, acts.encoded, dropout, site: 0, B: B, T: T)
        }
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
        let B = acts.B, T = acts.T, C = dims.nEmbd, BT = B * T, S = dims.encoderBlockSize
        let s = scratch(B), io = acts.boundary
        let p = store.values, g = store.grads
        let dDecoder = s.dboundary + io.decoder.lowerBound
        let dEncoder = io.encoder.map { s.dboundary + $0.lowerBound }
        if let lnfw {
            let dlnf = headBackward(acts, targets: targets, dloss: dloss, tokenWeights: tokenWeights)
            try tensor.copyToRegionBackward(dlnf, count: BT * C)
            // Nothing reaches the encoder's stream or the tables but through the blocks.
            s.dboundary.update(repeating: 0, count: io.count)
            normBackward(dDecoder, g + lnfw, lnfb.map { g + $0 }, dlnf, acts.stageOutput, p + lnfw,
                         acts.lnfMean, acts.lnfRstd, N: BT, C: C)
        }
        // The encoder output's gradient from this stage's decoder blocks, summed over the tensor
        // group once (each rank's key-value products see only its heads).
        let firstDecoderLayer = dims.encoder == nil ? nil : partition.layers.first { !dims.isEncoderLayer($0) }
        if firstDecoderLayer != nil { s.dencoderPartial.update(repeating: 0, count: B * S * C) }
        var cross: CrossSource?
        for (i, l) in partition.layers.enumerated().reversed() {
            let a = acts.blocks[i], input = blockInput(acts, block: i)
            if dims.isEncoderLayer(l) {
                try blockBackward(i, layer: l, a, input: input, dresidual: dEncoder!, B: B,
                                  stack: stack(acts, layer: l, tokens: tokens, T: T, boundaryGradient: s.dboundary),
                                  scratch: s, dloss: dloss, dropout: dropout)
            } else {
                if let firstDecoderLayer, cross == nil {
                    let received = UnsafePointer(acts.encoded + io.encoder!.lowerBound)
                    cross = crossSource(acts, block: i, layer: firstDecoderLayer, encoderStream: received, tokens: tokens,
                                        gradient: s.dencoderPartial, computing: false)
                }
                try blockBackward(i, layer: l, a, input: input, dresidual: dDecoder, B: B,
                                  stack: stack(acts, layer: l, tokens: tokens, T: T, boundaryGradient: s.dboundary,
                                               cross: cross),
                                  scratch: s, dloss: dloss, dropout: dropout)
                if l == firstDecoderLayer {
                    try finishEncoderGradient(acts, block: i, layer: l, dEncoder: dEncoder!, scratch: s)
                }
            }
            if relativeBuckets != nil && l == dims.stackStart(l) {
                let slot = io.table(layer: l, dims: dims), dtable = BlockView(g, blockOffsets[i])[.relativeBias]!
                for j in 0..<slot.count { dtable[j] += s.dboundary[slot.lowerBound + j] }
            }
            blockDone(l)
        }
        guard let wte, partition.hasEmbedding else { return }
        if let dEncoder {
            if let dropout {
                dropOut(dEncoder, dEncoder, dropout, site: 0, B: B, T: S)
                dropOut(dDecoder, dDecoder, dropout, site: 1, B: B, T: T)
            }
            embeddingBackward(g + wte, nil, dEncoder, tokens, B: B, T: S, C: C,
                              vocabStart: partition.vocabStart(dims), vocabCount: partition.validVocab(dims))
            embeddingBackward(g + wte, nil, dDecoder, tokens + B * S, B: B, T: T, C: C,
                              vocabStart: partition.vocabStart(dims), vocabCount: partition.validVocab(dims))
            return
        }
        if let dropout { dropOut(dDecoder, dDecoder, dropout, site: 0, B: B, T: T) }
        embeddingBackward(g + wte, wpe.map { g + $0 }, dDecoder, tokens, B: B, T: T, C: C,
                          vocabStart: partition.vocabStart(dims), vocabCount: partition.validVocab(dims))
    }

    /// After the stage's first decoder block's backward: the encoder output's gradient from this
    /// stage's decoder blocks, summed over the tensor group, joins what later stages sent; on the
    /// stage holding the first decoder layer it then goes through the encoder's final norm, so the
    /// encoder stream's gradient becomes its last residual's.
    private func finishEncoderGradient(_ acts: GPTActivations, block i: Int, layer: Int, dEncoder: FloatPointer,
                                       scratch s: GPTGradientScratch) throws(MPIError) {
        let BS = acts.B * dims.encoderBlockSize, C = dims.nEmbd
        try tensor.sum(s.dencoderPartial, count: BS * C)
        for j in 0..<BS * C { s.dencoderPartial[j] += dEncoder[j] }
        guard layer == dims.encoderLayers else {
            dEncoder.update(from: s.dencoderPartial, count: BS * C)
            return
        }
        // The norm's input: the encoder's last residual, from this stage's last encoder block or the boundary.
        let residual: ConstFloatPointer = i > 0 ? UnsafePointer(acts.blocks[i - 1].residual3.fp32)
            : UnsafePointer(acts.encoded + acts.boundary.encoder!.lowerBound)
        let w = BlockView(store.values, blockOffsets[i]), dw = BlockView(store.grads, blockOffsets[i])
        dEncoder.update(repeating: 0, count: BS * C)
        normBackward(dEncoder, dw[.encoderNormWeight]!, dw[.encoderNormBias], s.dencoderPartial, residual,
                     w[.encoderNormWeight]!, acts.encoderOutputMean, acts.encoderOutputRstd, N: BS, C: C)
    }

    /// Runs `backward` (which adds this microbatch's qkv gradients) and, where kv heads are copied
    /// on several tensor ranks, sums their key and value gradients over the copies: each copy saw
    /// only its own query heads. Each rank puts this microbatch's contribution in its head's slot of
    /// a buffer of every kv head, and one all-reduce over the tensor group sums each slot.
    func summingReplicatedKV(block i: Int, grads dw: BlockView, _ backward: () -> Void) throws(MPIError) {
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
    func normBackward(_ dinp: FloatPointer, _ dweight: FloatPointer, _ dbias: FloatPointer?,
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
