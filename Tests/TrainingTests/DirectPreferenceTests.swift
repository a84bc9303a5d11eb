import Data
import Foundation
import Model
@testable import Training
import Testing

/// The DPO gradient (per-token weights into the cross-entropy backward) against central finite
/// differences of the DPO loss, with a reference different from the policy so that σ(−z) ≠ ½.
struct DirectPreferenceTests {
    @Test func dpoWeightsGiveTheGradientOfTheLoss() throws {
        let T = 8, dims = GPTDimensions(nLayer: 1, nHead: 2, nEmbd: 8, blockSize: T, vocabSize: 256)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dpo-\(UUID().uuidString).jsonl")
        try """
        {"prompt": "abc", "chosen": "defg", "rejected": "xyz"}
        {"prompt": "hello", "chosen": " world", "rejected": " there"}
        """.write(to: file, atomically: true, encoding: .utf8)
        let pairs = try PreferencePairs(path: file.path, tokenizer: ByteTokenizer(), blockSize: T)
        let dpo = DirectPreference(pairs: pairs, beta: 2, seed: 1, batchSequences: 4, microbatchSequences: 4, slots: 1)
        let model = GPT(dims: dims, seed: 3)
        let acts = model.makeActivations(batch: 4)
        let inputs = UnsafeMutablePointer<Int32>.allocate(capacity: 4 * T), targets = UnsafeMutablePointer<Int32>.allocate(capacity: 4 * T)
        defer { inputs.deallocate(); targets.deallocate() }
        dpo.fill(sequences: 0..<4, pairOf: { $0 }, inputs: inputs, targets: targets)
        // Reference: the model before a perturbation of every weight.
        _ = try model.forward(acts, tokens: inputs, targets: targets)
        var reference = [Double](repeating: 0, count: 4)
        dpo.recordReference(model.tokenLosses(acts), sequences: 0..<4, pairOf: { $0 }, into: &reference)
        dpo.setReference(reference)
        for i in 0..<model.store.count { model.store.values[i] += Float(sin(Double(i))) * 0.05 }

        func loss() throws -> Double {
            _ = try model.forward(acts, tokens: inputs, targets: targets)
            dpo.score(model.tokenLosses(acts), sequences: 0..<4, pairOf: { $0 }, slot: 0)
            return dpo.takeTotals().loss / 2
        }
        let base = try loss()
        #expect(abs(base - log(2)) > 1e-3, "the reference must differ from the policy")
        model.store.zeroGrads()
        try model.backward(acts, tokens: inputs, targets: targets, dloss: 0, tokenWeights: dpo.weights(slot: 0))
        var worst = 0.0, largest = 0.0
        for j in stride(from: 0, to: model.store.count, by: 37) {
            let original = model.store.values[j]
            func difference(_ h: Float) throws -> Double {
                model.store.values[j] = original + h
                let up = try loss()
                model.store.values[j] = original - h
                let down = try loss()
                model.store.values[j] = original
                return (up - down) / (Double(original + h) - Double(original - h))
            }
            // Richardson: (4·D(h/2) − D(h)) / 3 cancels the h² term.
            let numeric = (4 * (try difference(0.01)) - (try difference(0.02))) / 3
            let analytic = Double(model.store.grads[j])
            // Float forward noise (~1e-6 in the loss) over 2h bounds the numeric gradient to ~1e-4.
            worst = max(worst, abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-2))
            largest = max(largest, abs(numeric))
        }
        #expect(worst < 2e-2, "worst relative error \(worst)")
        #expect(largest > 1e-3, "gradients ~0: the check proves nothing")
    }
}
