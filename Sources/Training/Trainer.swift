import Checkpoint
import Config
import Data
import FileSystem
import Foundation
import Kernels
import Model
import MPI
import Parallel

/// The core step and the loop, for any objective: per step, each replica runs the objective's
/// microbatches forward and backward, gradients are summed across replicas while backward runs,
/// then clip, loss scaling, AdamW; the objective turns the losses into its loss and evaluates,
/// `RunReport` tells, checkpoints are saved. `TrainingRun` builds it and loads its weights.
public final class Trainer {
    let setup: TrainingSetup
    let groups: ProcessGroups
    let model: GPT
    let optimizer: AdamW
    let sync: GradientSync
    /// Expert gradients are summed only across the ranks holding the same experts.
    let expertSync: GradientSync
    /// Gradient buckets (flat ranges) for `sync` and for `expertSync`, the same on every replica.
    let denseBuckets: [Range<Int>], expertBuckets: [Range<Int>]
    /// The elements whose summed gradients this rank holds and whose parameters it updates: all
    /// of them, or with ZeRO-1 its share of every bucket.
    let owned: [Range<Int>]
    let schedule: LearningRateSchedule
    let pipeline: PipelineRunner
    /// What is optimized (`train.objective`), and what it shares with the core step.
    let objective: any TrainingObjective
    let context: ObjectiveContext
    /// Flat gradient ranges that count toward the global norm: replicated tensors once per
    /// replica (tensor rank 0; the tied embedding on the first stage only), dense and expert
    /// parameters apart (experts are spread over the expert group, dense ones replicated by it).
    private let normRanges: (dense: [Range<Int>], experts: [Range<Int>])
    /// Aborts the job with a report when an operation hangs.
    let watchdog: Watchdog
    /// The objective's fields of the last step's metrics row.
    private var lastObjectiveFields: [(key: String, value: MetricValue)] = []
    /// fp16 gradients only: the loss scale and the record of skipped steps.
    var scaler: LossScaler?
    /// The first step to run: 1, or the step after a resumed checkpoint.
    var startStep = 1
    /// A test hook (`TESSERA_INJECT_OVERFLOW=STEP:RANK`): that rank's gradients become infinite once,
    /// at that step, as an fp16 overflow would make them.
    private var injectedOverflow: (step: Int, rank: Int)?
    /// A trainer used without `run` (gradient checks, benchmarks) still stops its watchdog before
    /// the caller can finalize MPI.
    deinit { watchdog.stop() }

    var config: TesseraConfig { setup.config }
    var degrees: ParallelDegrees { setup.degrees }
    var isLogger: Bool { groups.world.rank == 0 }

    public init(setup: TrainingSetup, groups: ProcessGroups) throws {
        self.setup = setup
        self.groups = groups
        let config = setup.config, layout = groups.layout
        let partition = GPTPartition(layout: layout, dims: setup.dims)
        model = GPT(dims: setup.dims, partition: partition, tensor: TensorParallelGroup(groups.tensor),
                    experts: ExpertParallelGroup(groups.expert), compute: config.precision.compute,
                    seed: UInt64(config.run.seed))
        let grads = UnsafeMutableBufferPointer(start: model.store.grads, count: model.store.count)
        let wire: WireFormat = switch config.precision.gradAllreduce {
        case .fp32: .fp32
        case .bf16: .half(.bf16)
        case .fp16: .half(.fp16)
        }
        let sharded = config.parallel.zero == 1
        sync = try GradientSync(group: groups.data, grads: grads, wire: wire, sharded: sharded)
        expertSync = try GradientSync(group: groups.expertReplicas, grads: grads, wire: wire, sharded: sharded)
        let gpt = model
        denseBuckets = partition.layers.map { gpt.blockRange($0) } + gpt.nonBlockRanges
        expertBuckets = partition.layers.map { gpt.expertRange($0) }.filter { !$0.isEmpty }
        let (sync, expertSync) = (sync, expertSync)
        owned = (denseBuckets.flatMap { sync.ownedRanges(of: $0) } + expertBuckets.flatMap { expertSync.ownedRanges(of: $0) })
            .sorted { $0.lowerBound < $1.lowerBound }
        optimizer = AdamW(store: model.store, owned: owned, beta1: Float(config.train.beta1),
                          beta2: Float(config.train.beta2), weightDecay: Float(config.train.weightDecay))
        if wire == .half(.fp16) {
            switch config.precision.lossScale {
            case .dynamic: scaler = LossScaler(scale: 65536, isDynamic: true)
            case .fixed(let scale): scaler = LossScaler(scale: scale, isDynamic: false)
            case .none: scaler = nil
            }
        }
        if let hook = ProcessInfo.processInfo.environment["TESSERA_INJECT_OVERFLOW"] {
            let parts = hook.split(separator: ":").compactMap { Int($0) }
            if parts.count == 2 { injectedOverflow = (parts[0], parts[1]) }
        }
        schedule = LearningRateSchedule(maxLR: config.train.lr, minLR: config.train.minLR,
                                        warmupSteps: config.train.warmupSteps,
                                        totalSteps: config.train.lrDecaySteps == 0 ? config.train.steps : config.train.lrDecaySteps)
        watchdog = try Watchdog(world: groups.world, deadline: Watchdog.deadlineFromEnvironment())
        let plan = PipelinePlan(schedule: config.parallel.schedule, stage: layout.ppIndex, stages: layout.pp,
                                microbatches: setup.degrees.microbatches)
        pipeline = PipelineRunner(model: model, plan: plan, pipeline: groups.pipeline,
                                  microbatchSize: setup.degrees.microbatchSize)
        context = ObjectiveContext(config: config, degrees: setup.degrees, groups: groups, pipeline: pipeline, model: model)
        objective = makeObjective(setup, context)
        let store = gpt.store
        let counted = store.specs.indices.filter { i in
            let spec = store.specs[i]
            let tiedCopy = spec.name == GPTParameterName.tokenEmbedding && !partition.hasEmbedding
            // Each slice counted once: on every rank that splits it, on the first of its copies.
            return !tiedCopy && partition.tpRank % (partition.tpSize / min(spec.shards, partition.tpSize)) == 0
        }.map { store.range(of: $0) }
        let owned = owned
        let countedOwned = counted.flatMap { range in owned.map { $0.clamped(to: range) }.filter { !$0.isEmpty } }
        normRanges = (merged(countedOwned.filter { !gpt.isExpert($0.lowerBound) }),
                      merged(countedOwned.filter { gpt.isExpert($0.lowerBound) }))
    }

    /// Runs every step; returns when training is complete and model.h5 is written.
    public func run() throws {
        let report = try RunReport(setup: setup, groups: groups, startStep: startStep)
        try report.startup(model: model, pipeline: pipeline, optimizer: optimizer)
        let steps = config.train.steps, evalEvery = config.train.evalEvery, every = config.checkpoint.every
        let heldOut = HeldOutEvaluation(sets: setup.heldOut, context: context)
        if objective.evaluatesStart, startStep == 1, evalEvery > 0 {
            try report.evaluation(0, objective.evaluate(step: 0))
        }
        var step = startStep
        while step <= steps {
            let stepStart = MPIEnvironment.wallTime(), stepCPUStart = processCPUSeconds()
            _ = (pipeline.computeTime.take(), model.tensor.communicationTime.take(), model.expertCommunicationTime?.take())
            watchdog.enter(.forwardBackward, step: step)
            let loss = try computeGradients(step: step)
            let gradientSeconds = MPIEnvironment.wallTime() - stepStart
            guard loss.isFinite else {  // every rank sees the same all-reduced loss and stops alike
                report.alarms.observe([("step", .int(step)), ("loss", .number(loss))])
                report.alarms.finish()
                throw RunError("loss is \(loss) at step \(step) (fp32); lower train.lr or check the data",
                               seenByEveryRank: true)
            }
            watchdog.enter(.gradientNorm, step: step)
            let (gradNorm, gradScale) = try clipping()
            if scaler?.record(overflow: !gradNorm.isFinite) == true {
                // Skipped: same step and batch again at the lower scale; nothing was updated.
                model.store.zeroGrads()
                guard scaler!.scale >= 0x1p-24 else {
                    throw RunError("fp16 gradients overflow at every loss scale down to 2^-24 at step \(step)",
                                   seenByEveryRank: true)
                }
                continue
            }
            let lr = schedule.rate(atStep: step)
            watchdog.enter(.optimizer, step: step)
            try update(step: step, lr: lr, gradScale: gradScale)
            let seconds = MPIEnvironment.wallTime() - stepStart
            if step > 1 || steps == 1 {  // the first step also warms caches and allocators
                report.record(RunReport.StepTimes(
                    compute: pipeline.computeTime.take(), tensor: model.tensor.communicationTime.take(),
                    expert: model.expertCommunicationTime?.take() ?? 0, gradients: gradientSeconds, step: seconds,
                    cpu: processCPUSeconds() - stepCPUStart))
            }
            try report.step(step, loss: loss, lr: lr, gradNorm: gradNorm, seconds: seconds, fields: stepFields(),
                            logged: step % config.train.logEvery == 0 || step == steps)
            if evalEvery > 0 && (step % evalEvery == 0 || step == steps) {
                watchdog.enter(.evaluation, step: step)
                try report.evaluation(step, objective.evaluate(step: step))
            }
            let due = heldOut.due(step)
            if !due.isEmpty {
                watchdog.enter(.evaluation, step: step)
                try report.evaluation(step, heldOut.evaluate(due, step: step))
            }
            let saves = step == steps || (every > 0 && step % every == 0)
            if saves {
                watchdog.enter(.checkpoint, step: step)
                try saveCheckpoint(step: step)
            }
            if let stop = try report.alarms.agreedStop() {
                try end(stop, step: step, checkpointSaved: saves, report: report)
            }
            step += 1
        }
        watchdog.enter(.export, step: steps)
        try report.finish()
        defer { watchdog.stop() }
        let runDir = config.run.dir
        // The last step's checkpoint already holds model.h5 (rank 0 wrote it): link to it rather
        // than gather and write every parameter again.
        let saved = CheckpointFolder(runDirectory: runDir).path(step: steps) + "/model.h5"
        let linked = isLogger && FileManager.default.fileExists(atPath: saved)
        if try groups.world.allReduce(Int64(linked ? 1 : 0), op: .max) == 1 {
            if isLogger { try replaceByLink(runDir + "/model.h5", to: saved) }
            try groups.world.barrier()
        } else {
            try ModelExport.write(model: model, setup: setup, groups: groups, step: steps, path: runDir + "/model.h5")
        }
    }

    /// Forward and backward over this replica's microbatches, gradients summed across replicas
    /// (and between the two copies of the tied embedding); returns the global mean loss. Gradients
    /// must start at zero (AdamW consumes them).
    public func computeGradients(step: Int) throws -> Double {
        let tokens = objective.lossTokens(step: step)
        let dloss = Float((scaler?.scale ?? 1) / Double(tokens ?? config.train.batchSize * config.model.blockSize))
        let batch = objective.trainingBatch(step: step)
        let lossSum = try pipeline.train(batch, dloss: dloss) { layer in
            sync.reduce(model.blockRange(layer))
            expertSync.reduce(model.expertRange(layer))
        }
        // Embeddings and the final norm complete last.
        for range in model.nonBlockRanges { sync.reduce(range) }
        watchdog.enter(.gradientSync, step: step)
        try sync.finish()
        try expertSync.finish()
        if let embedding = groups.embedding, let range = model.tiedEmbeddingRange {
            // Both stages' copies share one bucket layout, so they own the same elements.
            for piece in sync.ownedRanges(of: range) {
                try embedding.allReduce(UnsafeMutableBufferPointer(rebasing: gradients[piece]), op: .sum)
            }
        }
        if let hook = injectedOverflow, hook.step == step, hook.rank == groups.world.rank {
            gradients[0] = .infinity
            injectedOverflow = nil
        }
        let (tokenLoss, routing) = try context.globalTotals(lossSum, routing: model.takeRoutingTotals(), tokens: tokens)
        lastRouting = routing
        let result = try objective.stepResult(tokenLoss: tokenLoss)
        lastObjectiveFields = result.fields
        return result.loss
    }

    /// AdamW on the owned elements; with ZeRO-1 the updated shares are then gathered.
    private func update(step: Int, lr: Double, gradScale: Float) throws {
        optimizer.update(lr: Float(lr), step: step, gradScale: gradScale)
        if sync.isSharded {
            // The optimizer consumed the owned gradients; the rest were never summed.
            for gap in gaps(in: 0..<model.store.count, outside: owned) {
                (model.store.grads + gap.lowerBound).update(repeating: 0, count: gap.count)
            }
            try sync.gatherParameters(model.store.values, buckets: denseBuckets)
            try expertSync.gatherParameters(model.store.values, buckets: expertBuckets)
        }
        model.parametersChanged()
    }

    /// The train row's fields past the common ones: the loss scale (fp16), the objective's, the
    /// routing figures (experts).
    private func stepFields() -> [(key: String, value: MetricValue)] {
        var fields: [(key: String, value: MetricValue)] = []
        if let scaler { fields += [("loss_scale", .number(scaler.scale)), ("skipped_steps", .int(scaler.skippedSteps))] }
        fields += lastObjectiveFields
        if let routing = lastRouting {
            fields += [("aux_loss", .number(routing.auxLoss)), ("dropped_fraction", .number(routing.droppedFraction)),
                       ("expert_load_min", .int(routing.minLoad)), ("expert_load_max", .int(routing.maxLoad))]
        }
        return fields
    }

    /// Before the first step, from the starting weights (DPO's reference log-probabilities).
    public func prepareObjective() throws { try objective.prepare() }

    /// The last step's routing figures over the global batch (mixture-of-experts models).
    private(set) var lastRouting: RoutingFigures?

    /// On world rank 0, the full gradient tensors assembled from every rank's shards (after
    /// `computeGradients`); nil elsewhere. Every rank must call it.
    public func gatherGradients() throws -> FullTensors? {
        try ParameterGather.gather(.gradients, model: model, groups: groups)
    }

    /// The gradients this rank holds, in the parameter store's layout.
    public var gradients: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: model.store.grads, count: model.store.count)
    }

    /// Global gradient norm before clipping (non-finite when any rank's gradients overflowed), and
    /// the factor the optimizer applies as it reads the gradients: the clipping factor that brings
    /// the norm down to `grad_clip` (1 when below), divided by the loss scale.
    private func clipping() throws -> (norm: Double, scale: Float) {
        let grads = model.store.grads
        func sum(_ ranges: [Range<Int>]) -> Double {
            ranges.reduce(0) { $0 + sumOfSquares(grads + $1.lowerBound, N: $1.count) }
        }
        // Summed over the world: every dense value is held by dp replicas alike, every expert
        // value by dp / ep of them, unless ZeRO-1 gave each value to one of them.
        var squares = [sum(normRanges.dense), sum(normRanges.experts)]
        try groups.world.allReduce(&squares, op: .sum)
        let (denseCopies, expertCopies) = sync.isSharded ? (1.0, 1.0) : (Double(degrees.dp), Double(degrees.dp / degrees.ep))
        // Gradients carry the loss scale (fp16): the norm is reported, clipped and applied unscaled.
        let lossScale = scaler?.scale ?? 1
        let norm = (squares[0] / denseCopies + squares[1] / expertCopies).squareRoot() / lossScale
        let clip = config.train.gradClip
        return (norm, Float((clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1) / lossScale))
    }

}

/// A failure during the run: the job stops with exit 1.
public struct RunError: Error, CustomStringConvertible {
    public let description: String
    /// Every rank found the same failure at the same point (e.g. the all-reduced loss), so the ranks
    /// can stop together, reported once, instead of aborting the job.
    public let seenByEveryRank: Bool

    public init(_ description: String, seenByEveryRank: Bool = false) {
        self.description = description
        self.seenByEveryRank = seenByEveryRank
    }
}

/// One line of progress on standard error.
public func progress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m"
        : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
}

/// Mixture-of-experts routing over one step's global batch.
struct RoutingFigures {
    /// Mean over sequences of the balancing loss summed over layers (E · Σ f·P; 1 when balanced).
    let auxLoss: Double
    /// Share of (token, choice) assignments dropped for lack of capacity.
    let droppedFraction: Double
    /// Fewest and most tokens any expert of any layer took.
    let minLoad: Int, maxLoad: Int
}

/// The parts of `whole` not covered by `ranges` (sorted, disjoint).
func gaps(in whole: Range<Int>, outside ranges: [Range<Int>]) -> [Range<Int>] {
    var result: [Range<Int>] = [], start = whole.lowerBound
    for range in ranges {
        if range.lowerBound > start { result.append(start..<range.lowerBound) }
        start = max(start, range.upperBound)
    }
    if start < whole.upperBound { result.append(start..<whole.upperBound) }
    return result
}

/// Adjacent ranges joined.
func merged(_ ranges: [Range<Int>]) -> [Range<Int>] {
    ranges.reduce(into: []) { result, range in
        if let previous = result.last, previous.upperBound == range.lowerBound {
            result[result.count - 1] = previous.lowerBound..<range.upperBound
        } else {
            result.append(range)
        }
    }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2]
        : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func formatBytes(_ bytes: Double) -> String {
    bytes >= 0x1p30 ? String(format: "%.2f GiB", bytes / 0x1p30)
        : bytes >= 0x1p20 ? String(format: "%.1f MiB", bytes / 0x1p20)
        : String(format: "%.1f KiB", bytes / 1024)
}

func formatCount(_ n: Int) -> String {
    n >= 1_000_000 ? String(format: "%.2fM", Double(n) / 1e6)
        : n >= 1_000 ? String(format: "%.1fk", Double(n) / 1e3) : "\(n)"
}
