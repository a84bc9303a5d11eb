import Config
import Model
import MPI
import Parallel

/// What a run optimizes. The core step (`Trainer`) runs the microbatches an objective gives
/// through the pipeline, sums the gradients across replicas, clips and updates, and knows nothing
/// else; the objective says what a batch is, turns the per-token losses into its loss (and, where
/// the gradient is not the mean token loss's, per-token backward weights), and evaluates.
/// A new objective is a new conforming type and a case in `makeObjective`.
protocol TrainingObjective: AnyObject {
    /// Once, before the first step, from the starting weights (every rank).
    func prepare() throws
    /// This replica's microbatches of step `step`'s global batch, for forward and backward.
    func trainingBatch(step: Int) -> PipelineRunner.Microbatch
    /// After the step's gradients, on every rank: the step's loss, from the global mean token loss
    /// of the batch, and the objective's fields of the step's metrics row.
    func stepResult(tokenLoss: Double) throws -> StepResult
    /// Evaluation on every rank: the eval row's fields and a progress line (rank 0 writes them).
    func evaluate(step: Int) throws -> Evaluation
    /// Whether the starting weights are evaluated too, before the first step.
    var evaluatesStart: Bool { get }
    /// Target tokens of step `step`'s global batch, which its mean loss divides by; nil: every
    /// position of every sequence (batch_size · block_size).
    func lossTokens(step: Int) -> Int?
}

extension TrainingObjective {
    func lossTokens(step: Int) -> Int? { nil }
}

struct StepResult {
    let loss: Double
    let fields: [(key: String, value: MetricValue)]
}

struct Evaluation {
    let fields: [(key: String, value: MetricValue)]
    let line: String
}

/// What objectives share with the core step: the run's settings, the pipeline their microbatches
/// go through and the groups their totals are summed over.
struct ObjectiveContext {
    let config: TesseraConfig
    let degrees: ParallelDegrees
    let groups: ProcessGroups
    let pipeline: PipelineRunner
    let model: GPT

    /// Microbatch m's dropout in training step `step` (nil without dropout, and in evaluation):
    /// keyed by its global coordinates, so every layout drops the same units.
    func dropout(step: Int, microbatch m: Int, evaluating: Bool) -> DropoutContext? {
        guard config.model.dropout > 0, !evaluating else { return nil }
        return DropoutContext(probability: Float(config.model.dropout), seed: UInt64(config.run.seed), step: step,
                              firstSequence: sequences(m).lowerBound, globalBatch: config.train.batchSize)
    }

    /// Global sequences of this replica's microbatch m.
    func sequences(_ m: Int) -> Range<Int> {
        let first = groups.layout.replicaSequences.lowerBound, size = degrees.microbatchSize
        return (first + m * size)..<(first + (m + 1) * size)
    }

    /// The global mean token loss, and with experts the routing figures, from every rank's sums in
    /// one all-reduce. The last stage's tensor ranks hold the same loss sum and every tensor rank
    /// the same routing sums, so each is counted once. `tokens`: what the loss sum divides by
    /// (nil: batch_size · block_size).
    func globalTotals(_ lossSum: Double, routing: RoutingTotals?, tokens: Int? = nil) throws -> (Double, RoutingFigures?) {
        var sums: [Double] = [lossSum]
        if let routing, model.dims.experts != nil {
            sums += [routing.auxSum, Double(routing.dropped), Double(routing.assignments)]
            sums += routing.loads.map { Double($0) }
        }
        if groups.layout.tpIndex != 0 { sums = sums.map { _ in 0 } }
        try groups.world.allReduce(&sums, op: .sum)
        let loss = sums[0] / Double(tokens ?? config.train.batchSize * config.model.blockSize)
        guard sums.count > 1 else { return (loss, nil) }
        let loads = sums[4...]
        return (loss, RoutingFigures(
            auxLoss: sums[1] / Double(config.train.batchSize), droppedFraction: sums[3] > 0 ? sums[2] / sums[3] : 0,
            minLoad: Int(loads.min() ?? 0), maxLoad: Int(loads.max() ?? 0)))
    }
}

/// The objective `train.objective` names.
func makeObjective(_ setup: TrainingSetup, _ context: ObjectiveContext) -> any TrainingObjective {
    let language = LanguageModelObjective(corpus: setup.corpus, context: context)
    switch setup.config.train.objective {
    case .lm:
        return language
    case .dpo:
        return PreferenceObjective(pairs: setup.preferences!, language: language, context: context)
    case .spanCorruption, .seq2seq:
        return EncoderDecoderObjective(batches: setup.encoderDecoder!, context: context)
    }
}
