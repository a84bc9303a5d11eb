import Data
import Kernels
import Model

/// Next-token prediction: the mean token cross-entropy over the global batch the sampler draws
/// for each step, evaluated on `eval_steps` fixed validation batches.
final class LanguageModelObjective: TrainingObjective {
    let context: ObjectiveContext
    let sampler: BatchSampler

    init(corpus: Corpus, context: ObjectiveContext) {
        self.context = context
        sampler = BatchSampler(corpus: corpus, seed: context.config.run.seed, blockSize: context.config.model.blockSize,
                               batchSize: context.config.train.batchSize)
    }

    func prepare() throws {}

    var evaluatesStart: Bool { false }

    func trainingBatch(step: Int) -> PipelineRunner.Microbatch {
        Self.microbatches(sampler, context, step: step, evaluationBatch: nil)
    }

    func stepResult(tokenLoss: Double) throws -> StepResult { StepResult(loss: tokenLoss, fields: []) }

    func evaluate(step: Int) throws -> Evaluation {
        let loss = try validationLoss()
        return Evaluation(fields: [("val_loss", .number(loss))],
                          line: "step \(step)/\(context.config.train.steps) | val loss \(String(format: "%.4f", loss))")
    }

    /// Mean loss over `eval_steps` fixed validation batches of the global batch size.
    func validationLoss() throws -> Double { try Self.validationLoss(sampler, context) }

    /// As above, from `sampler`'s validation split: the run's own, or an `[[eval]]` file's.
    static func validationLoss(_ sampler: BatchSampler, _ context: ObjectiveContext) throws -> Double {
        var lossSum: Double = 0
        for batch in 0..<context.config.train.evalSteps {
            lossSum += try context.pipeline.evaluate(microbatches(sampler, context, step: 0, evaluationBatch: batch))
        }
        _ = context.model.takeRoutingTotals()
        return try context.globalTotals(lossSum, routing: nil).0 / Double(context.config.train.evalSteps)
    }

    /// The sampler's view of this replica's microbatches: training batch `step`, or validation
    /// batch `evaluationBatch`.
    private static func microbatches(_ sampler: BatchSampler, _ context: ObjectiveContext, step: Int,
                                     evaluationBatch: Int?) -> PipelineRunner.Microbatch {
        PipelineRunner.Microbatch(
            fill: { m, inputs, targets in
                let sequences = context.sequences(m)
                if let evaluationBatch {
                    sampler.fillEval(batch: evaluationBatch, sequences: sequences, inputs: inputs, targets: targets)
                } else {
                    sampler.fill(step: step, sequences: sequences, inputs: inputs, targets: targets)
                }
            },
            dropout: { m in context.dropout(step: step, microbatch: m, evaluating: evaluationBatch != nil) })
    }
}
