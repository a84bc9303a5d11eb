import Data
import FileSystem
import Foundation

/// Preference pairs for DPO, encoded: for every JSONL line `{"prompt", "chosen", "rejected"}` two
/// sequences of T tokens (prompt + chosen, prompt + rejected), their next-token targets, and a mask
/// that is 1 where the target is a response token (the prompt is conditioning, not scored).
///
/// A long example keeps its response (up to T/2 tokens) and as much of the prompt's end as fits.
/// The last 10% of pairs (at least one) are held out for evaluation.
struct PreferencePairs {
    let T: Int
    let count: Int
    /// Sequence 2i is pair i's chosen, 2i + 1 its rejected: T values each.
    let tokens: [Int32], targets: [Int32], mask: [Float]

    var trainCount: Int { count - validationCount }
    var validationCount: Int { count < 2 ? 0 : max(1, count / 10) }

    /// `memory`: the bytes this rank may give the encoded pairs; a file with more pairs than fit
    /// (each pair takes 2 sequences of T tokens, targets and mask) is refused before encoding.
    init(path: String, tokenizer: any Tokenizer, blockSize T: Int,
         memory: Double = MemoryGate.nodeMemory / Double(MemoryGate.ranksOnThisNode)) throws {
        let text: String
        do {
            text = try readUTF8File(path, limit: Int.max)
        } catch {
            throw SetupError("data.preferences: '\(path)' \(error.message)")
        }
        self.T = T
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .filter { !$0.element.trimmingCharacters(in: .whitespaces).isEmpty }
        let bytes = Double(lines.count) * 2 * Double(T) * 12
        guard bytes <= memory else {
            throw SetupError("data.preferences: '\(path)' holds \(lines.count) pairs, which at model.block_size = \(T) take "
                + String(format: "%.1f GiB", bytes / 0x1p30) + " per rank encoded, more than the "
                + String(format: "%.1f GiB", memory / 0x1p30) + " this node has per rank")
        }
        var tokens: [Int32] = [], targets: [Int32] = [], mask: [Float] = []
        let capacity = 2 * T * lines.count
        tokens.reserveCapacity(capacity)
        targets.reserveCapacity(capacity)
        mask.reserveCapacity(capacity)
        var count = 0
        for (number, line) in lines {
            let fields = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            guard let fields, let prompt = fields["prompt"] as? String, let chosen = fields["chosen"] as? String,
                  let rejected = fields["rejected"] as? String else {
                throw SetupError("\(path):\(number + 1): expected a JSON object with string fields prompt, chosen, rejected")
            }
            let promptIDs = try tokenizer.encode(prompt)
            for response in [chosen, rejected] {
                let responseIDs = try tokenizer.encode(response)
                guard !responseIDs.isEmpty else { throw SetupError("\(path):\(number + 1): an empty response") }
                let kept = Array(responseIDs.prefix(max(1, T / 2)))
                let context = Array(promptIDs.suffix(T + 1 - kept.count))
                let sequence = context + kept
                // Position t predicts sequence[t + 1]; scored when that is a response token.
                for t in 0..<T {
                    let inside = t + 1 < sequence.count
                    tokens.append(t < sequence.count ? sequence[t] : 0)
                    targets.append(inside ? sequence[t + 1] : 0)
                    mask.append(inside && t + 1 >= context.count ? 1 : 0)
                }
            }
            count += 1
        }
        guard count >= 2 else { throw SetupError("data.preferences: '\(path)' holds \(count) pairs; DPO needs at least 2") }
        self.count = count
        self.tokens = tokens
        self.targets = targets
        self.mask = mask
    }
}
