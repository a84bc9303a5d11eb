import Config
import Kernels
import Model
import Parallel

/// What the cost model expects of one layout.
public struct Prediction: Sendable {
    public let layout: PlannedLayout
    public let stepSeconds: Double
    public let tokensPerSecond: Double
    /// Model FLOPs utilisation as the trainer reports it (FLOPs per token × tokens/s), over the
    /// best measured sgemm rate times the cores in use.
    public let mfu: Double
    /// The most any rank holds: parameters, gradients, AdamW moments, activations in flight.
    public let memoryBytes: Double
    /// Pipeline fill and drain, as a share of the step.
    public let bubbleShare: Double
    /// Share of the step that communication adds (the step against the same step with free links).
    public let communicationShare: Double
}

/// Predicts a layout's step time, memory and throughput from measured compute rates and link
/// costs. Pure arithmetic; how each part is modelled is said where it is computed.
public struct CostModel: Sendable {
    public let dims: GPTDimensions
    /// Sequences per optimizer step, all ranks together.
    public let batchSize: Int
    public let rates: ComputeRates
    public let cluster: Cluster
    /// `precision.compute`: what the activations and the weights' bf16 copy take (the rates must
    /// come from the same compute type).
    public let compute: ComputeType

    public init(dims: GPTDimensions, batchSize: Int, rates: ComputeRates, cluster: Cluster, compute: ComputeType = .fp32) {
        self.dims = dims
        self.batchSize = batchSize
        self.rates = rates
        self.cluster = cluster
        self.compute = compute
    }

    public func predict(_ layout: PlannedLayout) -> Prediction {
        let stages = (0..<layout.pp).map { StageWork(dims: dims, layout: layout, stage: $0, compute: compute) }
        let step = stepSeconds(layout, stages, cluster)
        let free = stepSeconds(layout, stages, Cluster(ranksPerNode: cluster.ranksPerNode, coresPerNode: cluster.coresPerNode,
                                                       intraNode: .free, interNode: .free))
        let tokens = Double(batchSize * dims.blockSize)
        let peak = rates.peakFlopsPerSecond * Double(cluster.cores(ranks: layout.degrees.worldSize))
        let (m, pp) = (Double(layout.microbatches), Double(layout.pp))
        return Prediction(
            layout: layout, stepSeconds: step, tokensPerSecond: tokens / step,
            mfu: dims.trainingFLOPsPerToken * tokens / step / peak,
            memoryBytes: stages.indices.map { memoryBytes(layout, stages[$0], stage: $0) }.max()!,
            bubbleShare: (pp - 1) / (m + pp - 1) * pipelineSeconds(layout, stages, cluster) / step,
            communicationShare: 1 - free / step)
    }

    /// The longer of two bounds. The critical path, with a core per rank: the pipeline's
    /// (m + pp − 1) slots, then the slowest stage's exposed gradient sync, optimizer and ZeRO
    /// gather, then the step's small all-reduces (loss, gradient norm, the tied embedding between
    /// the first and last stage). And the node's work: when a node has more ranks than cores, its
    /// ranks' busy time (everything but waiting in the bubble) shared over its cores.
    func stepSeconds(_ layout: PlannedLayout, _ stages: [StageWork], _ cluster: Cluster) -> Double {
        let d = layout.degrees, m = Double(layout.microbatches)
        let tails = stages.map { gradientSync($0, layout, cluster) }
        var critical = pipelineSeconds(layout, stages, cluster) + tails.map(\.critical).max()!
        critical += 2 * cluster.seconds(.allReduce, bytes: 16, group: worldGroup(d))
        if layout.pp > 1, let head = stages.last {
            let embedding = Double(head.partition.vocabShard(dims) * dims.nEmbd * 4)
            critical += cluster.seconds(.allReduce, bytes: embedding, group: embeddingGroup(d))
        }
        let busy = zip(stages, tails).map { stage, tail in
            m * (computeSeconds(stage, layout) + layerCommunication(stage, layout, cluster)) + tail.busy
        }
        let work = cluster.timeShare * busy.reduce(0, +) / Double(busy.count)
        return max(critical, work)
    }

    /// Forward and backward of every microbatch through the stages: (m + pp − 1) slots as long as
    /// the slowest stage's microbatch, each with one activation sent forward and one gradient
    /// sent back between neighbouring stages.
    func pipelineSeconds(_ layout: PlannedLayout, _ stages: [StageWork], _ cluster: Cluster) -> Double {
        let d = layout.degrees
        var slot = stages.map { computeSeconds($0, layout) + layerCommunication($0, layout, cluster) }.max()!
        if d.pp > 1 {
            let boundary = Double(d.microbatchSize * dims.blockSize * dims.nEmbd * 4)
            slot += 2 * cluster.seconds(.p2p, bytes: boundary, group: pipelineGroup(d))
        }
        return Double(d.microbatches + d.pp - 1) * slot
    }

    /// One microbatch's forward and backward on one core (ranks beyond the node's cores are the
    /// work bound's business).
    func computeSeconds(_ stage: StageWork, _ layout: PlannedLayout) -> Double {
        let tokens = layout.degrees.microbatchSize * dims.blockSize
        return 3 * stage.forwardGemmFlops / rates.gemmFlopsPerSecond(tokens: tokens, tp: layout.degrees.tp)
            + Double(stage.workFloats) * rates.secondsPerActivationFloat(tokens: tokens)
    }

    /// Communication inside one microbatch's forward and backward, which the compute waits for.
    /// Tensor parallel (Megatron): per block two all-reduces of the (B, T, C) residual branch
    /// forward and two backward; one more each way for the embedding on the first stage; the
    /// vocabulary-parallel softmax's row maxima and sums on the last, per block of rows. Expert parallel: per layer
    /// the tokens' rows (B·T·top_k of C floats) go to their experts and back, forward and backward.
    func layerCommunication(_ stage: StageWork, _ layout: PlannedLayout, _ cluster: Cluster) -> Double {
        let d = layout.degrees, B = d.microbatchSize, T = dims.blockSize, C = dims.nEmbd
        let layers = stage.partition.layers.count
        var seconds = 0.0
        if d.tp > 1 {
            let group = tensorGroup(d)
            let regions = 4 * layers + (stage.partition.hasEmbedding ? 2 : 0)
            seconds += Double(regions) * cluster.seconds(.allReduce, bytes: Double(B * T * C * 4), group: group)
            if stage.partition.hasHead {
                // Per block of rows: its maxima, then its sums and target logits.
                let rows = GPT.headRows(dims: dims, partition: stage.partition, rows: B * T)
                let blocks = (B * T + rows - 1) / rows
                seconds += Double(blocks) * (cluster.seconds(.allReduce, bytes: Double(rows * 4), group: group)
                    + cluster.seconds(.allReduce, bytes: Double(2 * rows * 4), group: group))
            }
        }
        if let experts = dims.experts, d.ep > 1 {
            let rows = Double(B * T * experts.topK * C * 4)
            seconds += Double(4 * layers) * cluster.seconds(.allToAll, bytes: rows, group: expertGroup(d))
        }
        return seconds
    }

    /// The data-parallel gradient sum and what follows it on one stage: Tessera's reduce-scatter
    /// (and all-gather unless sharded) of the wire bytes, whatever the payload; ZeRO-1 then
    /// all-gathers the updated fp32 parameters after the optimizer. Buckets are summed on a communication thread as backward
    /// goes: all but the last (embeddings, final norm) can hide behind the last microbatch's
    /// backward (two thirds of its compute), as far as the link overlaps (see `Cluster.overlap`).
    /// Returns the time it adds to the critical path and the time it keeps the rank busy.
    func gradientSync(_ stage: StageWork, _ layout: PlannedLayout, _ cluster: Cluster) -> (critical: Double, busy: Double) {
        let d = layout.degrees
        let wireBytes = Double(layout.wire == .fp32 ? 4 : 2)
        func sum(_ parameters: Int, _ group: [Int]) -> Double {
            let bytes = Double(parameters) * wireBytes
            return cluster.seconds(.reduceScatter, bytes: bytes, group: group)
                + (layout.zero ? 0 : cluster.seconds(.allGather, bytes: bytes, group: group))
        }
        let (dense, experts) = (dataGroup(d), expertReplicaGroup(d))
        let sync = sum(stage.denseParameters, dense) + sum(stage.expertParameters, experts)
        let layers = Double(stage.partition.layers.count)
        let window = 2.0 / 3 * computeSeconds(stage, layout) * cluster.overlap(crossesNodes: cluster.crossesNodes(dense))
        let exposed = max(sync - window, sync / (layers + 1))
        let owned = layout.zero ? Double(stage.denseParameters) / Double(d.dp) + Double(stage.expertParameters) / Double(experts.count)
            : Double(stage.denseParameters + stage.expertParameters)
        let optimizer = owned * rates.secondsPerParameter
        let gather = layout.zero ? cluster.seconds(.allGather, bytes: Double(stage.denseParameters * 4), group: dense)
            + cluster.seconds(.allGather, bytes: Double(stage.expertParameters * 4), group: experts) : 0
        return (exposed + optimizer + gather, sync + optimizer + gather)
    }

    /// Bytes the busiest rank of `stage` holds: fp32 parameters and gradients (and their bf16 copy
    /// under bf16 compute), AdamW's two moments for the parameters it updates (a 1/dp share of the
    /// dense ones with ZeRO-1, 1/(dp/ep) of the experts), and the activations of the microbatches
    /// the schedule keeps in flight there, and the buffers they share (the head's block of logits,
    /// a branch output, working copies).
    func memoryBytes(_ layout: PlannedLayout, _ work: StageWork, stage: Int) -> Double {
        let d = layout.degrees
        let held = Double(work.denseParameters + work.expertParameters)
        let owned = layout.zero ? Double(work.denseParameters) / Double(d.dp) + Double(work.expertParameters) / Double(d.dp / d.ep)
            : held
        let slots = PipelinePlan(schedule: layout.schedule, stage: stage, stages: d.pp, microbatches: d.microbatches)
            .activationSlots
        let weightCopy = compute == .bf16 ? 2 * held : 0
        return 4 * (2 * held + 2 * owned + Double(slots * work.activationFloats + work.workspaceFloats)) + weightCopy
    }

    // The groups of the first rank, through the trainer's rank arithmetic.
    private func group(_ d: ParallelDegrees, _ ranks: (Layout) -> [Int]) -> [Int] { ranks(Layout(degrees: d, rank: 0)) }
    func worldGroup(_ d: ParallelDegrees) -> [Int] { Array(0..<d.worldSize) }
    func tensorGroup(_ d: ParallelDegrees) -> [Int] { group(d) { l in (0..<d.tp).map { l.rank(pp: 0, dp: 0, tp: $0) } } }
    func dataGroup(_ d: ParallelDegrees) -> [Int] { group(d) { l in (0..<d.dp).map { l.rank(pp: 0, dp: $0, tp: 0) } } }
    func pipelineGroup(_ d: ParallelDegrees) -> [Int] { group(d) { l in (0..<d.pp).map { l.rank(pp: $0, dp: 0, tp: 0) } } }
    func embeddingGroup(_ d: ParallelDegrees) -> [Int] { group(d) { l in [0, d.pp - 1].map { l.rank(pp: $0, dp: 0, tp: 0) } } }
    /// dp indices 0..<ep share one layer's experts.
    func expertGroup(_ d: ParallelDegrees) -> [Int] { group(d) { l in (0..<d.ep).map { l.rank(pp: 0, dp: $0, tp: 0) } } }
    /// dp indices 0, ep, 2·ep, ... hold the same experts.
    func expertReplicaGroup(_ d: ParallelDegrees) -> [Int] {
        group(d) { l in stride(from: 0, to: d.dp, by: d.ep).map { l.rank(pp: 0, dp: $0, tp: 0) } }
    }
}

extension Cluster {
    /// Whether the ranks of `group` sit on more than one node.
    func crossesNodes(_ group: [Int]) -> Bool { Set(group.map { $0 / ranksPerNode }).count > 1 }

    /// Seconds for `collective` over `group`, on the links it needs.
    func seconds(_ collective: Collective, bytes: Double, group: [Int]) -> Double {
        (crossesNodes(group) ? interNode : intraNode).seconds(collective, bytes: bytes, ranks: group.count)
    }
}
