import Report
import Testing

/// report.md and the figure from a synthetic metrics.jsonl of a resumed run: the later row for a
/// step replaces the earlier, eval and alarm rows stand beside train rows, and a cut line is skipped.
struct RunSummaryTests {
    /// Steps 1-4 logged, a crash after step 3 (checkpoint at 2), steps 3-4 logged again by the
    /// resumed run with other values; an alarm logged twice for one step; a line cut short.
    static let resumed = """
        {"step": 1, "loss": 4.0, "lr": 0.001, "grad_norm": 2.0, "tokens_per_s": 100, "step_ms": 50, "mfu": 0.1}
        {"step": 2, "loss": 3.0, "lr": 0.001, "grad_norm": 1.5, "tokens_per_s": 1000, "step_ms": 10, "mfu": 0.4}
        {"step": 2, "val_loss": 3.5}
        {"step": 3, "loss": 9.0, "lr": 0.001, "grad_norm": 9.0, "tokens_per_s": 9000, "step_ms": 1, "mfu": 0.9}
        {"step": 3, "alarm": "loss", "when": "jump", "value": 9.0, "action": "log"}
        {"step": 3, "loss": 2.5, "lr": 0.0005, "grad_norm": 1.0, "tokens_per_s": 2000, "step_ms": 5, "mfu": 0.5}
        {"step": 3, "alarm": "loss", "when": "jump", "value": 2.5, "action": "log"}
        {"step": 4, "loss": null, "lr": 0.0001, "grad_norm": null, "tokens_per_s": 3000, "step_ms": 4, "mfu": 0.6}
        {"step": 4, "val_loss": 2.75, "val_loss/wiki": 3.25}
        {"step": 4, "alarm": "loss", "when": "nonfinite", "value": null, "action": "stop"}
        {"step": 4, "loss": 2
        """

    @Test func aLaterRowForAStepReplacesTheEarlier() {
        let history = MetricsHistory(jsonl: Self.resumed)
        #expect(history.points("loss").map(\.step) == [1, 2, 3, 4])
        #expect(history.points("loss")[2].value == 2.5 && history.points("loss")[3].value.isNaN)
        #expect(history.points("val_loss").map(\.value) == [3.5, 2.75] && history.fields(prefix: "val_loss/") == ["val_loss/wiki"])
        #expect(history.alarms == [AlarmEvent(step: 3, metric: "loss", when: "jump", value: 2.5, action: "log"),
                                   AlarmEvent(step: 4, metric: "loss", when: "nonfinite", value: nil, action: "stop")])
        #expect(history.skippedLines == 1 && history.lastStep == 4)
    }

    @Test func theSummaryNamesFinalAndBestLossesMediansAndAlarms() {
        let text = RunSummary.markdown(MetricsHistory(jsonl: Self.resumed), title: "runs/x", figure: "report.png",
                                       settings: [("model", "gpt2: 2 layers"), ("data", "a|b.txt")])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "# Run report: runs/x")
        #expect(lines.contains("![loss, validation loss, learning rate, throughput and alarms](report.png)"))
        #expect(lines.contains("| model | gpt2: 2 layers |") && lines.contains("| data | a\\|b.txt |"))
        // The final training loss is step 4's null; the best is the resumed step 3's, not the crashed 9.0.
        #expect(lines.contains("| final training loss | NaN | 4 |") && lines.contains("| best training loss | 2.5000 | 3 |"))
        #expect(lines.contains("| final validation loss | 2.7500 | 4 |") && lines.contains("| best validation loss | 2.7500 | 4 |"))
        #expect(lines.contains("| final val_loss/wiki | 3.2500 | 4 |"))
        // Medians over steps 2-4 (step 1 pays for start-up), step 3 as resumed: 1000, 2000, 3000.
        #expect(lines.contains("| median throughput | 2000 tokens/s | 3 logged steps |"), "\(text)")
        #expect(lines.contains("| median step time | 5 ms | 3 logged steps |") && lines.contains("| median MFU | 50% | 3 logged steps |"),
                "\(text)")
        #expect(lines.contains("2 alarm(s) fired (red dashed lines in the figure)."))
        #expect(lines.contains("| 3 | loss | jump | 2.5000 | log |") && lines.contains("| 4 | loss | nonfinite | - | stop |"))
        #expect(lines.contains("1 line(s) of metrics.jsonl were not metrics rows and were skipped."))
    }

    @Test func aRunWithoutSettingsOrAlarmsSaysSo() {
        let text = RunSummary.markdown(MetricsHistory(jsonl: #"{"step": 1, "loss": 4.0}"#), title: "r", figure: "report.png",
                                       settings: [], settingsNote: "No checkpoint.")
        #expect(text.contains("\nNo checkpoint.\n") && text.contains("\nNo alarm fired.\n") && !text.contains("median throughput"))
    }

    @Test func theFigureMarksAlarmsAndDrawsEveryPanel() {
        let history = MetricsHistory(jsonl: Self.resumed)
        let figure = RunFigure.make(history, title: "runs/x")
        #expect(figure.panels.map(\.title) == ["loss (nats/token)", "learning rate", "throughput (tokens/s)", "gradient norm"])
        #expect(figure.panels[0].series.map(\.label) == ["train", "validation", "val_loss/wiki"])
        #expect(figure.panels.allSatisfy { $0.markers == [3, 4] })
        let canvas = figure.render(width: 800, height: 600)
        var colours: Set<[UInt8]> = []
        for y in 0..<canvas.height { for x in 0..<canvas.width { let c = canvas.pixel(x: x, y: y); colours.insert([c.r, c.g, c.b]) } }
        for colour in [Color.alarm, Color.series[0], Color.series[1], Color.series[2], Color.series[3], Color.text] {
            #expect(colours.contains([colour.r, colour.g, colour.b]), "\(colour) drawn")
        }
    }

    @Test func ticksAreRoundAndLabelledWithTheDecimalsTheyNeed() {
        let (ticks, lo, hi) = Ticks.nice(2.62, 4.18)
        #expect(ticks == [2.5, 3.0, 3.5, 4.0, 4.5] && lo == 2.5 && hi == 4.5)
        #expect(Ticks.nice(2, 120, count: 6, tight: true).ticks == [50, 100])
        #expect(Ticks.label(0.25, step: 0.25) == "0.25" && Ticks.label(1500, step: 500) == "1500" && Ticks.label(40000, step: 10000) == "40k")
        #expect(Ticks.label(0.00025, step: 0.00005) == "2.5e-4" && Ticks.label(0, step: 1) == "0")
    }
}
