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

    public func rate(atStep step: Int) -> Double {
        let it = step - 1
        if it < warmupSteps {
            return maxLR * Double(it + 1) / Double(warmupSteps + 1)
        }
        if it >= totalSteps || totalSteps <= warmupSteps {
            return minLR
        }
        let progress = Double(it - warmupSteps) / Double(totalSteps - warmupSteps)
        let coefficient = 0.5 * (1.0 + cos(Double.pi * progress))
        return minLR + coefficient * (maxLR - minLR)
    }
}
