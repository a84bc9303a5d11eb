/// `[[eval]]` and `[[alarm]]`: what a run evaluates beside its own validation loss, and the rules
/// that watch its metrics. Config only reads and checks them; which metrics a run has, and what
/// the rules do, is the training layer's (docs/config.md, "Continuous validation and alarms").

/// One `[[eval]]` entry: a held-out set scored every `every` steps (and at the last step), its
/// results in the metrics rows as `val_loss/NAME`, `accuracy/NAME` or `bias/NAME`.
public struct EvalEntry: Sendable, Codable, Equatable {
    /// The metric's suffix: letters, digits, `_`, `-` and `.`.
    public var name = ""
    /// Text or prepared shards (`lm`), a multiple-choice JSONL (`choice`), a CrowS-Pairs CSV (`bias`).
    public var path = ""
    public var kind = EvalKind.lm
    public var every = 250

    public init(name: String = "", path: String = "", kind: EvalKind = .lm, every: Int = 250) {
        (self.name, self.path, self.kind, self.every) = (name, path, kind, every)
    }
}

/// `eval.kind`.
public enum EvalKind: String, Sendable, Codable, CaseIterable {
    case lm, choice, bias
}

/// One `[[alarm]]` rule on a metric.
public struct AlarmRule: Sendable, Codable, Equatable {
    /// A field of the run's metrics rows: `loss`, `grad_norm`, `val_loss/NAME`, ...
    public var metric = ""
    public var when = AlarmCondition.nonfinite
    /// The threshold (`above`, `below`); the relative rise (`jump`); the fall from the best value
    /// (`drop`); seconds without a new value (`stalled`). Unused by `nonfinite`.
    public var value = 0.0
    /// `jump`: how many previous values the median is taken over.
    public var window = 20
    public var action = AlarmAction.stop
    /// `exec`: a shell command, given the alarm as one JSON object on its standard input.
    public var command = ""

    public init(metric: String = "", when: AlarmCondition = .nonfinite, value: Double = 0, window: Int = 20,
                action: AlarmAction = .stop, command: String = "") {
        (self.metric, self.when, self.value, self.window, self.action, self.command) = (metric, when, value, window, action, command)
    }
}

/// `alarm.when`.
public enum AlarmCondition: String, Sendable, Codable, CaseIterable {
    case nonfinite, above, below, jump, drop, stalled
}

/// `alarm.action`.
public enum AlarmAction: String, Sendable, Codable, CaseIterable {
    case log, stop, exec
}
