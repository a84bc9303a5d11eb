import Foundation
import Testing

/// `[[alarm]]` rules in a 2-rank run: `stop` saves a checkpoint and ends every rank with exit 3,
/// `exec` hands its command the alarm as JSON, and a rule on a metric the run does not have is one
/// `error:` line before training. Each rule here fires on a value it cannot miss, whatever the
/// machine's speed: the loss is below 100 from step 1.
struct AlarmTests {
    static func config(_ toml: String, label: String) throws -> URL {
        let url = Tessera.temporaryDirectory(label + "-config").appendingPathComponent("alarm.toml")
        try toml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// The alarm rows of metrics.jsonl.
    static func alarmRows(_ run: TesseraRun) -> [[String: Any]] {
        let text = (try? String(contentsOf: run.runDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["alarm"] != nil }
    }

    @Test func aStopAlarmSavesACheckpointAndEndsEveryRankWithExitThree() throws {
        let toml = "[[alarm]]\nmetric = \"loss\"\nwhen = \"below\"\nvalue = 100\naction = \"stop\"\n"
        let run = Tessera.train(np: 2, config: try Self.config(toml, label: "alarm-stop"), overrides: ["train.log_every=5"],
                                label: "alarm-stop")
        #expect(run.status == 3, "exit \(run.status): \(run.stderr)")
        #expect(run.errorLines.isEmpty, "\(run.stderr)")
        let rows = Self.alarmRows(run)
        #expect(rows.count == 1 && rows[0]["step"] as? Int == 1 && rows[0]["alarm"] as? String == "loss"
            && rows[0]["when"] as? String == "below" && rows[0]["action"] as? String == "stop"
            && (rows[0]["value"] as? Double).map { $0 > 0 && $0 < 100 } == true, "\(rows)")
        #expect(run.stderr.components(separatedBy: "tessera: alarm at step 1: loss below 100.0").count == 2, "\(run.stderr)")
        #expect(run.stderr.contains("stopped at step 1 by the alarm on loss below"), "\(run.stderr)")
        // The stop's checkpoint is complete and named latest; the run's model.h5 is not written.
        let latest = run.runDir.appendingPathComponent("checkpoints/latest")
        #expect(try String(contentsOf: latest, encoding: .utf8) == "step_00000001\n")
        let verify = runCommand([Tessera.executable.path, "ckpt", "verify", run.runDir.path], timeout: 60)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run.runDir.appendingPathComponent("model.h5").path))

        // Without the rule, the run resumes from the stop's checkpoint and finishes.
        let resumed = Tessera.train(np: 2, label: "alarm-stop", runDir: run.runDir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming from") && resumed.losses.keys.max() == 12, "\(resumed.stderr)")
    }

    @Test func anExecAlarmGivesItsCommandTheAlarmAsJSONOnce() throws {
        let out = Tessera.temporaryDirectory("alarm-exec-out").appendingPathComponent("alarm.json")
        let toml = "[[alarm]]\nmetric = \"loss\"\nwhen = \"below\"\nvalue = 100\naction = \"exec\"\n"
            + "command = \"cat >> '\(out.path)'\"\n"
        let run = Tessera.train(np: 2, config: try Self.config(toml, label: "alarm-exec"), label: "alarm-exec")
        #expect(run.status == 0, "\(run.stderr)")
        // The loss stays below 100: one firing (at step 1), not one per step, and from rank 0 only.
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1, "\(lines)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any])
        #expect(object["step"] as? Int == 1 && object["alarm"] as? String == "loss" && object["when"] as? String == "below"
            && object["action"] as? String == "exec" && object["threshold"] as? Double == 100
            && object["run_dir"] as? String == run.runDir.path, "\(object)")
        #expect(Self.alarmRows(run).count == 1)
    }

    /// A rank stopped with SIGSTOP stalls the job: rank 0's watcher fires the `stalled` rule while
    /// the training thread waits in a collective, and its command runs then; the rank is continued
    /// only once the command has written, so nothing hangs on how fast the machine is.
    @Test func aStalledRuleFiresWhileTheRunIsStuckAndTheRunGoesOnAfterwards() throws {
        let out = Tessera.temporaryDirectory("alarm-stalled-out").appendingPathComponent("stalled.json")
        let toml = "[[alarm]]\nmetric = \"loss\"\nwhen = \"stalled\"\nvalue = 2\naction = \"exec\"\n"
            + "command = \"cat >> '\(out.path)'\"\n"
        let runDir = Tessera.temporaryDirectory("alarm-stalled")
        var written = false
        let run = Tessera.train(np: 2, config: try Self.config(toml, label: "alarm-stalled"), overrides: FailureTests.longRun,
                                label: "alarm-stalled", runDir: runDir, timeout: 300) {
            let stopped = FailureTests.signalRank(of: runDir, afterStep: 20, SIGSTOP)
            let start = Date()
            while !written && Date().timeIntervalSince(start) < 120 {
                Thread.sleep(forTimeInterval: 0.1)
                written = ((try? String(contentsOf: out, encoding: .utf8)) ?? "").hasSuffix("\n")
            }
            if let pid = stopped?.pid { kill(pid, SIGCONT) }
        }
        #expect(written, "no stalled alarm while a rank was stopped: \(run.stderr)")
        #expect(run.status == 0, "\(run.stderr)")
        let first = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").first ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any]
        #expect(object?["when"] as? String == "stalled" && (object?["value"] as? Double ?? 0) > 2, "\(String(describing: object))")
        #expect(Self.alarmRows(run).contains { $0["when"] as? String == "stalled" }, "\(Self.alarmRows(run))")
        #expect(run.stderr.contains("loss has had no new value for"), "\(run.stderr)")
    }

    @Test func aRuleOnAMetricTheRunDoesNotHaveIsOneErrorLineWithANearName() throws {
        let toml = "[[alarm]]\nmetric = \"grad_nrom\"\nwhen = \"above\"\nvalue = 10\n"
        let run = Tessera.train(np: 2, config: try Self.config(toml, label: "alarm-metric"), label: "alarm-metric")
        #expect(run.status == 2, "exit \(run.status): \(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("alarm.metric = \"grad_nrom\"")
            && run.errorLines[0].contains("did you mean 'grad_norm'?"), "\(run.stderr)")
        // val_loss exists only when the run evaluates.
        let validation = "[[alarm]]\nmetric = \"val_loss\"\nwhen = \"above\"\nvalue = 10\n"
        let none = Tessera.train(np: 2, config: try Self.config(validation, label: "alarm-val"), label: "alarm-val")
        #expect(none.status == 2 && none.errorLines.count == 1 && none.errorLines[0].contains("is not a metric of this run"),
                "\(none.stderr)")
        let evaluating = Tessera.train(np: 2, config: try Self.config(validation, label: "alarm-val2"),
                                       overrides: ["train.eval_every=6", "train.eval_steps=1"], label: "alarm-val2",
                                       extraArguments: ["--check"])
        #expect(evaluating.status == 0, "\(evaluating.stderr)")
    }
}
