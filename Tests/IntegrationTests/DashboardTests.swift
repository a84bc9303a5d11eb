import DashboardReaders
import Foundation
import Testing

/// `run.tensorboard` and `run.prometheus` on 2 ranks: the event file and metrics.prom carry the
/// same values as metrics.jsonl, and only the logging rank writes them.
struct DashboardTests {
    @Test func twoRankRunWritesOneEventFileAndMetricsPromMatchingMetricsJSONL() throws {
        let run = Tessera.train(np: 2, overrides: ["run.tensorboard=true", "run.prometheus=true",
                                                   "train.eval_every=6", "train.eval_steps=2"], label: "dashboards")
        #expect(run.status == 0, "\(run.stderr)")
        let losses = try exactValues(run, key: "loss"), valLosses = try exactValues(run, key: "val_loss")
        #expect(losses.count == 12 && valLosses.count == 2, "\(losses) \(valLosses)")

        // One event file: a second writing rank would add a file or, in the same second, duplicate records.
        let board = run.runDir.appendingPathComponent("tensorboard")
        let files = try FileManager.default.contentsOfDirectory(atPath: board.path)
        #expect(files.count == 1 && files[0].hasPrefix("events.out.tfevents."), "\(files)")
        let data = try Data(contentsOf: board.appendingPathComponent(try #require(files.first)))
        let events = try readTFRecords(Array(data)).map(DecodedEvent.init)
        #expect(events.first?.fileVersion == "brain.Event:2")
        #expect(events.filter { $0.fileVersion != nil }.count == 1)

        var eventLosses: [Int: Float] = [:], eventValLosses: [Int: Float] = [:]
        for event in events {
            if let loss = event.scalar("loss") {
                #expect(eventLosses[Int(event.step)] == nil, "step \(event.step) logged twice")
                eventLosses[Int(event.step)] = loss
                #expect(event.scalar("lr") != nil && event.scalar("tokens_per_s") != nil)
            }
            if let loss = event.scalar("val_loss") { eventValLosses[Int(event.step)] = loss }
        }
        #expect(eventLosses == losses.mapValues { Float($0) })
        #expect(eventValLosses == valLosses.mapValues { Float($0) })

        // metrics.prom: the latest row's values, exactly as metrics.jsonl wrote them.
        let prom = try PrometheusText(String(contentsOf: run.runDir.appendingPathComponent("metrics.prom"), encoding: .utf8))
        let last = try #require(losses.keys.max())
        #expect(prom.samples["tessera_step"] == Double(last))
        #expect(prom.samples["tessera_loss"] == losses[last])
        #expect(prom.samples["tessera_val_loss"] == valLosses[try #require(valLosses.keys.max())])
        #expect(prom.types["tessera_loss"] == "gauge")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.runDir.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// A run that logged steps 9–12 past its last checkpoint (step 8) resumes there: the new event
    /// file opens with a SessionLog START at step 9, so TensorBoard's rule (drop earlier events at
    /// steps from 9 on) leaves each step once with metrics.jsonl's loss.
    @Test func resumedRunAddsAnEventFileWhoseSessionStartOrphansTheCrashedSteps() throws {
        let dashboards = ["run.tensorboard=true", "run.prometheus=true", "checkpoint.every=8"]
        let first = Tessera.train(np: 2, overrides: dashboards, label: "dashboards-resume")
        #expect(first.status == 0, "\(first.stderr)")
        // The state a crash after logging step 12 but before its save completed leaves.
        let checkpoints = first.runDir.appendingPathComponent("checkpoints")
        try FileManager.default.removeItem(at: checkpoints.appendingPathComponent("step_00000012"))
        try "step_00000008\n".write(to: checkpoints.appendingPathComponent("latest"), atomically: true, encoding: .utf8)
        Thread.sleep(forTimeInterval: 1.1)  // a new second, so a new file name
        let resumed = Tessera.train(np: 2, overrides: dashboards + ["train.steps=16"], label: "dashboards-resume",
                                    runDir: first.runDir)
        #expect(resumed.status == 0, "\(resumed.stderr)")

        let board = first.runDir.appendingPathComponent("tensorboard")
        let files = try FileManager.default.contentsOfDirectory(atPath: board.path).sorted()
        try #require(files.count == 2, "\(files)")
        let old = try readTFRecords(Array(Data(contentsOf: board.appendingPathComponent(files[0])))).map(DecodedEvent.init)
        let new = try readTFRecords(Array(Data(contentsOf: board.appendingPathComponent(files[1])))).map(DecodedEvent.init)
        #expect(old.compactMap { $0.scalar("loss") }.count == 12)
        try #require(new.count > 2)
        #expect(new[0].fileVersion == "brain.Event:2")
        #expect(new[1].sessionStatus == 1 && new[1].step == 9)
        var merged: [Int: Float] = [:]
        for event in old.filter({ $0.step < 9 }) + new {
            guard let loss = event.scalar("loss") else { continue }
            #expect(merged[Int(event.step)] == nil, "step \(event.step) twice")
            merged[Int(event.step)] = loss
        }
        let losses = try exactValues(resumed, key: "loss")
        #expect(losses.count == 16)
        #expect(merged == losses.mapValues { Float($0) })
        let prom = try PrometheusText(String(contentsOf: first.runDir.appendingPathComponent("metrics.prom"), encoding: .utf8))
        #expect(prom.samples["tessera_step"] == 16 && prom.samples["tessera_loss"] == losses[16])
    }

    /// step → `key` from metrics.jsonl, parsed from the number's text with `Double(_:)`: Foundation's
    /// JSONSerialization on Linux can miss the nearest double by a few units in the last place
    /// (3.6622272543609142 read as ...156), which an exact comparison would take for a mismatch.
    func exactValues(_ run: TesseraRun, key: String) throws -> [Int: Double] {
        let text = try String(contentsOf: run.runDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        func field(_ line: Substring, _ name: String) -> Substring? {
            guard let start = line.range(of: "\"\(name)\": ")?.upperBound else { return nil }
            return line[start...].prefix { $0 != "," && $0 != "}" }
        }
        var values: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let step = field(line, "step").flatMap({ Int($0) }), let value = field(line, key) else { continue }
            guard let number = Double(String(value)) else {
                Issue.record("\(key) is not a number in \(line)")
                continue
            }
            values[step] = number
        }
        return values
    }

    @Test func dashboardsAreOffByDefault() throws {
        let run = Tessera.train(np: 1, overrides: ["train.steps=2"], label: "dashboards-off")
        #expect(run.status == 0, "\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: run.runDir.path)
        #expect(names.contains("metrics.jsonl") && !names.contains("tensorboard") && !names.contains("metrics.prom"), "\(names)")
    }
}
