import DashboardReaders
import Foundation
import Testing
@testable import Training

/// The TensorBoard and Prometheus sinks, read back with readers written from the formats' specs.
struct DashboardSinkTests {
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "tessera-dashboards-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let trainRow: MetricsRow = [("step", .int(3)), ("loss", .number(2.875)), ("lr", .number(1e-4)),
                                       ("tokens_per_s", .number(41200.5)), ("skipped", .int(2))]
    static let evalRow: MetricsRow = [("step", .int(3)), ("val_loss", .number(3.25)), ("val_loss/wiki", .number(.nan))]

    @Test func referenceCRCMatchesTheCRC32CCheckValueAndTheWritersMask() {
        // The check value of CRC-32C (RFC 3720 B.4): "123456789" → e3069283.
        #expect(referenceCRC32C(Array("123456789".utf8)) == 0xe306_9283)
        let bytes = Array("brain.Event:2".utf8)
        #expect(TFRecord.maskedCRC(bytes) == referenceMaskedCRC(bytes))
    }

    @Test func eventEncodingIsByteExactForAKnownScalar() {
        // wall_time 1.0 (field 1, 64-bit), step 300 (field 2, varint ac 02), summary (field 5) holding one
        // Value { tag "a", simple_value 1.0f }.
        let expected: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xac, 0x02,
                                 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, 0x61, 0x15, 0, 0, 0x80, 0x3f]
        #expect(TensorBoardEvent.scalars(wallTime: 1, step: 300, values: [("a", 1)]) == expected)
    }

    @Test func eventFileHoldsFileVersionThenOneEventPerRowWithEveryScalar() throws {
        let dir = Self.temporaryDirectory()
        let before = Date().timeIntervalSince1970
        let log = try TensorBoardLog(directory: dir)
        try log.write(Self.trainRow)
        try log.write(Self.evalRow)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(files.count == 1)
        let name = try #require(files.first).split(separator: ".", maxSplits: 4)
        #expect(name.count == 5 && name[0] == "events" && name[1] == "out" && name[2] == "tfevents")
        let seconds = try #require(Double(name[3]))
        #expect(seconds >= before.rounded(.down) && seconds <= Date().timeIntervalSince1970)
        #expect(name[4] == TensorBoardLog.hostName()[...])

        let data = try Data(contentsOf: URL(fileURLWithPath: log.path))
        let events = try readTFRecords(Array(data)).map(DecodedEvent.init)
        #expect(events.count == 3)
        #expect(events[0].fileVersion == "brain.Event:2" && events[0].scalars.isEmpty)
        for event in events {
            let wall = try #require(event.wallTime)
            #expect(wall >= before - 1 && wall <= Date().timeIntervalSince1970 + 1)
            #expect(event.otherFields.isEmpty && event.sessionStatus == nil)
        }
        #expect(events[1].step == 3 && events[1].fileVersion == nil)
        #expect(events[1].scalars.map(\.tag) == ["loss", "lr", "tokens_per_s", "skipped"])
        #expect(events[1].scalars.map(\.value) == [2.875, Float(1e-4), Float(41200.5), 2])
        #expect(events[2].step == 3 && events[2].scalars.map(\.tag) == ["val_loss", "val_loss/wiki"])
        #expect(events[2].scalar("val_loss") == 3.25 && events[2].scalar("val_loss/wiki")!.isNaN)
    }

    @Test func readerRejectsAFlippedByteInEitherCRCedPart() throws {
        let dir = Self.temporaryDirectory()
        let log = try TensorBoardLog(directory: dir)
        try log.write(Self.trainRow)
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: log.path)))
        #expect(try readTFRecords(good).count == 2)
        for position in [0, 12, good.count - 5] {  // a length byte, a data byte, the last record's data
            var bad = good
            bad[position] ^= 0x10
            #expect(throws: ReadError.self) { try readTFRecords(bad) }
        }
    }

    @Test func resumedLogStartsANewFileWithASessionStartAtTheResumedStep() throws {
        let dir = Self.temporaryDirectory()
        let log = try TensorBoardLog(directory: dir, resumedAt: 5)
        try log.write([("step", .int(5)), ("loss", .number(1.5))])
        let events = try readTFRecords(Array(try Data(contentsOf: URL(fileURLWithPath: log.path)))).map(DecodedEvent.init)
        #expect(events.count == 3)
        #expect(events[1].sessionStatus == 1 && events[1].step == 5 && events[1].scalars.isEmpty)
        #expect(events[2].step == 5 && events[2].scalar("loss") == 1.5)
    }

    @Test func prometheusFileKeepsTheLatestValueOfEveryMetricAsGauges() throws {
        let dir = Self.temporaryDirectory()
        let file = PrometheusFile(path: dir + "/metrics.prom")
        try file.write(Self.trainRow)
        try file.write(Self.evalRow)
        try file.write([("step", .int(4)), ("loss", .number(2.5)), ("lr", .number(-.infinity))])
        let parsed = try PrometheusText(String(contentsOfFile: file.path, encoding: .utf8))
        #expect(parsed.order == ["tessera_step", "tessera_loss", "tessera_lr", "tessera_tokens_per_s",
                                 "tessera_skipped", "tessera_val_loss", "tessera_val_loss_wiki"])
        #expect(parsed.samples["tessera_step"] == 4 && parsed.samples["tessera_loss"] == 2.5)
        #expect(parsed.samples["tessera_lr"] == -.infinity && parsed.samples["tessera_tokens_per_s"] == 41200.5)
        #expect(parsed.samples["tessera_skipped"] == 2 && parsed.samples["tessera_val_loss"] == 3.25)
        #expect(parsed.samples["tessera_val_loss_wiki"]!.isNaN)
        for name in parsed.order {
            #expect(parsed.types[name] == "gauge")
            #expect(!(parsed.helps[name] ?? "").isEmpty)
        }
        #expect(parsed.helps["tessera_val_loss_wiki"]!.hasPrefix("val_loss/wiki"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["metrics.prom"])
    }

    @Test func metricNamesAreSanitisedToThePrometheusAlphabet() {
        #expect(PrometheusFile.metricName("val_loss/wiki-103.v2") == "tessera_val_loss_wiki_103_v2")
        #expect(PrometheusFile.metricName("a:b_C9") == "tessera_a:b_C9")
    }
}
