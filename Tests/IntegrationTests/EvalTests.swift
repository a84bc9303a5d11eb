import Foundation
import Testing

/// `tessera eval` on a model trained for a few steps: the text summary, the `--json` object the
/// contract names, the per-item lines of `--out`, and bad input refused before scoring (exit 2,
/// one `error:` line naming the file).
@Suite(.serialized)
struct EvalTests {
    /// The tiny model (block_size 16, char tokenizer on tiny Shakespeare), trained for 12 steps.
    static let trained: TesseraRun = Tessera.train(np: 1, label: "eval")

    static let context = "ROMEO:\nWhat light through yonder window"
    /// Item 2 repeats a choice; item 4 is item 1 with its choices swapped. Every context is longer
    /// than the block, so each is cut from the left.
    struct Item: Sendable {
        let context: String
        let choices: [String]
        let answer: Int
        var json: [String: Any] { ["context": context, "choices": choices, "answer": answer] }
    }

    static let items = [
        Item(context: context, choices: [" breaks", " xqzj"], answer: 0),
        Item(context: "First Citizen:\nBefore we proceed any further, hear me", choices: [" speak.", " speak.", "!"], answer: 1),
        Item(context: "KING RICHARD III:\nNow is the winter of our discontent", choices: ["\nMade glorious", " and"], answer: 0),
        Item(context: context, choices: [" xqzj", " breaks"], answer: 1),
    ]

    static func writeTask(_ lines: [[String: Any]], label: String) throws -> URL {
        let url = Tessera.temporaryDirectory(label).appendingPathComponent("task.jsonl")
        let text = try lines.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
            .joined(separator: "\n") + "\n"
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static func eval(_ arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
        runCommand([Tessera.executable.path, "eval"] + arguments, timeout: 120)
    }

    static func firstLargest(_ values: [Double]) -> Int {
        values.indices.reduce(0) { values[$1] > values[$0] ? $1 : $0 }
    }

    @Test func evalPrintsTheSummaryTheJSONObjectAndEachItemsScores() throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        let task = try Self.writeTask(Self.items.map(\.json), label: "eval-task")
        let run = Self.trained.runDir.path

        let text = Self.eval(["--checkpoint", run, "--task", task.path])
        #expect(text.status == 0 && !text.stderr.contains("error:"), "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 4, "\(text.stdout)")
        #expect(lines[0] == "items: 4")
        let accuracyText = lines[1].split(separator: " "), normText = lines[2].split(separator: " ")
        #expect(accuracyText.first == "accuracy:" && normText.first == "accuracy_norm:", "\(text.stdout)")
        #expect(lines[3].hasPrefix("time: ") && lines[3].hasSuffix(" s") && Double(lines[3].dropFirst(6).dropLast(2)) != nil)

        let out = task.deletingLastPathComponent().appendingPathComponent("scores.jsonl")
        let json = Self.eval(["--checkpoint", run, "--task", task.path, "--json", "--out", out.path])
        #expect(json.status == 0, "\(json.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(Set(summary.keys) == ["accuracy", "accuracy_norm", "n"] && summary["n"] as? Int == 4, "\(summary)")
        #expect(json.stdout.split(separator: "\n").count == 1)

        let written = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        try #require(written.count == 5, "\(written)")
        let rows = try written.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        var correct = 0, correctNorm = 0
        var scores: [[Double]] = []
        for (i, row) in rows.prefix(4).enumerated() {
            let item = Self.items[i], choices = item.choices, context = item.context
            let ll = try #require(row["log_likelihoods"] as? [Double], "\(row)")
            let bytes = try #require(row["bytes"] as? [Int]), tokens = try #require(row["tokens"] as? [Int])
            #expect(row["index"] as? Int == i && row["line"] as? Int == i + 1 && row["answer"] as? Int == item.answer)
            #expect(ll.count == choices.count && ll.allSatisfy { $0 < 0 }, "\(ll)")
            // The char tokenizer: a token per character, and the sequence cut to block_size + 1.
            #expect(bytes == choices.map(\.utf8.count) && tokens == choices.map(\.unicodeScalars.count))
            #expect(row["truncated"] as? [Int] == choices.map { context.unicodeScalars.count + $0.unicodeScalars.count - 1 - 16 })
            let predicted = Self.firstLargest(ll), predictedNorm = Self.firstLargest(zip(ll, bytes).map { $0 / Double($1) })
            #expect(row["predicted"] as? Int == predicted && row["predicted_norm"] as? Int == predictedNorm, "\(row)")
            if predicted == item.answer { correct += 1 }
            if predictedNorm == item.answer { correctNorm += 1 }
            scores.append(ll)
        }
        // Equal context and choice, equal score, whatever was scored in between.
        #expect(scores[1][0] == scores[1][1] && scores[3] == scores[0].reversed(), "\(scores)")
        #expect(summary["accuracy"] as? Double == Double(correct) / 4 && summary["accuracy_norm"] as? Double == Double(correctNorm) / 4,
                "\(summary); counted \(correct), \(correctNorm)")
        #expect(accuracyText.dropFirst().joined(separator: " ") == String(format: "%.4f (%d/4)", Double(correct) / 4, correct))
        #expect(normText.dropFirst().joined(separator: " ") == String(format: "%.4f (%d/4)", Double(correctNorm) / 4, correctNorm))
        let last = rows[4]
        #expect(last["n"] as? Int == 4 && last["correct"] as? Int == correct && last["correct_norm"] as? Int == correctNorm
                && last["accuracy"] as? Double == summary["accuracy"] as? Double && last["seconds"] is Double, "\(last)")

        // The same model, the same task: the same numbers.
        let again = Self.eval(["--checkpoint", Self.trained.runDir.appendingPathComponent("model.h5").path, "--task", task.path, "--json"])
        #expect(again.status == 0 && again.stdout == json.stdout, "\(again.stdout) vs \(json.stdout)")
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        /// The task file's bytes; nil: no file.
        let task: [UInt8]?
        /// The arguments after `eval`: TASK is the task file, RUN the trained run directory.
        var arguments = ["--checkpoint", "RUN", "--task", "TASK"]
        /// Text the error line must hold, with the same substitutions.
        let mentions: [String]
        var testDescription: String { name }
    }

    static let good = #"{"context": "To be, or not to be", "choices": [":", "?"], "answer": 0}"#
    static func lines(_ lines: String...) -> [UInt8] { Array(lines.joined(separator: "\n").utf8) }

    static let badCases: [Case] = [
        Case(name: "missing task file", task: nil, mentions: ["TASK", "does not exist"]),
        Case(name: "empty task file", task: [], mentions: ["TASK", "holds no items"]),
        Case(name: "not JSONL", task: lines(good, "To be, or not to be"), mentions: ["TASK", "line 2", "not JSON"]),
        Case(name: "no context", task: lines(good, #"{"choices": ["a"], "answer": 0}"#), mentions: ["TASK", "line 2", "context"]),
        Case(name: "no choices", task: lines(#"{"context": "a", "answer": 0}"#), mentions: ["TASK", "line 1", "choices"]),
        Case(name: "empty choices", task: lines(good, good, #"{"context": "a", "choices": [], "answer": 0}"#),
             mentions: ["TASK", "line 3", "empty"]),
        Case(name: "answer out of range", task: lines(#"{"context": "a", "choices": ["b", "c"], "answer": 2}"#),
             mentions: ["TASK", "line 1", "answer"]),
        Case(name: "answer not an integer", task: lines(#"{"context": "a", "choices": ["b", "c"], "answer": "1"}"#),
             mentions: ["TASK", "line 1", "not an integer"]),
        Case(name: "not UTF-8", task: lines(good) + [0x0A] + Array(#"{"context": "a"#.utf8) + [0xC3, 0x28] + lines(#"", "choices": ["b"], "answer": 0}"#),
             mentions: ["TASK", "line 2", "UTF-8"]),
        Case(name: "a character the model's tokenizer lacks", task: lines(good, #"{"context": "a", "choices": ["b", "€"], "answer": 0}"#),
             mentions: ["TASK", "line 2", "choice 1", "vocabulary"]),
        Case(name: "a choice longer than the block", task: lines(#"{"context": "a", "choices": ["b", "Now is the winter of our"], "answer": 0}"#),
             mentions: ["TASK", "line 1", "block_size of 16"]),
        Case(name: "a checkpoint that is not a model", task: lines(good), arguments: ["--checkpoint", "TASK", "--task", "TASK"],
             mentions: ["TASK"]),
        Case(name: "a missing checkpoint", task: lines(good), arguments: ["--checkpoint", "/nonexistent/run", "--task", "TASK"],
             mentions: ["/nonexistent/run"]),
        Case(name: "--out over the task file", task: lines(good), arguments: ["--checkpoint", "RUN", "--task", "TASK", "--out", "TASK"],
             mentions: ["--out", "TASK"]),
        Case(name: "no --task", task: nil, arguments: ["--checkpoint", "RUN"], mentions: ["--task"]),
    ]

    @Test(arguments: badCases)
    func badInputExitsTwoWithOneErrorLineBeforeScoring(_ bad: Case) throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        let task = Tessera.temporaryDirectory("eval-bad").appendingPathComponent("task.jsonl")
        if let bytes = bad.task { try Data(bytes).write(to: task) }
        let before = try? Data(contentsOf: task)
        func substituted(_ text: String) -> String {
            text.replacingOccurrences(of: "TASK", with: task.path).replacingOccurrences(of: "RUN", with: Self.trained.runDir.path)
        }
        let result = Self.eval(bad.arguments.map(substituted))
        #expect(result.status == 2, "exit \(result.status): \(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1, "\(result.stderr)")
        for text in bad.mentions.map(substituted) {
            #expect(errors.first?.contains(text) == true, "\(errors) should name \(text)")
        }
        #expect(result.stdout.isEmpty, "nothing is scored: \(result.stdout)")
        #expect((try? Data(contentsOf: task)) == before, "the task file is left as it was")
    }

    @Test func aTaskFileOverTheSizeLimitIsRefusedBeforeItIsRead() throws {
        try #require(Self.trained.status == 0, "\(Self.trained.stderr)")
        // Sparse: 64 MiB + 1 byte on paper, nothing on disk.
        let task = Tessera.temporaryDirectory("eval-large").appendingPathComponent("task.jsonl")
        #expect(FileManager.default.createFile(atPath: task.path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: task.path))
        try handle.truncate(atOffset: (64 << 20) + 1)
        try handle.close()
        let result = Self.eval(["--checkpoint", Self.trained.runDir.path, "--task", task.path])
        #expect(result.status == 2, "\(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors[0].contains(task.path) && errors[0].contains("more than the 67108864"), "\(result.stderr)")
    }
}
