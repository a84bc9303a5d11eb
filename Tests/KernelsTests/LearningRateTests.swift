import Foundation
import Kernels
import Testing

/// Steps count from 1. Warmup: maxLR · step / (warmup + 1) for step ≤ warmup; then a cosine from
/// maxLR at step warmup + 1 down to minLR at step = total; minLR after.
@Suite struct LearningRateTests {
    let schedule = LearningRateSchedule(maxLR: 1e-3, minLR: 1e-4, warmupSteps: 10, totalSteps: 111)

    func expectClose(_ a: Double, _ b: Double, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(abs(a - b) <= 1e-12 * b, "\(a) vs \(b)", sourceLocation: sourceLocation)
    }

    @Test func warmupIsLinearInTheStep() {
        expectClose(schedule.rate(atStep: 1), 1e-3 * 1 / 11)
        expectClose(schedule.rate(atStep: 5), 1e-3 * 5 / 11)
        expectClose(schedule.rate(atStep: 10), 1e-3 * 10 / 11)
    }

    @Test func cosineRunsFromMaxToMinAtTheLastStep() {
        expectClose(schedule.rate(atStep: 11), 1e-3)
        // Step 61 is halfway through the 100 decay intervals from step 11 to step 111.
        expectClose(schedule.rate(atStep: 61), (1e-3 + 1e-4) / 2)
        let quarter = 1e-4 + 0.5 * (1 + cos(Double.pi / 4)) * (1e-3 - 1e-4)
        expectClose(schedule.rate(atStep: 36), quarter)
        expectClose(schedule.rate(atStep: 111), 1e-4)
    }

    @Test func minimumAfterTheLastStep() {
        for step in [112, 200, 100_000] { expectClose(schedule.rate(atStep: step), 1e-4) }
    }

    @Test func decayIsMonotoneAndStaysBetweenMinAndMax() {
        var previous = Double.infinity
        for step in 11...130 {
            let rate = schedule.rate(atStep: step)
            #expect(rate <= previous && rate >= 1e-4 && rate <= 1e-3, "step \(step): \(rate)")
            previous = rate
        }
    }

    @Test func noWarmupStartsAtMax() {
        let noWarmup = LearningRateSchedule(maxLR: 6e-4, minLR: 6e-5, warmupSteps: 0, totalSteps: 5)
        expectClose(noWarmup.rate(atStep: 1), 6e-4)
        expectClose(noWarmup.rate(atStep: 3), (6e-4 + 6e-5) / 2)
        expectClose(noWarmup.rate(atStep: 5), 6e-5)
        expectClose(noWarmup.rate(atStep: 6), 6e-5)
    }

    @Test func degenerateSchedulesStayFiniteAndInRange() {
        for (warmup, total) in [(20, 10), (10, 10), (10, 11), (0, 1), (0, 0)] {
            let schedule = LearningRateSchedule(maxLR: 1e-3, minLR: 1e-4, warmupSteps: warmup, totalSteps: total)
            for step in 1...30 {
                let rate = schedule.rate(atStep: step)
                #expect(rate.isFinite && rate > 0 && rate <= 1e-3, "warmup \(warmup), total \(total), step \(step)")
            }
        }
    }
}
