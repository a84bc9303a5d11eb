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
    let sampler: BatchSampler
    let schedule: LearningRateSchedule
    let activations: GPTActivations
    let inputs: UnsafeMutablePointer<Int32>
    let targets: UnsafeMutablePointer<Int32>
    private var metrics: MetricsLog?

    var config: TesseraConfig { setup.config }
    var degrees: ParallelDegrees { setup.degrees }
    var isLogger: Bool { groups.world.rank == 0 }

    public init(setup: TrainingSetup, groups: ProcessGroups) throws {
        self.setup = setup
        self.groups = groups
        let config = setup.config
        model = GPT(dims: setup.dims, seed: UInt64(config.run.seed))
        optimizer = AdamW(store: model.store, beta1: Float(config.train.beta1), beta2: Float(config.train.beta2),
                          weightDecay: Float(config.train.weightDecay))
        sync = try GradientSync(group: groups.data,
                                grads: UnsafeMutableBufferPointer(start: model.store.grads, count: model.store.count))
        sampler = BatchSampler(corpus: setup.corpus, seed: config.run.seed, blockSize: config.model.blockSize,
                               batchSize: config.train.batchSize)
        schedule = LearningRateSchedule(maxLR: config.train.lr, minLR: config.train.minLR,
                                        warmupSteps: config.train.warmupSteps, totalSteps: config.train.steps)
        let micro = setup.degrees.microbatchSize, T = config.model.blockSize
        activations = model.makeActivations(batch: micro)
        inputs = .allocate(capacity: micro * T)
        targets = .allocate(capacity: micro * T)
    }

    deinit {
        inputs.deallocate()
        targets.deallocate()
    }

    /// Runs every step; returns when training is complete and model.h5 is written.
    public func run() throws {
        let runDir = config.run.dir
        if isLogger {
            try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
            metrics = try MetricsLog(path: runDir + "/metrics.jsonl", append: false)
            printStartup()
        }
        let steps = config.train.steps
        let tokensPerStep = Double(config.train.batchSize * config.model.blockSize)
        let started = MPIEnvironment.wallTime()
        for step in 1...steps {
            let stepStart = MPIEnvironment.wallTime()
            let loss = try trainStep(step)
            guard loss.isFinite else {  // every rank sees the same all-reduced loss and stops alike
                throw RunError("loss is \(loss) at step \(step) (fp32); lower train.lr or check the data",
                               seenByEveryRank: true)
            }
            let (gradNorm, gradScale) = clipping()
            let lr = schedule.rate(atStep: step)
            optimizer.update(lr: Float(lr), step: step, gradScale: gradScale)
            let seconds = MPIEnvironment.wallTime() - stepStart
            if step % config.train.logEvery == 0 || step == steps {
                try log(step: step, loss: loss, lr: lr, gradNorm: gradNorm, seconds: seconds,
                        tokensPerStep: tokensPerStep, elapsed: MPIEnvironment.wallTime() - started)
            }
            let evalEvery = config.train.evalEvery
            if evalEvery > 0 && (step % evalEvery == 0 || step == steps) {
                let valLoss = try evaluate()
                if isLogger {
                    try metrics?.write(["step": .int(step), "val_loss": .number(valLoss)])
                    progress("step \(step)/\(steps) | val loss \(String(format: "%.4f", valLoss))")
                }
            }
        }
        try ModelExport.write(model: model, setup: setup, groups: groups, step: steps,
                              path: runDir + "/model.h5")
    }

    /// Forward and backward over this replica's microbatches; returns the global mean loss.
    private func trainStep(_ step: Int) throws -> Double {
        // Gradients start at zero: AdamW consumed the previous step's.
        let store = model.store
        let count = degrees.microbatches
        let dloss = 1 / Float(config.train.batchSize * config.model.blockSize)
        var lossSum: Double = 0
        for m in 0..<count {
            let sequences = microbatchSequences(m)
            sampler.fill(step: step, sequences: sequences, inputs: inputs, targets: targets)
            let dropout = dropoutContext(step: step, firstSequence: sequences.lowerBound)
            lossSum += model.forward(activations, tokens: inputs, targets: targets, dropout: dropout)
            let isLast = m == count - 1
            model.backward(activations, tokens: inputs, targets: targets, dloss: dloss, dropout: dropout) { layer in
                if isLast { sync.reduce(model.blockRange(layer)) }
            }
        }
        // Embeddings and the final norm complete last; they are the remaining two ranges.
        let blocks = model.dims.nLayer > 0
            ? model.blockRange(0).lowerBound..<model.blockRange(model.dims.nLayer - 1).upperBound
            : store.count..<store.count
        sync.reduce(0..<blocks.lowerBound)
        sync.reduce(blocks.upperBound..<store.count)
        try sync.finish()
        let total = try groups.world.allReduce(lossSum, op: .sum) / Double(degrees.tp * degrees.pp)
        return total / Double(config.train.batchSize * config.model.blockSize)
    }

    /// Global sequence indices of this replica's microbatch `m`.
    private func microbatchSequences(_ m: Int) -> Range<Int> {
        let first = groups.layout.replicaSequences.lowerBound + m * degrees.microbatchSize
        return first..<(first + degrees.microbatchSize)
    }

    private func dropoutContext(step: Int, firstSequence: Int) -> DropoutContext? {
        guard config.model.dropout > 0 else { return nil }
        return DropoutContext(probability: Float(config.model.dropout), seed: UInt64(config.run.seed),
                              step: step, firstSequence: firstSequence, globalBatch: config.train.batchSize)
    }

    /// Global gradient norm before clipping, and the factor that brings it down to `grad_clip`
    /// (1 when below); the optimizer applies the factor as it reads the gradients.
    private func clipping() -> (norm: Double, scale: Float) {
        let store = model.store
        let norm = sumOfSquares(store.grads, N: store.count).squareRoot()
        let clip = config.train.gradClip
        return (norm, clip > 0 && norm > clip ? Float(clip / (norm + 1e-6)) : 1)
    }

    /// Mean loss over `eval_steps` fixed validation batches of the global batch size.
    private func evaluate() throws -> Double {
        var lossSum: Double = 0
        for batch in 0..<config.train.evalSteps {
            for m in 0..<degrees.microbatches {
                let sequences = microbatchSequences(m)
                sampler.fillEval(batch: batch, sequences: sequences, inputs: inputs, targets: targets)
                lossSum += model.forward(activations, tokens: inputs, targets: targets)
            }
        }
        let total = try groups.world.allReduce(lossSum, op: .sum) / Double(degrees.tp * degrees.pp)
        return total / Double(config.train.evalSteps * config.train.batchSize * config.model.blockSize)
    }

    private func log(step: Int, loss: Double, lr: Double, gradNorm: Double, seconds: Double,
                     tokensPerStep: Double, elapsed: Double) throws {
        guard isLogger else { return }
        let tokensPerSecond = tokensPerStep / seconds
        try metrics?.write([
            "step": .int(step), "loss": .number(loss), "lr": .number(lr),
            "grad_norm": .number(gradNorm), "tokens_per_s": .number((tokensPerSecond * 10).rounded() / 10),
            "step_ms": .number((seconds * 1e5).rounded() / 100),
        ])
        let steps = config.train.steps
        let eta = elapsed / Double(step) * Double(steps - step)
        progress("step \(step)/\(steps) | loss \(String(format: "%.4f", loss)) | "
            + "\(String(format: "%.0f", tokensPerSecond)) tok/s | \(String(format: "%.1f", seconds * 1000)) ms/step | "
            + "ETA \(formatDuration(eta))")
    }

    private func printStartup() {
        let c = config, d = degrees
        let parameters = model.store.specs.reduce(0) { $0 + $1.globalCount }
        let tokensPerStep = c.train.batchSize * c.model.blockSize
        let lines = [
            "tessera: \(d.worldSize) rank\(d.worldSize == 1 ? "" : "s") = dp \(d.dp) × pp \(d.pp) × tp \(d.tp)"
                + (d.ep > 1 ? " (ep \(d.ep))" : "") + ", \(d.microbatches) microbatch\(d.microbatches == 1 ? "" : "es") of \(d.microbatchSize) per replica",
            "tessera: model \(c.model.nLayer) layers, \(c.model.nHead) heads, \(c.model.nEmbd) channels, "
                + "block \(c.model.blockSize), vocab \(model.dims.vocabSize): \(formatCount(parameters)) parameters",
            "tessera: \(tokensPerStep) tokens per step (batch \(c.train.batchSize) × block \(c.model.blockSize)), "
                + "\(c.train.steps) steps, \(formatCount(tokensPerStep * c.train.steps)) tokens; "
                + "corpus \(formatCount(setup.corpus.train.count)) train / \(formatCount(setup.corpus.val.count)) val tokens",
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

func formatCount(_ n: Int) -> String {
    n >= 1_000_000 ? String(format: "%.2fM", Double(n) / 1e6)
        : n >= 1_000 ? String(format: "%.1fk", Double(n) / 1e3) : "\(n)"
}
