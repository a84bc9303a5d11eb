import Config
import Foundation
import Testing
@testable import Training

/// The rules' verdicts, driven with values and times of the test's own (no clock, no sleeping).
struct AlarmTriggerTests {
    /// The steps at which `rule` fires over `values`, one a second.
    static func firings(_ rule: AlarmRule, _ values: [Double]) -> [Int] {
        var trigger = AlarmTrigger(rule: rule, startedAt: 0)
        return values.indices.filter { trigger.observe(values[$0], at: Double($0 + 1)) }
    }

    @Test func aboveAndBelowFireOnceWhenTheThresholdIsCrossedAndAgainAfterAReturn() {
        let values = [3.0, 3.6, 3.7, 3.4, 3.8]
        #expect(Self.firings(AlarmRule(metric: "loss", when: .above, value: 3.5), values) == [1, 4])
        #expect(Self.firings(AlarmRule(metric: "loss", when: .below, value: 3.5), values) == [0, 3])
        // NaN is neither above nor below anything.
        #expect(Self.firings(AlarmRule(metric: "loss", when: .above, value: 3.5), [.nan, .infinity]) == [1])
    }

    @Test func nonfiniteFiresOnNaNAndInfinityOncePerRun() {
        let rule = AlarmRule(metric: "loss", when: .nonfinite)
        #expect(Self.firings(rule, [1, .nan, .nan, 2, -.infinity]) == [1, 4])
    }

    @Test func jumpComparesWithTheMedianOfTheLastWindowValues() {
        let rule = AlarmRule(metric: "loss", when: .jump, value: 0.5, window: 3)
        // Not before the window is full: 10 after [1, 1] is no verdict.
        #expect(Self.firings(rule, [1, 1, 10]) == [])
        // Median of [1, 1, 100] is 1: 1.6 is a rise of 60%, past 50%; a single outlier does not
        // move the median, as it would a mean (34).
        #expect(Self.firings(rule, [1, 1, 100, 1.6]) == [3])
        // Median of [2, 2.2, 2.1] is 2.1: 3.1 rises 47.6%, 3.2 rises 52.4%.
        #expect(Self.firings(rule, [2, 2.2, 2.1, 3.1]) == [])
        #expect(Self.firings(rule, [2, 2.2, 2.1, 3.2]) == [3])
        // Only the last `window` values count: after [5, 5, 5, 1, 1] the median is 1.
        #expect(Self.firings(rule, [5, 5, 5, 1, 1, 1, 1.6]) == [6])
    }

    @Test func jumpIgnoresNonFiniteValuesInItsWindow() {
        let rule = AlarmRule(metric: "grad_norm", when: .jump, value: 1, window: 2)
        #expect(Self.firings(rule, [1, .nan, 1, 3]) == [3])
    }

    @Test func dropComparesWithTheBestValueSoFar() {
        // "Stop when held-out accuracy falls 5 points below its best."
        let rule = AlarmRule(metric: "accuracy/heldout", when: .drop, value: 0.05)
        #expect(Self.firings(rule, [0.30, 0.40, 0.36, 0.34, 0.41, 0.35]) == [3, 5])
    }

    @Test func stalledFiresOnceAfterSilenceAndRearmsWithTheNextValue() {
        var trigger = AlarmTrigger(rule: AlarmRule(metric: "loss", when: .stalled, value: 60), startedAt: 100)
        var verdicts: [Bool] = []
        for time in [160, 160.5] { verdicts.append(trigger.checkStall(at: time)) }
        let silence = trigger.silence(at: 160.5)
        verdicts.append(trigger.checkStall(at: 500))
        verdicts.append(trigger.observe(2.5, at: 510))
        for time in [569.0, 571] { verdicts.append(trigger.checkStall(at: time)) }
        // Not at exactly 60 s; at 60.5 s; not again while silent; the value re-arms; 61 s later again.
        #expect(verdicts == [false, true, false, false, false, true])
        #expect(silence == 60.5)
    }

    @Test func onlyStalledRulesWatchTheClock() {
        var trigger = AlarmTrigger(rule: AlarmRule(metric: "loss", when: .above, value: 1), startedAt: 0)
        let fired = trigger.checkStall(at: 1e9)
        #expect(!fired)
    }

    @Test func aFiringIsTheContractsRowAndOneLine() {
        let firing = AlarmFiring(step: 40, rule: AlarmRule(metric: "val_loss/wiki", when: .above, value: 3.5, action: .stop),
                                 value: 4.25)
        #expect(firing.json == "{\"step\": 40, \"alarm\": \"val_loss/wiki\", \"when\": \"above\", \"value\": 4.25, \"action\": \"stop\"}")
        #expect(firing.line == "tessera: alarm at step 40: val_loss/wiki above 3.5 (value 4.25): stop")
        let nan = AlarmFiring(step: 7, rule: AlarmMonitor.nonFiniteLoss, value: .nan)
        #expect(nan.json == "{\"step\": 7, \"alarm\": \"loss\", \"when\": \"nonfinite\", \"value\": null, \"action\": \"stop\"}")
        let input = firing.commandInput(runDirectory: "runs/a \"b\"")
        let object = try? JSONSerialization.jsonObject(with: Data(input.utf8)) as? [String: Any]
        #expect(object?["alarm"] as? String == "val_loss/wiki" && object?["threshold"] as? Double == 3.5
            && object?["run_dir"] as? String == "runs/a \"b\"" && object?["step"] as? Int == 40, "\(input)")
    }

    @Test func anExecCommandReadsTheAlarmOnItsStandardInput() throws {
        let folder = NSTemporaryDirectory() + "tessera-alarm-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let commands = AlarmCommands()
        commands.start("cat > '\(folder)/alarm.json'", input: "{\"step\": 3}\n")
        // A command that ignores its input does not disturb the next one.
        commands.start("true", input: String(repeating: "x", count: 1 << 20))
        commands.finish(within: 60)
        #expect(try String(contentsOfFile: folder + "/alarm.json", encoding: .utf8) == "{\"step\": 3}\n")
    }
}
