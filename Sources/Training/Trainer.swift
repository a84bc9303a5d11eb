import Checkpoint
import Config
import Data
import Foundation
import Kernels
import Model
import MPI
import Parallel

/// The training loop: per step, each replica runs its microbatches forward and backward,
/// gradients are summed across replicas while backward runs, then clip, AdamW, log.
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
    let sampler: BatchSampler
    let schedule: LearningRateSchedule
    let pipeline: PipelineRunner
    /// Flat gradient ranges that count toward the global norm: replicated tensors once per
    /// replica (tensor rank 0; the tied embedding on the first stage only), dense and expert
    /// parameters apart (experts are spread over the expert group, dense ones replicated by it).
    private let normRanges: (dense: [Range<Int>], experts: [Range<Int>])
    private var metrics: MetricsLog?
    /// Aborts the job with a report when an operation hangs.
    let watchdog: Watchdog
    /// The DPO objective, when `train.objective = "dpo"`.
    let preference: DirectPreference?
    /// The last step's DPO figures.
    private(set) var lastPreference: PreferenceFigures?
    /// fp16 gradients only: the loss scale and the record of skipped steps.
    var scaler: LossScaler?
    /// The first step to run: 1, or the step after a resumed checkpoint.
    var startStep = 1
    /// A test hook (`TESSERA_INJECT_OVERFLOW=STEP:RANK`): that rank's gradients become infinite once,
    /// at that step, as an fp16 overflow would make them.
    private var injectedOverflow: (step: Int, rank: Int)?
    /// Per-step shares of time: pipeline idle (outside forward and backward, of the part of the step
    /// before the optimizer, which ends in an all-reduce every rank joins) and tensor-parallel
    /// communication (of the whole step); medians reported at the end.
    private var idleShares: [Double] = [], tensorShares: [Double] = [], expertShares: [Double] = []
    /// Per-step wall time and communication share of it (tensor-parallel all-reduces and expert
    /// all-to-alls inside forward/backward, plus everything outside forward/backward before the
    /// optimizer: pipeline transfers and bubble, the wait for the gradient all-reduce, the loss
    /// all-reduce), and this process's CPU time per step (all its threads), for the summary at the end.
    private var stepSeconds: [Double] = [], communicationShares: [Double] = [], stepCPUSeconds: [Double] = []

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
        sampler = BatchSampler(corpus: setup.corpus, seed: config.run.seed, blockSize: config.model.blockSize,
                               batchSize: config.train.batchSize)
        schedule = LearningRateSchedule(maxLR: config.train.lr, minLR: config.train.minLR,
                                        warmupSteps: config.train.warmupSteps,
                                        totalSteps: config.train.lrDecaySteps == 0 ? config.train.steps : config.train.lrDecaySteps)
        watchdog = try Watchdog(world: groups.world, deadline: Watchdog.deadlineFromEnvironment())
        let plan = PipelinePlan(schedule: config.parallel.schedule, stage: layout.ppIndex, stages: layout.pp,
                                microbatches: setup.degrees.microbatches)
        pipeline = PipelineRunner(model: model, plan: plan, pipeline: groups.pipeline,
                                  microbatchSize: setup.degrees.microbatchSize)
        preference = setup.preferences.map {
            DirectPreference(pairs: $0, beta: config.train.dpoBeta, seed: config.run.seed,
                             batchSequences: config.train.batchSize, microbatchSequences: setup.degrees.microbatchSize,
                             slots: plan.activationSlots)
        }
        let store = gpt.store
        let counted = store.specs.indices.filter { i in
            let spec = store.specs[i]
            let tiedCopy = spec.name == GPTParameterName.tokenEmbedding && !partition.hasEmbedding
            return !tiedCopy && (spec.shards > 1 || partition.tpRank == 0)
        }.map { store.range(of: $0) }
        let owned = owned
        let countedOwned = counted.flatMap { range in owned.map { $0.clamped(to: range) }.filter { !$0.isEmpty } }
        normRanges = (merged(countedOwned.filter { !gpt.isExpert($0.lowerBound) }),
                      merged(countedOwned.filter { gpt.isExpert($0.lowerBound) }))
    }

    /// Runs every step; returns when training is complete and model.h5 is written.
    public func run() throws {
        let runDir = config.run.dir
        if isLogger {
            try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
            // A resumed run continues the file its checkpoint's run wrote.
            metrics = try MetricsLog(path: runDir + "/metrics.jsonl", append: startStep > 1,
                                     resumedAfter: startStep > 1 ? startStep - 1 : nil)
        }
        let utilisation = try Utilisation.establish(setup: setup, world: groups.world)
        try printStartup(utilisation)
        let steps = config.train.steps
        let tokensPerStep = Double(config.train.batchSize * config.model.blockSize)
        let started = MPIEnvironment.wallTime()
        if let preference, startStep == 1, config.train.evalEvery > 0 {
            // The initial policy's figures, for comparison with the trained one's.
            try logPreferenceEvaluation(preference, step: 0)
        }
        var step = startStep
        while step <= steps {
            let stepStart = MPIEnvironment.wallTime(), stepCPUStart = processCPUSeconds()
            _ = (pipeline.computeTime.take(), model.tensor.communicationTime.take(), model.expertCommunicationTime?.take())
            watchdog.enter(.forwardBackward, step: step)
            let loss = try computeGradients(step: step)
            let pipelineSeconds = MPIEnvironment.wallTime() - stepStart
            guard loss.isFinite else {  // every rank sees the same all-reduced loss and stops alike
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
            let seconds = MPIEnvironment.wallTime() - stepStart
            if step > 1 || steps == 1 {  // the first step also warms caches and allocators
                let compute = pipeline.computeTime.take(), tensor = model.tensor.communicationTime.take()
                let expert = model.expertCommunicationTime?.take() ?? 0
                idleShares.append(1 - compute / pipelineSeconds)
                tensorShares.append(tensor / seconds)
                expertShares.append(expert / seconds)
                communicationShares.append((tensor + expert + pipelineSeconds - compute) / seconds)
                stepSeconds.append(seconds)
                stepCPUSeconds.append(processCPUSeconds() - stepCPUStart)
            }
            if step % config.train.logEvery == 0 || step == steps {
                try log(step: step, loss: loss, lr: lr, gradNorm: gradNorm, seconds: seconds,
                        tokensPerStep: tokensPerStep, utilisation: utilisation,
                        elapsed: MPIEnvironment.wallTime() - started)
            }
            let evalEvery = config.train.evalEvery
            if evalEvery > 0 && (step % evalEvery == 0 || step == steps) {
                watchdog.enter(.evaluation, step: step)
                if let preference {
                    try logPreferenceEvaluation(preference, step: step)
                } else {
                    let valLoss = try evaluate()
                    if isLogger {
                        try metrics?.write(["step": .int(step), "val_loss": .number(valLoss)])
                        progress("step \(step)/\(steps) | val loss \(String(format: "%.4f", valLoss))")
                    }
                }
            }
            let every = config.checkpoint.every
            if step == steps || (every > 0 && step % every == 0) {
                watchdog.enter(.checkpoint, step: step)
                try saveCheckpoint(step: step)
            }
            step += 1
        }
        watchdog.enter(.export, step: steps)
        try printTimeShares()
        try printSummary(utilisation, tokensPerStep: tokensPerStep)
        defer { watchdog.stop() }
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

    /// Where the layout's time went, from every rank: each stage's idle share (the bubble, set
    /// against its theoretical value), the tensor-parallel communication share and the experts'
    /// all-to-all share.
    private func printTimeShares() throws {
        let d = degrees, layout = groups.layout
        let shares = try groups.world.allGather([median(idleShares), median(tensorShares), median(expertShares)])
        guard isLogger else { return }
        func percent(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
        if d.pp > 1 {
            let idle = (0..<d.pp).map { percent(shares[3 * layout.rank(pp: $0, dp: 0, tp: 0)]) }
            let theory = Double(d.pp - 1) / Double(d.microbatches + d.pp - 1)
            progress("tessera: pipeline idle per stage (median over steps): \(idle.joined(separator: ", ")); "
                + "bubble (pp − 1)/(microbatches + pp − 1) = \(percent(theory))")
        }
        if d.tp > 1 {
            let tensor = (0..<d.worldSize).map { shares[3 * $0 + 1] }
            progress("tessera: tensor-parallel communication: \(percent(median(tensor))) of step time (median over steps and ranks)")
        }
        if d.ep > 1 {
            let expert = (0..<d.worldSize).map { shares[3 * $0 + 2] }
            progress("tessera: expert-parallel all-to-all: \(percent(median(expert))) of step time (median over steps and ranks)")
        }
    }

    /// One line at the end from rank 0: median tokens/s and step time over the steps after the
    /// first, MFU at that rate, the communication share of step time (median over steps, then over
    /// ranks), the peak resident memory of the largest rank and the CPU time a step costs a rank
    /// (median over steps, mean over ranks: times ranks, the job's).
    private func printSummary(_ utilisation: Utilisation, tokensPerStep: Double) throws {
        let figures = try groups.world.allGather([median(communicationShares), peakResidentBytes(), median(stepCPUSeconds)])
        guard isLogger, !stepSeconds.isEmpty else { return }
        let stepTime = median(stepSeconds), tokensPerSecond = tokensPerStep / stepTime
        func perRank(_ figure: Int) -> [Double] { stride(from: figure, to: figures.count, by: 3).map { figures[$0] } }
        let communication = median(perRank(0)), memory = perRank(1).max()!
        let cpu = perRank(2).reduce(0, +) / Double(perRank(2).count)
        progress("tessera: summary: \(String(format: "%.0f", tokensPerSecond)) tokens/s, "
            + "\(String(format: "%.2f", stepTime * 1000)) ms/step (medians over steps), "
            + "MFU \(String(format: "%.2f", 100 * utilisation.mfu(tokensPerSecond: tokensPerSecond)))%, "
            + "communication \(String(format: "%.1f", 100 * communication))% of step time, "
            + "peak memory \(formatBytes(memory)) per rank (largest), "
            + "CPU \(String(format: "%.2f", cpu * 1000)) ms/step per rank (mean)")
    }

    /// Forward and backward over this replica's microbatches, gradients summed across replicas
    /// (and between the two copies of the tied embedding); returns the global mean loss. Gradients
    /// must start at zero (AdamW consumes them).
    public func computeGradients(step: Int) throws -> Double {
        let dloss = Float((scaler?.scale ?? 1) / Double(config.train.batchSize * config.model.blockSize))
        let batch = preference == nil ? microbatches(step: step, evaluationBatch: nil)
            : preferenceMicrobatches(scoring: true) { self.preference!.trainingPair(step: step, position: $0) }
        let lossSum = try pipeline.train(batch, dloss: dloss) { layer in
            sync.reduce(model.blockRange(layer))
            expertSync.reduce(model.expertRange(layer))
        }
        // Embeddings and the final norm complete last.
        for range in model.nonBlockRanges { sync.reduce(range) }
        watchdog.enter(.gradientSync, step: step)
        try sync.finish()
        try expertSync.finish()
        if let embedding = groups.embedding, let range = model.tokenEmbeddingRange {
            // Both stages' copies share one bucket layout, so they own the same elements.
            for piece in sync.ownedRanges(of: range) {
                try embedding.allReduce(UnsafeMutableBufferPointer(rebasing: gradients[piece]), op: .sum)
            }
        }
        if let hook = injectedOverflow, hook.step == step, hook.rank == groups.world.rank {
            gradients[0] = .infinity
            injectedOverflow = nil
        }
        let (loss, routing) = try globalTotals(lossSum, routing: model.takeRoutingTotals())
        lastRouting = routing
        if let preference {
            lastPreference = try preferenceTotals(preference)
            return lastPreference!.loss
        }
        return loss
    }

    /// DPO microbatches over the pairs `pairOf(position)` of a global batch: fills each sequence,
    /// and on the stage with the head records reference log-probabilities (`reference`) or scores
    /// the pairs and sets the backward weights (`scoring`).
    private func preferenceMicrobatches(scoring: Bool, reference: UnsafeMutablePointer<[Double]>? = nil,
                                        pairOf: @escaping (Int) -> Int) -> PipelineRunner.Microbatch {
        let preference = preference!, first = groups.layout.replicaSequences.lowerBound, size = degrees.microbatchSize
        func sequences(_ m: Int) -> Range<Int> { (first + m * size)..<(first + (m + 1) * size) }
        var batch = PipelineRunner.Microbatch(
            fill: { m, inputs, targets in preference.fill(sequences: sequences(m), pairOf: pairOf, inputs: inputs, targets: targets) },
            dropout: { _ in nil })
        batch.losses = { m, losses in
            if let reference {
                preference.recordReference(losses, sequences: sequences(m), pairOf: pairOf, into: &reference.pointee)
            } else {
                preference.score(losses, sequences: sequences(m), pairOf: pairOf, slot: m)
            }
        }
        if scoring { batch.weights = { m in preference.weights(slot: m) } }
        return batch
    }

    /// World sums of the DPO totals (counted on tensor rank 0 of the last stage, where they exist).
    private func preferenceTotals(_ preference: DirectPreference) throws -> PreferenceFigures {
        var sums = preference.takeTotals().array
        if groups.layout.tpIndex != 0 { sums = sums.map { _ in 0 } }
        try groups.world.allReduce(&sums, op: .sum)
        return PreferenceFigures(sums, beta: preference.beta)
    }

    /// Reference log-probabilities of every pair from the current (initial) parameters, once,
    /// before the first step; every rank ends with all of them. Nothing without DPO.
    public func computeReferenceLogProbabilities() throws {
        guard let preference else { return }
        let count = preference.pairs.count, perBatch = preference.batchPairs
        var sums = [Double](repeating: 0, count: 2 * count), seen = [Double](repeating: 0, count: 2 * count)
        for chunk in 0..<((count + perBatch - 1) / perBatch) {
            var values = [Double](repeating: .nan, count: 2 * count)
            _ = try withUnsafeMutablePointer(to: &values) { pointer in
                try pipeline.evaluate(preferenceMicrobatches(scoring: false, reference: pointer) { (chunk * perBatch + $0) % count })
            }
            for i in values.indices where !values[i].isNaN { sums[i] += values[i]; seen[i] += 1 }
        }
        if groups.layout.tpIndex != 0 { (sums, seen) = (sums.map { _ in 0 }, seen.map { _ in 0 }) }
        try groups.world.allReduce(&sums, op: .sum)
        try groups.world.allReduce(&seen, op: .sum)
        preference.setReference(zip(sums, seen).map { $0 / max($1, 1) })
        _ = model.takeRoutingTotals()
    }

    /// Held-out DPO loss, preference accuracy (the policy's likelihood preference, and the implicit
    /// reward's), and the language-model validation loss (which preference training should not
    /// wreck), as an eval row.
    private func logPreferenceEvaluation(_ preference: DirectPreference, step: Int) throws {
        let figures = try evaluatePreferences(preference)
        let lmLoss = try evaluate()
        guard isLogger else { return }
        try metrics?.write(["step": .int(step), "val_loss": .number(figures.loss),
                            "val_preference_accuracy": .number(figures.likelihoodAccuracy),
                            "val_reward_accuracy": .number(figures.accuracy), "val_lm_loss": .number(lmLoss)])
        progress("step \(step)/\(config.train.steps) | val DPO loss \(String(format: "%.4f", figures.loss)) | held-out "
            + "preference accuracy \(String(format: "%.3f", figures.likelihoodAccuracy)) (implicit reward "
            + "\(String(format: "%.3f", figures.accuracy))) | val LM loss \(String(format: "%.4f", lmLoss))")
    }

    /// DPO on the held-out pairs: loss and preference accuracy.
    private func evaluatePreferences(_ preference: DirectPreference) throws -> PreferenceFigures {
        let pairs = preference.pairs, perBatch = preference.batchPairs
        let validation = pairs.trainCount..<pairs.count
        _ = preference.takeTotals()
        for chunk in 0..<((validation.count + perBatch - 1) / perBatch) {
            // The last chunk wraps around; its repeats are scored once more (a small bias, fixed
            // per run, the same on every layout).
            _ = try pipeline.evaluate(preferenceMicrobatches(scoring: false) {
                validation.lowerBound + (chunk * perBatch + $0) % validation.count
            })
        }
        _ = model.takeRoutingTotals()
        return try preferenceTotals(preference)
    }

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

    /// The global mean token loss, and with experts the routing figures, from every rank's sums in
    /// one all-reduce. The last stage's tensor ranks hold the same loss sum and every tensor rank
    /// the same routing sums, so each is counted once.
    private func globalTotals(_ lossSum: Double, routing: RoutingTotals?) throws -> (Double, RoutingFigures?) {
        let counts = groups.layout.tpIndex == 0
        var sums: [Double] = [lossSum]
        if let routing, model.dims.experts != nil {
            sums += [routing.auxSum, Double(routing.dropped), Double(routing.assignments)]
            sums += routing.loads.map { Double($0) }
        }
        if !counts { sums = sums.map { _ in 0 } }
        try groups.world.allReduce(&sums, op: .sum)
        let loss = sums[0] / Double(config.train.batchSize * config.model.blockSize)
        guard sums.count > 1 else { return (loss, nil) }
        let loads = sums[4...]
        return (loss, RoutingFigures(
            auxLoss: sums[1] / Double(config.train.batchSize), droppedFraction: sums[3] > 0 ? sums[2] / sums[3] : 0,
            minLoad: Int(loads.min() ?? 0), maxLoad: Int(loads.max() ?? 0)))
    }

    /// The sampler's view of this replica's microbatches: training batch `step`, or validation
    /// batch `evaluationBatch`.
    private func microbatches(step: Int, evaluationBatch: Int?) -> PipelineRunner.Microbatch {
        let first = groups.layout.replicaSequences.lowerBound, size = degrees.microbatchSize
        let (sampler, config) = (self.sampler, self.config)
        return PipelineRunner.Microbatch(
            fill: { m, inputs, targets in
                let sequences = (first + m * size)..<(first + (m + 1) * size)
                if let evaluationBatch {
                    sampler.fillEval(batch: evaluationBatch, sequences: sequences, inputs: inputs, targets: targets)
                } else {
                    sampler.fill(step: step, sequences: sequences, inputs: inputs, targets: targets)
                }
            },
            dropout: { m in
                guard config.model.dropout > 0, evaluationBatch == nil else { return nil }
                return DropoutContext(probability: Float(config.model.dropout), seed: UInt64(config.run.seed),
                                      step: step, firstSequence: first + m * size, globalBatch: config.train.batchSize)
            })
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

    /// Mean loss over `eval_steps` fixed validation batches of the global batch size.
    private func evaluate() throws -> Double {
        var lossSum: Double = 0
        for batch in 0..<config.train.evalSteps {
            lossSum += try pipeline.evaluate(microbatches(step: 0, evaluationBatch: batch))
        }
        _ = model.takeRoutingTotals()
        return try globalTotals(lossSum, routing: nil).0 / Double(config.train.evalSteps)
    }

    private func log(step: Int, loss: Double, lr: Double, gradNorm: Double, seconds: Double,
                     tokensPerStep: Double, utilisation: Utilisation, elapsed: Double) throws {
        guard isLogger else { return }
        let tokensPerSecond = tokensPerStep / seconds
        let mfu = utilisation.mfu(tokensPerSecond: tokensPerSecond)
        var row: [(key: String, value: MetricValue)] = [
            ("step", .int(step)), ("loss", .number(loss)), ("lr", .number(lr)), ("grad_norm", .number(gradNorm)),
            ("tokens_per_s", .number((tokensPerSecond * 10).rounded() / 10)),
            ("step_ms", .number((seconds * 1e5).rounded() / 100)), ("mfu", .number((mfu * 1e6).rounded() / 1e6)),
        ]
        if let scaler {
            row += [("loss_scale", .number(scaler.scale)), ("skipped_steps", .int(scaler.skippedSteps))]
        }
        if let figures = lastPreference {
            row += [("reward_margin", .number(figures.rewardMargin)), ("preference_accuracy", .number(figures.accuracy)),
                    ("kl", .number(figures.kl))]
        }
        if let routing = lastRouting {
            row += [("aux_loss", .number(routing.auxLoss)), ("dropped_fraction", .number(routing.droppedFraction)),
                    ("expert_load_min", .int(routing.minLoad)), ("expert_load_max", .int(routing.maxLoad))]
        }
        try metrics?.write(row)
        let steps = config.train.steps
        let eta = elapsed / Double(step) * Double(steps - step)
        progress("step \(step)/\(steps) | loss \(String(format: "%.4f", loss)) | "
            + "\(String(format: "%.0f", tokensPerSecond)) tok/s | \(String(format: "%.1f", seconds * 1000)) ms/step | "
            + "MFU \(String(format: "%.1f", 100 * mfu))% | ETA \(formatDuration(eta))")
    }

    /// Derived figures, once, from rank 0; activation memory is gathered from every stage.
    private func printStartup(_ utilisation: Utilisation) throws {
        let memory = try groups.world.allGather([Double(pipeline.activationBytes)])
        guard isLogger else { return }
        let c = config, d = degrees, layout = groups.layout
        let parameters = model.dims.parameterSpecs().reduce(0) { $0 + $1.globalCount }
        let tokensPerStep = c.train.batchSize * c.model.blockSize
        let stageMemory = (0..<d.pp).map { stage in
            formatBytes(memory[layout.rank(pp: stage, dp: 0, tp: 0)])
        }.joined(separator: ", ")
        var lines = [
            "tessera: \(d.worldSize) rank\(d.worldSize == 1 ? "" : "s") = dp \(d.dp) × pp \(d.pp) × tp \(d.tp)"
                + (d.ep > 1 ? " (ep \(d.ep))" : "") + ", \(d.microbatches) microbatch\(d.microbatches == 1 ? "" : "es") of \(d.microbatchSize) per replica",
            "tessera: model \(c.model.nLayer) layers, \(c.model.nHead) heads, \(c.model.nEmbd) channels, "
                + "block \(c.model.blockSize), vocab \(model.dims.vocabSize): \(formatCount(parameters)) parameters",
            "tessera: \(tokensPerStep) tokens per step (batch \(c.train.batchSize) × block \(c.model.blockSize)), "
                + "\(c.train.steps) steps, \(formatCount(tokensPerStep * c.train.steps)) tokens; "
                + "corpus \(formatCount(setup.corpus.train.count)) train / \(formatCount(setup.corpus.val.count)) val tokens",
        ]
        let zero = c.parallel.zero == 1 ? "ZeRO-1, sharded over \(d.dp) replicas" : "replicated"
        lines.append("tessera: optimizer state \(formatBytes(Double(optimizer.stateBytes))) on rank 0 (\(zero))")
        let compute = model.bf16Engine.map { "bf16 compute (\($0.rawValue))" } ?? "fp32 compute"
        // The last stage's head works on its logits in one block of rows at a time.
        let head = GPTPartition(layout: Layout(degrees: d, rank: layout.rank(pp: d.pp - 1, dp: 0, tp: 0)), dims: model.dims)
        let headRows = GPT.headRows(dims: model.dims, partition: head, rows: d.microbatchSize * c.model.blockSize)
        let headBytes = 4 * GPT.headWorkspaceFloats(dims: model.dims, partition: head, B: d.microbatchSize)
        let workBytes = 4 * GPT.workspaceFloats(dims: model.dims, partition: head, B: d.microbatchSize,
                                                compute: c.precision.compute)
        let notes = (d.pp > 1 ? ["pipeline \(c.parallel.schedule.rawValue)"] : [])
            + ["working buffers \(formatBytes(Double(workBytes))), of which head logits \(formatBytes(Double(headBytes))) "
                + "in blocks of \(headRows) rows"]
        lines.append("tessera: \(compute), activation memory per stage: \(stageMemory) (\(notes.joined(separator: "; ")))")
        lines += [
            "tessera: MFU against \(String(format: "%.1f", utilisation.peakGFLOPs)) GFLOP/s per rank "
                + "(\(utilisation.source)); model \(String(format: "%.2f", utilisation.flopsPerToken / 1e6)) MFLOP per token",
            "tessera: OpenBLAS \(BLAS.coreName) kernels, \(BLAS.threads) thread\(BLAS.threads == 1 ? "" : "s") per rank",
            "tessera: writing \(c.run.dir)/metrics.jsonl",
        ]
        for line in lines { progress(line) }
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

func progress(_ line: String) {
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
