/// Direct preference optimization (`train.objective = "dpo"`): each step trains on pairs drawn from
/// (seed, step), with the gradient through per-token weights (`DirectPreference`); the reference
/// log-probabilities come from the starting weights in `prepare`. Evaluation scores the held-out
/// pairs and, through the language-model objective, the validation loss preference training
/// should not wreck. The starting policy is evaluated too, for comparison.
final class PreferenceObjective: TrainingObjective {
    let context: ObjectiveContext
    let preference: DirectPreference
    let language: LanguageModelObjective

    init(pairs: PreferencePairs, language: LanguageModelObjective, context: ObjectiveContext) {
        self.context = context
        self.language = language
        preference = DirectPreference(pairs: pairs, beta: context.config.train.dpoBeta, seed: context.config.run.seed,
                                      batchSequences: context.config.train.batchSize,
                                      microbatchSequences: context.degrees.microbatchSize,
                                      slots: context.pipeline.plan.activationSlots)
    }

    var evaluatesStart: Bool { true }

    func trainingBatch(step: Int) -> PipelineRunner.Microbatch {
        microbatches(scoring: true) { self.preference.trainingPair(step: step, position: $0) }
    }

    func stepResult(tokenLoss: Double) throws -> StepResult {
        let figures = try totals()
        return StepResult(loss: figures.loss, fields: [
            ("reward_margin", .number(figures.rewardMargin)), ("preference_accuracy", .number(figures.accuracy)),
            ("kl", .number(figures.kl)),
        ])
    }

    /// Reference log-probabilities of every pair from the starting parameters, once; every rank
    /// ends with all of them.
    func prepare() throws {
        let count = preference.pairs.count, perBatch = preference.batchPairs, groups = context.groups
        var sums = [Double](repeating: 0, count: 2 * count), seen = [Double](repeating: 0, count: 2 * count)
        for chunk in 0..<((count + perBatch - 1) / perBatch) {
            var values = [Double](repeating: .nan, count: 2 * count)
            _ = try withUnsafeMutablePointer(to: &values) { pointer in
                try context.pipeline.evaluate(microbatches(scoring: false, reference: pointer) { (chunk * perBatch + $0) % count })
            }
            for i in values.indices where !values[i].isNaN { sums[i] += values[i]; seen[i] += 1 }
        }
        if groups.layout.tpIndex != 0 { (sums, seen) = (sums.map { _ in 0 }, seen.map { _ in 0 }) }
        try groups.world.allReduce(&sums, op: .sum)
        try groups.world.allReduce(&seen, op: .sum)
        preference.setReference(zip(sums, seen).map { $0 / max($1, 1) })
        _ = context.model.takeRoutingTotals()
    }

    /// Held-out DPO loss, preference accuracy (the policy's likelihood preference, and the implicit
    /// reward's), and the language-model validation loss.
    func evaluate(step: Int) throws -> Evaluation {
        let pairs = preference.pairs, perBatch = preference.batchPairs
        let validation = pairs.trainCount..<pairs.count
        _ = preference.takeTotals()
        for chunk in 0..<((validation.count + perBatch - 1) / perBatch) {
            // The last chunk wraps around; its repeats are scored once more (a small bias, fixed
            // per run, the same on every layout).
            _ = try context.pipeline.evaluate(microbatches(scoring: false) {
                validation.lowerBound + (chunk * perBatch + $0) % validation.count
            })
        }
        _ = context.model.takeRoutingTotals()
        let figures = try totals()
        let lmLoss = try language.validationLoss()
        return Evaluation(
            fields: [("val_loss", .number(figures.loss)), ("val_preference_accuracy", .number(figures.likelihoodAccuracy)),
                     ("val_reward_accuracy", .number(figures.accuracy)), ("val_lm_loss", .number(lmLoss))],
            line: "step \(step)/\(context.config.train.steps) | val DPO loss \(String(format: "%.4f", figures.loss)) | held-out "
                + "preference accuracy \(String(format: "%.3f", figures.likelihoodAccuracy)) (implicit reward "
                + "\(String(format: "%.3f", figures.accuracy))) | val LM loss \(String(format: "%.4f", lmLoss))")
    }

    /// DPO microbatches over the pairs `pairOf(position)` of a global batch: fills each sequence,
    /// and on the stage with the head records reference log-probabilities (`reference`) or scores
    /// the pairs and sets the backward weights (`scoring`).
    private func microbatches(scoring: Bool, reference: UnsafeMutablePointer<[Double]>? = nil,
                              pairOf: @escaping (Int) -> Int) -> PipelineRunner.Microbatch {
        let (preference, context) = (preference, context)
        var batch = PipelineRunner.Microbatch(
            fill: { m, inputs, targets in
                preference.fill(sequences: context.sequences(m), pairOf: pairOf, inputs: inputs, targets: targets)
            },
            dropout: { _ in nil })
        batch.losses = { m, losses in
            if let reference {
                preference.recordReference(losses, sequences: context.sequences(m), pairOf: pairOf, into: &reference.pointee)
            } else {
                preference.score(losses, sequences: context.sequences(m), pairOf: pairOf, slot: m)
            }
        }
        if scoring { batch.weights = { m in preference.weights(slot: m) } }
        return batch
    }

    /// World sums of the DPO totals (counted on tensor rank 0 of the last stage, where they exist).
    private func totals() throws -> PreferenceFigures {
        var sums = preference.takeTotals().array
        if context.groups.layout.tpIndex != 0 { sums = sums.map { _ in 0 } }
        try context.groups.world.allReduce(&sums, op: .sum)
        return PreferenceFigures(sums, beta: preference.beta)
    }
}
