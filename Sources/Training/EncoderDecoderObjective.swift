import Data
import Model

/// An encoder-decoder's objectives: T5's span corruption (corrupted corpus windows in, the dropped
/// spans out) and supervised seq2seq pairs. Either way a row is an input for the encoder and a
/// target for the decoder (`EncoderDecoderBatches`); the loss is the mean token cross-entropy
/// over the global batch's target ids, its padding ignored (target −1), so a step's loss and
/// gradient do not depend on how rows are split over ranks and microbatches.
final class EncoderDecoderObjective: TrainingObjective {
    let context: ObjectiveContext
    let batches: any EncoderDecoderBatches
    /// The microbatch's target lengths, as the rows are written.
    private let targetLengths: UnsafeMutablePointer<Int32>

    init(batches: any EncoderDecoderBatches, context: ObjectiveContext) {
        self.context = context
        self.batches = batches
        targetLengths = .allocate(capacity: context.degrees.microbatchSize)
    }

    deinit { targetLengths.deallocate() }

    func prepare() throws {}

    var evaluatesStart: Bool { false }

    func trainingBatch(step: Int) -> PipelineRunner.Microbatch { microbatches(step: step, evaluationBatch: nil) }

    func lossTokens(step: Int) -> Int? { batches.targetTokens(step: step) }

    func stepResult(tokenLoss: Double) throws -> StepResult { StepResult(loss: tokenLoss, fields: []) }

    func evaluate(step: Int) throws -> Evaluation {
        let loss = try validationLoss()
        return Evaluation(fields: [("val_loss", .number(loss))],
                          line: "step \(step)/\(context.config.train.steps) | val loss \(String(format: "%.4f", loss))")
    }

    /// Mean target token loss over `eval_steps` fixed validation batches of the global batch size.
    func validationLoss() throws -> Double {
        var lossSum: Double = 0, tokens = 0
        for batch in 0..<context.config.train.evalSteps {
            lossSum += try context.pipeline.evaluate(microbatches(step: 0, evaluationBatch: batch))
            tokens += batches.evalTargetTokens(batch: batch)
        }
        _ = context.model.takeRoutingTotals()
        return try context.globalTotals(lossSum, routing: nil, tokens: tokens).0
    }

    /// Microbatch m's rows, laid out as `GPT.inputCount` says, targets past their length ignored.
    private func microbatches(step: Int, evaluationBatch: Int?) -> PipelineRunner.Microbatch {
        let (batches, context, targetLengths) = (self.batches, context, self.targetLengths)
        let B = context.degrees.microbatchSize, S = batches.encoderLength, T = batches.decoderLength
        return PipelineRunner.Microbatch(
            fill: { m, inputs, targets in
                let rows = PairRows(inputs: inputs, inputLengths: inputs + B * (S + T), decoderInputs: inputs + B * S,
                                    targets: targets, targetLengths: targetLengths)
                let sequences = context.sequences(m)
                if let evaluationBatch {
                    batches.fillEval(batch: evaluationBatch, sequences: sequences, into: rows)
                } else {
                    batches.fill(step: step, sequences: sequences, into: rows)
                }
                for b in 0..<B {
                    (targets + b * T + Int(targetLengths[b])).update(repeating: -1, count: T - Int(targetLengths[b]))
                }
            },
            dropout: { m in context.dropout(step: step, microbatch: m, evaluating: evaluationBatch != nil) })
    }
}
