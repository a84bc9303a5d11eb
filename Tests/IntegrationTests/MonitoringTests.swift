import Foundation
import Testing

/// `tessera monitor drift` and `tessera report` through the built binary: drift under the
/// threshold exits 0 and over it 3, data of different tokenizers 2 with one `error:` line; a drift
/// stage over its threshold stops `tessera pipeline` with exit 3 before the stages after it; a
/// trained run's report is a PNG and a markdown page.
@Suite(.serialized)
struct MonitoringTests {
    static var trained: TesseraRun { EvalTests.trained }
    static let corpus = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
    /// Text unlike a play: numbers and brackets, nearly disjoint from Shakespeare's characters.
    static func unlike(_ folder: URL) throws -> String {
        let url = folder.appendingPathComponent("numbers.txt")
        try String(repeating: "[0, 1, 2, 3] {4: 5, 6: 7} <8 9>\n", count: 200).write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    static func tessera(_ arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
        runCommand([Tessera.executable.path] + arguments, timeout: 120)
    }

    static func errorLines(_ stderr: String) -> [String] { stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("error:") } }

    /// The first and second halves of tiny Shakespeare, as two text files.
    static func halves(_ folder: URL) throws -> (String, String) {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: corpus))
        let a = folder.appendingPathComponent("first.txt"), b = folder.appendingPathComponent("second.txt")
        try bytes.prefix(bytes.count / 2).write(to: a)
        try bytes.suffix(bytes.count - bytes.count / 2).write(to: b)
        return (a.path, b.path)
    }

    @Test func driftUnderTheThresholdExits0AndOverItExits3() throws {
        let folder = Tessera.temporaryDirectory("drift-halves")
        let (first, second) = try Self.halves(folder)
        let same = Self.tessera(["monitor", "drift", "--reference", first, "--current", second, "--json"])
        #expect(same.status == 0 && same.stderr.isEmpty, "\(same)")
        #expect(same.stdout.split(separator: "\n").count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(same.stdout.utf8)) as? [String: Any], "\(same.stdout)")
        let js = try #require(object["js"] as? Double), psi = try #require(object["psi"] as? Double)
        #expect(js > 0 && js < 0.05 && psi > 0 && psi < 0.1, "two halves of one play: \(object)")
        #expect(object["metric"] as? String == "js" && object["threshold"] as? Double == 0.05 && object["drift"] as? Bool == false)
        #expect(object["psi_bins"] as? Int == 51 && object["loss_shift"] is NSNull && object["tokenizer"] as? String == "char (65 symbols)")

        // The same halves over a threshold below their divergence; Shakespeare against numbers over the default.
        let strict = Self.tessera(["monitor", "drift", "--reference", first, "--current", second, "--metric", "psi", "--threshold", "0"])
        #expect(strict.status == 3 && strict.stdout.contains("drift: psi ") && strict.stdout.contains(" is over the threshold 0.0"), "\(strict)")
        let other = Self.tessera(["monitor", "drift", "--reference", Self.corpus, "--current", try Self.unlike(folder)])
        #expect(other.status == 3 && Self.errorLines(other.stderr).isEmpty, "\(other)")
        #expect(other.stdout.split(separator: "\n").first == "reference: \(Self.corpus) (1115394 tokens)", "\(other.stdout)")
    }

    @Test func theLossShiftOfTheSameDataIsZeroAndAnotherTextsIsMeasured() throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        let (first, second) = try Self.halves(Tessera.temporaryDirectory("drift-loss"))
        let itself = Self.tessera(["monitor", "drift", "--reference", first, "--current", first, "--checkpoint", Self.trained.runDir.path,
                                   "--metric", "loss", "--threshold", "0", "--json"])
        #expect(itself.status == 0, "\(itself)")
        let a = try #require(try JSONSerialization.jsonObject(with: Data(itself.stdout.utf8)) as? [String: Any])
        #expect(a["loss_shift"] as? Double == 0 && a["js"] as? Double == 0 && a["windows"] as? Int == 32, "\(a)")
        let halves = Self.tessera(["monitor", "drift", "--reference", first, "--current", second, "--checkpoint", Self.trained.runDir.path,
                                   "--windows", "8", "--json"])
        let b = try #require(try JSONSerialization.jsonObject(with: Data(halves.stdout.utf8)) as? [String: Any], "\(halves)")
        let reference = try #require(b["loss_reference"] as? Double), current = try #require(b["loss_current"] as? Double)
        #expect(reference > 0 && current > 0 && abs((b["loss_shift"] as? Double ?? .nan) - (current - reference)) < 1e-12, "\(b)")
    }

    @Test func dataSetsOfDifferentTokenizersMissingOrEmptyDataExit2WithOneErrorLine() throws {
        let folder = Tessera.temporaryDirectory("drift-tokenizers")
        let (first, second) = try Self.halves(folder)
        let chars = folder.appendingPathComponent("chars").path, bytes = folder.appendingPathComponent("bytes").path
        let prepared = [Self.tessera(["prepare", "--tokenizer", "char", "--input", first, "--output", chars]),
                        Self.tessera(["prepare", "--tokenizer", "byte", "--input", second, "--output", bytes])]
        try #require(prepared.allSatisfy { $0.status == 0 }, "\(prepared)")
        let empty = folder.appendingPathComponent("empty.txt").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        let cases: [([String], String)] = [
            (["--reference", chars, "--current", bytes], "data sets of different tokenizers: prepared folder '\(chars)' is char (63 symbols), prepared folder '\(bytes)' is byte"),
            (["--reference", chars, "--current", second, "--checkpoint", Self.trained.runDir.path, "--json"], "data sets of different tokenizers"),
            (["--reference", first, "--current", folder.appendingPathComponent("missing.txt").path], "missing.txt' does not exist"),
            (["--reference", first, "--current", empty], "empty.txt' is empty"),
            (["--reference", first, "--current", second, "--metric", "loss"], "--metric loss needs --checkpoint"),
        ]
        for (arguments, mentions) in cases {
            let run = Self.tessera(["monitor", "drift"] + arguments)
            #expect(run.status == 2 && run.stdout.isEmpty, "\(arguments): \(run)")
            let lines = Self.errorLines(run.stderr)
            #expect(lines.count == 1 && lines[0].contains(mentions), "\(arguments): \(run.stderr)")
        }
        // A folder compared with the text it was prepared from: the same tokens, document ends left out.
        let own = Self.tessera(["monitor", "drift", "--reference", chars, "--current", first, "--threshold", "0"])
        #expect(own.status == 0 && own.stdout.contains("js: 0.0000"), "\(own)")
    }

    @Test func aDriftStageOverItsThresholdStopsThePipelineWithExit3() throws {
        let folder = Tessera.temporaryDirectory("drift-pipeline")
        let (first, second) = try Self.halves(folder)
        let config = folder.appendingPathComponent("pipeline.toml")
        try """
        [run]
        dir = "\(folder.appendingPathComponent("run").path)"
        [data]
        path = "\(first)"
        [model]
        n_layer = 1
        n_head = 2
        n_embd = 16
        block_size = 16
        [train]
        steps = 2

        [[stage]]
        name = "same-play"
        drift = { current = "\(second)" }

        [[stage]]
        name = "new-text"
        drift = { current = "\(try Self.unlike(folder))", threshold = 0.05 }

        [[stage]]
        name = "train"
        set = { "train.steps" = 2 }
        """.write(to: config, atomically: true, encoding: .utf8)
        let run = runMPI(np: 2, executable: Tessera.executable, arguments: ["pipeline", "--config", config.path], timeout: 120)
        #expect(run.status == 3, "\(run)")
        #expect(run.stdout.contains("| 1 | same-play | drift gate | js 0.00") && run.stdout.contains("is at or under the threshold 0.05"), "\(run.stdout)")
        #expect(run.stdout.contains("| 2 | new-text | drift gate | js 0."), "\(run.stdout)")
        let stop = run.stderr.split(separator: "\n").filter { $0.contains("stopping before the stages after it (exit 3)") }
        #expect(stop.count == 1 && stop[0].hasPrefix("tessera pipeline: stage 2 'new-text': js ") && stop[0].contains("is over the threshold 0.05"),
                "\(run.stderr)")
        #expect(Self.errorLines(run.stderr).isEmpty, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("run/stages/3-train").path))
    }

    @Test func aTrainedRunsReportIsAPNGAndAMarkdownPage() throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        let dir = Self.trained.runDir
        let run = Self.tessera(["report", dir.path])
        #expect(run.status == 0 && run.stderr.isEmpty, "\(run)")
        let png = [UInt8](try Data(contentsOf: dir.appendingPathComponent("report.png")))
        #expect(png.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] && Array(png[12..<24]) == Array("IHDR".utf8) + [0, 0, 4, 176, 0, 0, 3, 92],
                "a 1200 × 860 PNG")
        let summary = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
        for line in ["# Run report: \(dir.path)", "![loss, validation loss, learning rate, throughput and alarms](report.png)",
                     "| model | gpt2: 2 layers, 4 heads, 32 channels, block 16 |", "| steps | 12 |", "No alarm fired."] {
            #expect(summary.contains(line + "\n"), "\(line) in \(summary)")
        }
        #expect(summary.contains("| final training loss | ") && summary.contains(" | 12 |\n") && summary.contains("| median throughput | "))

        let missing = Self.tessera(["report", dir.appendingPathComponent("nothing-here").path])
        #expect(missing.status == 2 && Self.errorLines(missing.stderr).count == 1 && missing.stderr.contains("does not exist"), "\(missing)")
    }
}
