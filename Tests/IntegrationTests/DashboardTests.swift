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
        let losses = run.losses, valLosses = run.valLosses
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

    @Test func dashboardsAreOffByDefault() throws {
        let run = Tessera.train(np: 1, overrides: ["train.steps=2"], label: "dashboards-off")
        #expect(run.status == 0, "\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: run.runDir.path)
        #expect(names.contains("metrics.jsonl") && !names.contains("tensorboard") && !names.contains("metrics.prom"), "\(names)")
    }
}
