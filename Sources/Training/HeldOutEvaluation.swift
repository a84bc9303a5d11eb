import Config
import Data
import Foundation

/// Continuous validation: the `[[eval]]` entries, each scored every `every` steps and at the last
/// step, through the run's pipeline on every rank (so on every layout), into one eval row:
/// `val_loss/NAME` (lm), `accuracy/NAME` and `accuracy_norm/NAME` (choice, lm-evaluation-harness's
/// acc and acc_norm), `bias/NAME` (bias: the percentage of pairs whose more stereotypical sentence
/// the model prefers).
struct HeldOutEvaluation {
    let sets: [HeldOutSet]
    let context: ObjectiveContext

    /// The entries due at `step`.
    func due(_ step: Int) -> [HeldOutSet] {
        sets.filter { step % $0.entry.every == 0 || step == context.config.train.steps }
    }

    /// The due entries' eval row fields and progress line; every rank calls it.
    func evaluate(_ due: [HeldOutSet], step: Int) throws -> Evaluation {
        var fields: [(key: String, value: MetricValue)] = []
        for set in due {
            let values = try figures(set)
            fields += zip(set.metricNames, values).map { ($0, .number($1)) }
        }
        let shown = fields.map { "\($0.key) \(String(format: "%.4f", $0.value.double))" }.joined(separator: " | ")
        return Evaluation(fields: fields, line: "step \(step)/\(context.config.train.steps) | \(shown)")
    }

    /// One entry's figures, in `metricNames` order.
    private func figures(_ set: HeldOutSet) throws -> [Double] {
        let likelihoods = PipelineLikelihoods(context: context)
        switch set.contents {
        case .lm(let corpus):
            let sampler = BatchSampler(corpus: corpus, seed: context.config.run.seed, blockSize: context.config.model.blockSize,
                                       batchSize: context.config.train.batchSize)
            return [try LanguageModelObjective.validationLoss(sampler, context)]
        case .choice(let items):
            let values = try likelihoods.values(items.flatMap(ChoiceScorer.requests))
            var next = 0
            let scores = try items.map { item in
                defer { next += item.choices.count }
                return try ChoiceScorer.score(item, logLikelihoods: Array(values[next..<(next + item.choices.count)]),
                                              blockSize: context.config.model.blockSize)
            }
            let summary = ChoiceSummary(scores)
            return [summary.accuracy, summary.accuracyNorm]
        case .bias(let pairs, let start):
            let blockSize = context.config.model.blockSize
            let sentences = pairs.flatMap { [$0.sentMore, $0.sentLess] }
            let requests = sentences.map { BiasScorer.requests($0, start: start, blockSize: blockSize) }
            let values = try likelihoods.values(requests.flatMap { $0 })
            var next = 0
            let sums = requests.map { windows in
                defer { next += windows.count }
                return values[next..<(next + windows.count)].reduce(0, +)
            }
            let scores = try pairs.indices.map { try BiasScorer.score(pairs[$0], more: sums[2 * $0], less: sums[2 * $0 + 1]) }
            return [BiasSummary(scores).overall.score]
        }
    }
}
