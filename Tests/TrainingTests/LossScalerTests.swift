@testable import Training
import Testing

/// GradScaler's rules: halve and skip on overflow, double after `interval` clean steps in a row.
struct LossScalerTests {
    @Test func overflowHalvesAndSkipsCleanStepsGrowAfterTheInterval() {
        var scaler = LossScaler(scale: 65536, isDynamic: true, interval: 3)
        #expect(scaler.record(overflow: false) == false)
        #expect(scaler.record(overflow: false) == false)
        #expect(scaler.record(overflow: true) == true)
        #expect(scaler.scale == 32768 && scaler.skippedSteps == 1)
        // The overflow restarted the count: three more clean steps before growth.
        #expect(!scaler.record(overflow: false) && !scaler.record(overflow: false))
        #expect(scaler.scale == 32768)
        #expect(scaler.record(overflow: false) == false)
        #expect(scaler.scale == 65536)
    }

    @Test func aFixedScaleNeverChangesButStillSkipsOverflow() {
        var scaler = LossScaler(scale: 1024, isDynamic: false, interval: 1)
        #expect(scaler.record(overflow: false) == false)
        #expect(scaler.record(overflow: true) == true)
        #expect(scaler.scale == 1024 && scaler.skippedSteps == 1)
    }

    @Test func pytorchDefaults() {
        let scaler = LossScaler(scale: 65536, isDynamic: true)
        #expect(scaler.growth == 2 && scaler.backoff == 0.5 && scaler.interval == 2000)
    }
}
