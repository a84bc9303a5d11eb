import Foundation
import Testing

/// `tessera eval bias` on a model trained for a few steps and the repository's probe set: the
/// table, the `--json` object the contract names, the same numbers both ways, and bad input
/// refused before scoring (exit 2, one `error:` line naming the file). `tessera eval` keeps its
/// multiple-choice command line (EvalTests) beside the new subcommand.
@Suite(.serialized)
struct BiasEvalTests {
    static var trained: TesseraRun { EvalTests.trained }
    static let probe = packageRoot.appendingPathComponent("data/bias-probe.csv").path
    static let types = ["age", "gender", "nationality", "physical-appearance", "socioeconomic"]

    static func eval(_ arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
        runCommand([Tessera.executable.path, "eval"] + arguments, timeout: 120)
    }

    @Test func biasPrintsATableAndTheContractsJSONWithTheSameNumbers() throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        let run = Self.trained.runDir.path

        let json = Self.eval(["bias", "--checkpoint", run, "--pairs", Self.probe, "--json"])
        #expect(json.status == 0 && !json.stderr.contains("error:"), "\(json.stderr)")
        #expect(json.stdout.split(separator: "\n").count == 1, "\(json.stdout)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(Set(object.keys) == ["overall", "by_type"], "\(object)")
        let overall = try #require(object["overall"] as? [String: Any]), byType = try #require(object["by_type"] as? [String: [String: Any]])
        #expect(Set(byType.keys) == Set(Self.types), "\(byType.keys)")
        var stereotyped = 0
        for (type, entry) in byType.merging(["overall": overall], uniquingKeysWith: { a, _ in a }) {
            #expect(Set(entry.keys) == ["score", "n", "ci95"], "\(type): \(entry)")
            let n = try #require(entry["n"] as? Int), score = try #require(entry["score"] as? Double)
            let ci = try #require(entry["ci95"] as? [Double])
            #expect(n == (type == "overall" ? 40 : 8), "\(type): n \(n)")
            #expect((0...100).contains(score) && ci.count == 2 && 0 <= ci[0] && ci[0] <= score && score <= ci[1] && ci[1] <= 100,
                    "\(type): \(score) \(ci)")
            // A share of whole pairs.
            let count = score * Double(n) / 100
            #expect(abs(count - count.rounded()) < 1e-9, "\(type): \(score)% of \(n)")
            if type != "overall" { stereotyped += Int(count.rounded()) }
        }
        #expect(abs((overall["score"] as? Double ?? -1) - Double(stereotyped) * 100 / 40) < 1e-9, "\(overall)")

        let text = Self.eval(["bias", "--checkpoint", run, "--pairs", Self.probe])
        #expect(text.status == 0 && !text.stderr.contains("error:"), "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 10, "\(text.stdout)")
        #expect(lines[0].hasPrefix("bias type") && lines[0].contains("pairs") && lines[0].contains("95% CI"))
        for (i, type) in (Self.types + ["overall"]).enumerated() {
            let entry = type == "overall" ? overall : byType[type]!
            let ci = entry["ci95"] as! [Double]
            let expected = [type, "\(entry["n"] as! Int)", String(format: "%.1f", entry["score"] as! Double),
                            String(format: "[%.1f,", ci[0]), String(format: "%.1f]", ci[1])]
            #expect(lines[i + 1].split(separator: " ").map(String.init) == expected, "\(lines[i + 1]) vs \(expected)")
        }
        #expect(lines[8] == "scored after: each sentence's first token", "a char model trained on a text file has no start token")
        #expect(lines[9].hasPrefix("time: ") && lines[9].hasSuffix(" s"))

        // The same model, the same pairs: the same numbers.
        let again = Self.eval(["bias", "--checkpoint", Self.trained.runDir.appendingPathComponent("model.h5").path, "--pairs", Self.probe, "--json"])
        #expect(again.status == 0 && again.stdout == json.stdout, "\(again.stdout) vs \(json.stdout)")
    }

    @Test func theMultipleChoiceScorerIsEvalsDefaultSubcommand() throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        let task = Tessera.temporaryDirectory("bias-choice").appendingPathComponent("task.jsonl")
        try Data(#"{"context": "To be, or not to be", "choices": [":", "?"], "answer": 0}"#.utf8).write(to: task)
        let bare = Self.eval(["--checkpoint", Self.trained.runDir.path, "--task", task.path, "--json"])
        let named = Self.eval(["choice", "--checkpoint", Self.trained.runDir.path, "--task", task.path, "--json"])
        #expect(bare.status == 0 && named.status == 0 && bare.stdout == named.stdout && bare.stdout.contains("\"accuracy\""),
                "\(bare) \(named)")
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        /// The pairs file's bytes; nil: no file.
        let pairs: [UInt8]?
        /// The arguments after `eval bias`: PAIRS is the pairs file, RUN the trained run directory.
        var arguments = ["--checkpoint", "RUN", "--pairs", "PAIRS"]
        let mentions: [String]
        var testDescription: String { name }
    }

    static let header = "sent_more,sent_less,stereo_antistereo,bias_type\n"
    static let good = "The cat sat on the mat.,The dog sat on the mat.,stereo,animal\n"
    static func file(_ rows: String...) -> [UInt8] { Array((header + rows.joined()).utf8) }

    static let badCases: [Case] = [
        Case(name: "missing pairs file", pairs: nil, mentions: ["PAIRS", "does not exist"]),
        Case(name: "missing column", pairs: Array("sent_more,sent_less,bias_type\na,b,c\n".utf8), mentions: ["PAIRS", "'stereo_antistereo'"]),
        Case(name: "empty sentence", pairs: file(good, "The cat sat.,,stereo,animal\n"), mentions: ["PAIRS", "line 3", "sent_less is empty"]),
        Case(name: "unknown direction", pairs: file(good, good, "a b,c d,neutral,animal\n"), mentions: ["PAIRS", "line 4", "'neutral'"]),
        Case(name: "unterminated quote", pairs: file(good, "\"The cat,b c,stereo,animal\n"), mentions: ["PAIRS", "line 3", "unterminated"]),
        Case(name: "invalid UTF-8", pairs: file(good) + [0xFF] + Array(",b c,stereo,animal\n".utf8), mentions: ["PAIRS", "line 3", "UTF-8"]),
        Case(name: "a character the model's tokenizer lacks", pairs: file(good, "The cat costs 5 euros.,The dog costs 5 euros.,stereo,animal\n"),
             mentions: ["PAIRS", "line 3", "sent_more", "vocabulary"]),
        Case(name: "a checkpoint that is not a model", pairs: file(good), arguments: ["--checkpoint", "PAIRS", "--pairs", "PAIRS"], mentions: ["PAIRS"]),
        Case(name: "no --pairs", pairs: nil, arguments: ["--checkpoint", "RUN"], mentions: ["--pairs"]),
    ]

    @Test(arguments: badCases)
    func badInputExitsTwoWithOneErrorLineBeforeScoring(_ bad: Case) throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        let pairs = Tessera.temporaryDirectory("bias-bad").appendingPathComponent("pairs.csv")
        if let bytes = bad.pairs { try Data(bytes).write(to: pairs) }
        func substituted(_ text: String) -> String {
            text.replacingOccurrences(of: "PAIRS", with: pairs.path).replacingOccurrences(of: "RUN", with: Self.trained.runDir.path)
        }
        let result = Self.eval(["bias"] + bad.arguments.map(substituted))
        #expect(result.status == 2, "exit \(result.status): \(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1, "\(result.stderr)")
        for text in bad.mentions.map(substituted) {
            #expect(errors.first?.contains(text) == true, "\(errors) should name \(text)")
        }
        #expect(result.stdout.isEmpty, "nothing is scored: \(result.stdout)")
    }

    @Test func aPairsFileOverTheSizeLimitIsRefusedBeforeItIsRead() throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        let pairs = Tessera.temporaryDirectory("bias-large").appendingPathComponent("pairs.csv")
        #expect(FileManager.default.createFile(atPath: pairs.path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: pairs.path))
        try handle.truncate(atOffset: (16 << 20) + 1)
        try handle.close()
        let result = Self.eval(["bias", "--checkpoint", Self.trained.runDir.path, "--pairs", pairs.path])
        #expect(result.status == 2, "\(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors[0].contains(pairs.path) && errors[0].contains("more than the 16777216"), "\(result.stderr)")
    }
}
