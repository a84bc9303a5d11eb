import Config

/// One `[[alarm]]` rule's memory and verdicts, with no clock or I/O of its own: the caller gives each
/// new value of the rule's metric and the time, so tests drive it with values and times of their own.
///
/// A rule fires on the rising edge of its condition: once when it becomes true, and again only after
/// a value for which it was false (for `stalled`, after the next value arrives). A loss that stays
/// above a threshold is one firing, not one per step, and an `exec` command is not run every step.
struct AlarmTrigger {
    let rule: AlarmRule
    /// `jump`: the metric's last `window` finite values, oldest first.
    private var history: [Double] = []
    /// `drop`: the highest finite value so far.
    private var best: Double?
    /// `stalled`: when the metric last had a value (or when watching began).
    private var lastArrival: Double
    /// The condition held at the last verdict.
    private var active = false

    init(rule: AlarmRule, startedAt time: Double) {
        self.rule = rule
        lastArrival = time
    }

    /// A new value of the metric at `time`: whether the rule fires on it.
    mutating func observe(_ value: Double, at time: Double) -> Bool {
        lastArrival = time
        let holds: Bool
        switch rule.when {
        case .nonfinite: holds = !value.isFinite
        case .above: holds = value > rule.value
        case .below: holds = value < rule.value
        case .jump:
            // The relative rise over the median of the previous `window` values, once there are that many.
            let centre = history.count == rule.window ? median(history) : nil
            holds = centre.map { value > $0 + rule.value * abs($0) } ?? false
            if value.isFinite { history = Array((history + [value]).suffix(rule.window)) }
        case .drop:
            holds = best.map { value < $0 - rule.value } ?? false
            if value.isFinite { best = max(best ?? value, value) }
        case .stalled:
            holds = false
        }
        return edge(holds)
    }

    /// For `stalled`: whether the metric has had no value for more than `value` seconds at `time`.
    mutating func checkStall(at time: Double) -> Bool {
        guard rule.when == .stalled else { return false }
        return edge(time - lastArrival > rule.value)
    }

    /// Seconds since the metric's last value.
    func silence(at time: Double) -> Double { time - lastArrival }

    private mutating func edge(_ holds: Bool) -> Bool {
        defer { active = holds }
        return holds && !active
    }
}
