import Foundation
import Model
import MPI
import Parallel
import Random

/// Direct Preference Optimization (Rafailov et al. 2023) on preference pairs: per pair,
/// L = −log σ(β · [(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))]), with log π(·) the summed
/// log-probability of the response tokens, averaged over the global batch of pairs.
///
/// The reference log-probabilities come from the initial model, computed once for every pair before
/// the first step and never trained. The gradient reaches the model through per-token weights on the
/// cross-entropy backward: d L / d loss_t = ±β σ(−z) / pairs on the response tokens of the chosen (+)
/// and rejected (−) sequence, 0 on the prompt. A microbatch holds whole pairs (chosen, rejected
/// adjacent), so the stage with the head has both log-probabilities when it needs the weights.
final class DirectPreference {
    let pairs: PreferencePairs
    let beta: Double
    let seed: Int
    /// Global batch in pairs.
    let batchPairs: Int
    /// log π_ref of every sequence (2 per pair).
    private(set) var reference: [Double] = []
    private var weights: UnsafeMutablePointer<Float>
    private let microbatchSequences: Int
    /// Sums over the pairs this rank scored since `takeTotals`.
    private var totals = Totals()

    struct Totals {
        var loss = 0.0, margin = 0.0, correct = 0.0, logRatio = 0.0, responseTokens = 0.0, pairs = 0.0
        /// Pairs whose chosen response the policy finds more likely than the rejected one.
        var likelihoodCorrect = 0.0
        var array: [Double] { [loss, margin, correct, logRatio, responseTokens, pairs, likelihoodCorrect] }
    }

    init(pairs: PreferencePairs, beta: Double, seed: Int, batchSequences: Int, microbatchSequences: Int,
         slots: Int) {
        self.pairs = pairs
        self.beta = beta
        self.seed = seed
        batchPairs = batchSequences / 2
        self.microbatchSequences = microbatchSequences
        weights = .allocate(capacity: max(slots, 1) * microbatchSequences * pairs.T)
        weights.initialize(repeating: 0, count: max(slots, 1) * microbatchSequences * pairs.T)
        self.slots = max(slots, 1)
    }

    private let slots: Int

    deinit { weights.deallocate() }

    /// The training pair at position j of step `step`'s global batch: drawn from (seed, step, j)
    /// alone, so the batch does not depend on the layout.
    func trainingPair(step: Int, position j: Int) -> Int {
        CounterRNG(seed: UInt64(seed), label: "dpo-batch").below(pairs.trainCount, UInt64(step) << 32 | UInt64(j))
    }

    /// Fills microbatch sequences from the pair list `pairOf(position)` (position = global sequence / 2).
    func fill(sequences: Range<Int>, pairOf: (Int) -> Int, inputs: UnsafeMutablePointer<Int32>,
              targets: UnsafeMutablePointer<Int32>) {
        let T = pairs.T
        for (i, s) in sequences.enumerated() {
            let sequence = 2 * pairOf(s / 2) + s % 2
            for t in 0..<T {
                inputs[i * T + t] = pairs.tokens[sequence * T + t]
                targets[i * T + t] = pairs.targets[sequence * T + t]
            }
        }
    }

    /// Summed masked log-probability of each sequence from its per-token losses.
    private func logProbabilities(_ losses: UnsafePointer<Float>, sequences: Range<Int>, pairOf: (Int) -> Int) -> [(Int, Double)] {
        let T = pairs.T
        return sequences.enumerated().map { i, s in
            let sequence = 2 * pairOf(s / 2) + s % 2
            var sum = 0.0
            for t in 0..<T where pairs.mask[sequence * T + t] > 0 { sum -= Double(losses[i * T + t]) }
            return (sequence, sum)
        }
    }

    /// After a microbatch's forward on the stage with the head: the pairs' losses, statistics and
    /// the backward weights of microbatch slot `slot`.
    func score(_ losses: UnsafePointer<Float>, sequences: Range<Int>, pairOf: (Int) -> Int, slot: Int) {
        let T = pairs.T
        let lp = logProbabilities(losses, sequences: sequences, pairOf: pairOf)
        let w = weights + (slot % slots) * microbatchSequences * T
        for k in stride(from: 0, to: lp.count, by: 2) {
            let (chosen, rejected) = (lp[k], lp[k + 1])
            let chosenRatio = chosen.1 - reference[chosen.0], rejectedRatio = rejected.1 - reference[rejected.0]
            let z = beta * (chosenRatio - rejectedRatio)
            // −log σ(z) = log(1 + e^−z), computed stably; σ(−z) is its slope.
            totals.loss += z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z))
            totals.margin += z
            totals.correct += z > 0 ? 1 : 0
            totals.likelihoodCorrect += chosen.1 > rejected.1 ? 1 : 0
            totals.logRatio += chosenRatio + rejectedRatio
            totals.pairs += 1
            let slope = Float(beta / (1 + exp(z)) / Double(batchPairs))
            for (offset, sign) in [(k, Float(1)), (k + 1, Float(-1))] {
                let sequence = lp[offset].0
                for t in 0..<T {
                    let m = pairs.mask[sequence * T + t]
                    w[offset * T + t] = sign * slope * m
                    totals.responseTokens += Double(m)
                }
            }
        }
    }

    func weights(slot: Int) -> UnsafePointer<Float> { UnsafePointer(weights + (slot % slots) * microbatchSequences * pairs.T) }

    /// Records reference log-probabilities from a forward of the initial model.
    func recordReference(_ losses: UnsafePointer<Float>, sequences: Range<Int>, pairOf: (Int) -> Int, into sums: inout [Double]) {
        for (sequence, value) in logProbabilities(losses, sequences: sequences, pairOf: pairOf) { sums[sequence] = value }
    }

    func setReference(_ values: [Double]) { reference = values }

    func takeTotals() -> Totals {
        defer { totals = Totals() }
        return totals
    }
}

/// DPO figures over a global batch (or the held-out pairs).
struct PreferenceFigures {
    /// `accuracy`: the implicit reward's (margin > 0, DPO's usual metric; 0 while the policy is its
    /// reference); `likelihoodAccuracy`: the policy's own (log π(c) > log π(r)), meaningful for
    /// any model, the pretrained one included.
    let loss: Double, rewardMargin: Double, accuracy: Double, likelihoodAccuracy: Double, kl: Double

    /// From world-summed totals (loss, margin, correct, log-ratio, response tokens, pairs,
    /// likelihood-correct).
    init(_ sums: [Double], beta: Double) {
        let pairs = max(sums[5], 1)
        loss = sums[0] / pairs
        rewardMargin = sums[1] / pairs
        accuracy = sums[2] / pairs
        likelihoodAccuracy = sums[6] / pairs
        // Mean per-token log(π / π_ref) on the responses: a sample estimate of KL(π ‖ π_ref).
        kl = sums[3] / max(sums[4], 1)
    }
}
