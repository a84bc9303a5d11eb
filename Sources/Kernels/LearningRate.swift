#if canImport(Glibc)
import Glibc
#endif

/// Linear warmup then cosine decay to `minLR` at `totalSteps` (nanoGPT's schedule).
/// `step` counts from 1, as in metrics.jsonl.
public struct LearningRateSchedule: Sendable {
    public let maxLR: Double, minLR: Double
    public let warmupSteps: Int, totalSteps: Int

    public init(maxLR: Double, minLR: Double, warmupSteps: Int, totalSteps: Int) {
        self.maxLR = maxLR
        self.minLR = minLR
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// maxLR · step / (warmup + 1) for step ≤ warmup; then a cosine from maxLR at step warmup + 1
    /// down to minLR at step = totalSteps (nanoGPT's iterations warmup...decay, counted from 1);
    /// minLR after.
    public func rate(atStep step: Int) -> Double {
        if step <= warmupSteps {
            return maxLR * Double(step) / Double(warmupSteps + 1)
        }
        let decaySteps = totalSteps - warmupSteps - 1
        if step >= totalSteps || decaySteps <= 0 {
            return minLR
        }
        let progress = Double(step - warmupSteps - 1) / Double(decaySteps)
        let coefficient = 0.5 * (1.0 + cos(Double.pi * progress))
        return minLR + coefficient * (maxLR - minLR)
    }
}
