import Data
import Model

/// A model's mean token loss on a data set, over a fixed set of windows: `count` windows of
/// block_size + 1 tokens (the inputs and their shifted targets), the first at token 0, the last
/// ending at the data's last token, the rest evenly spaced between (overlapping when the data is
/// short). The same data always gives the same windows, so two data sets, or two models, compare
/// on equal terms. Evaluated `batch` windows per forward pass, on one process.
public struct WindowLoss {
    public let count: Int
    public let batch: Int

    public init(count: Int, batch: Int = 8) {
        precondition(count > 0 && batch > 0, "\(count) windows in batches of \(batch)")
        (self.count, self.batch) = (count, batch)
    }

    /// Window starts in `tokens` for a block of `blockSize`: i · (n − blockSize − 1) / (count − 1), rounded down.
    public func starts(tokens n: Int, blockSize: Int) -> [Int] {
        let last = n - blockSize - 1
        precondition(last >= 0, "\(n) tokens for windows of \(blockSize + 1)")
        return count == 1 ? [0] : (0..<count).map { $0 * last / (count - 1) }
    }

    /// The mean loss in nats per token. Throws a SetupError naming `source` when it has fewer than
    /// block_size + 1 tokens or an id the model does not embed.
    public func mean(_ model: GPT, tokens: TokenStore, source: String) throws -> Double {
        let T = model.dims.blockSize, V = model.dims.vocabSize
        guard tokens.count >= T + 1 else {
            throw SetupError("'\(source)' has \(tokens.count) tokens, fewer than one window of the model's block_size + 1 = \(T + 1)")
        }
        let starts = self.starts(tokens: tokens.count, blockSize: T)
        let acts = model.makeActivations(batch: batch)
        var inputs = [Int32](repeating: 0, count: batch * T), targets = inputs, window = [Int32](repeating: 0, count: T + 1)
        var total = 0.0
        for first in stride(from: 0, to: starts.count, by: batch) {
            // A last, partial batch repeats its first window in the unused rows and leaves them out of the sum.
            let used = min(batch, starts.count - first)
            for row in 0..<batch {
                window.withUnsafeMutableBufferPointer { tokens.copy(from: starts[first + min(row, used - 1)], count: T + 1, into: $0.baseAddress!) }
                if let id = window.first(where: { !(0..<Int32(V)).contains($0) }) {
                    throw SetupError("'\(source)' holds token id \(id), outside the model's vocabulary of \(V) ids"
                        + " (a model trained on a text file has no end-of-text id, which prepared shards end documents with)")
                }
                inputs.replaceSubrange((row * T)..<((row + 1) * T), with: window[..<T])
                targets.replaceSubrange((row * T)..<((row + 1) * T), with: window[1...])
            }
            try inputs.withUnsafeBufferPointer { i in
                try targets.withUnsafeBufferPointer { t in _ = try model.forward(acts, tokens: i.baseAddress!, targets: t.baseAddress!) }
            }
            let losses = model.tokenLosses(acts)
            for k in 0..<(used * T) { total += Double(losses[k]) }
        }
        let mean = total / Double(starts.count * T)
        guard mean.isFinite else { throw RunError("the model's loss on '\(source)' is \(mean); its weights are not finite") }
        return mean
    }
}
