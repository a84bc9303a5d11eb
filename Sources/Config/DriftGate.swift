/// The figure `tessera monitor drift` compares with its threshold.
public enum DriftMetric: String, Sendable, Codable, CaseIterable {
    /// Jensen-Shannon divergence of the unigram distributions, in bits.
    case js
    /// Population stability index over the reference's most frequent tokens.
    case psi
    /// The model's mean token loss on the current data minus on the reference (needs a checkpoint).
    case loss

    /// The threshold when none is given: js 0.05 bits (two halves of one corpus stay far below,
    /// see docs/monitoring.md), psi 0.25 (the usual "significant shift"), loss 0.1 nats/token.
    public var defaultThreshold: Double {
        switch self {
        case .js: 0.05
        case .psi: 0.25
        case .loss: 0.1
        }
    }
}

/// A `[[stage]]` of `tessera pipeline` that trains nothing but checks new data before the stages
/// after it train: `drift = { current = "data/new.txt", metric = "js", threshold = 0.05 }`. Over
/// the threshold the pipeline stops with exit 3.
public struct DriftGate: Sendable, Codable, Equatable {
    /// The data the model knows; "" = the previous training stage's data.path (the config's
    /// before the first).
    public var reference = ""
    /// The new data.
    public var current = ""
    /// The model whose tokenizer reads text files and whose loss shift `loss` measures;
    /// "" = none for js and psi, the previous training stage's run directory for loss.
    public var checkpoint = ""
    public var metric = DriftMetric.js
    /// nil = the metric's default.
    public var threshold: Double?

    public init(reference: String = "", current: String = "", checkpoint: String = "", metric: DriftMetric = .js,
                threshold: Double? = nil) {
        (self.reference, self.current, self.checkpoint, self.metric, self.threshold) = (reference, current, checkpoint, metric, threshold)
    }

    /// The keys of a `drift` table, in the order `tomlText()` writes them.
    public static let keys = ["reference", "current", "checkpoint", "metric", "threshold"]
}
