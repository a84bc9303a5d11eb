import Config
import Data

/// What `tessera monitor drift` measures between a reference and a current data set.
public struct DriftMeasurement: Sendable {
    public let reference: String
    public let current: String
    /// The tokenizer both were read with, described ("char (65 symbols)").
    public let tokenizer: String
    /// Tokens counted in each (end-of-text ids left out).
    public let referenceTokens: Int
    public let currentTokens: Int
    /// Jensen-Shannon divergence of the unigram distributions, bits.
    public let js: Double
    /// Population stability index over `psiBins` bins (the reference's top tokens and "other").
    public let psi: Double
    public let psiBins: Int
    /// With a checkpoint: its mean token loss (nats) on each, over `windows` windows each.
    public let referenceLoss: Double?
    public let currentLoss: Double?
    public let windows: Int?

    /// Current minus reference loss: positive when the model finds the new data harder.
    public var lossShift: Double? { currentLoss.flatMap { c in referenceLoss.map { c - $0 } } }

    public func value(of metric: DriftMetric) -> Double? {
        switch metric {
        case .js: js
        case .psi: psi
        case .loss: lossShift
        }
    }
}

/// Reads two data sets with one tokenizer (`DataSetPair`), compares their unigram distributions,
/// and with a checkpoint scores both with the model (`WindowLoss`). On one process.
public enum DriftCheck {
    /// The PSI's bins: the reference's 50 most frequent tokens, then "other".
    public static let psiTop = 50
    /// A bin's share when it is empty: 1e-4, so a token one side lacks adds a large, finite term.
    public static let psiEpsilon = 1e-4

    /// Throws DataError or SetupError (exit 2 for the command) for unreadable, empty or
    /// differently tokenized data, or a checkpoint that does not load.
    public static func measure(reference: String, current: String, checkpoint: String?, textTokenizer: TokenizerKind?,
                               tokenizerModel: String, windows: Int) throws -> DriftMeasurement {
        let model = try checkpoint.map { try WholeModel(modelFile: $0) }
        let fixed = try model.map { (tokenizer: try $0.trainedTokenizer(), source: "checkpoint '\($0.source)'") }
        let pair = try DataSetPair(reference: reference, current: current, fixed: fixed, textTokenizer: textTokenizer,
                                   tokenizerModel: tokenizerModel)
        let counts = try [pair.reference, pair.current].map { set in
            let counts = TokenCounts(set.tokens, excluding: set.endOfText)
            guard counts.total > 0 else { throw SetupError("'\(set.path)' holds no tokens to compare") }
            return counts
        }
        let loss = try model.map { whole in
            try [pair.reference, pair.current].map { try WindowLoss(count: windows).mean(whole.model, tokens: $0.tokens, source: $0.path) }
        }
        return DriftMeasurement(
            reference: reference, current: current, tokenizer: DataSetPair.describe(pair.tokenizer),
            referenceTokens: counts[0].total, currentTokens: counts[1].total,
            js: Divergence.jensenShannon(counts[0], counts[1]),
            psi: Divergence.populationStability(reference: counts[0], current: counts[1], top: psiTop, epsilon: psiEpsilon),
            psiBins: Divergence.stabilityBins(reference: counts[0], top: psiTop).count + 1,
            referenceLoss: loss?[0], currentLoss: loss?[1], windows: loss == nil ? nil : windows)
    }
}
