import Checkpoint

/// Dynamic loss scaling for fp16 gradients, with PyTorch GradScaler's rules: start at `initial`,
/// multiply by `growth` after `interval` steps in a row without overflow, multiply by `backoff`
/// and skip the step when the gradients overflow. A fixed scale never changes (overflowing steps
/// are still skipped).
///
/// Every rank reaches the same decision because the overflow test reads the all-reduced gradient
/// norm, which is non-finite everywhere as soon as any rank's gradients are.
struct LossScaler {
    private(set) var scale: Double
    let isDynamic: Bool
    let growth: Double, backoff: Double, interval: Int
    private(set) var cleanSteps = 0
    private(set) var skippedSteps = 0

    init(scale: Double, isDynamic: Bool, growth: Double = 2, backoff: Double = 0.5, interval: Int = 2000) {
        self.scale = scale
        self.isDynamic = isDynamic
        self.growth = growth
        self.backoff = backoff
        self.interval = interval
    }

    /// A dynamic scaler continuing from a checkpoint's state.
    init(restoring saved: SavedLossScaler) {
        self.init(scale: saved.scale, isDynamic: true)
        cleanSteps = saved.cleanSteps
        skippedSteps = saved.skippedSteps
    }

    /// Records a step's outcome; returns whether its update must be skipped.
    mutating func record(overflow: Bool) -> Bool {
        guard isDynamic else {
            if overflow { skippedSteps += 1 }
            return overflow
        }
        if overflow {
            scale *= backoff
            cleanSteps = 0
            skippedSteps += 1
            return true
        }
        cleanSteps += 1
        if cleanSteps == interval {
            scale *= growth
            cleanSteps = 0
        }
        return false
    }
}
