import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Data
import Foundation
import Training

/// `tessera eval`: scores of a trained model, on one process (docs/evaluation.md). The
/// multiple-choice scorer is the default subcommand, so `tessera eval --checkpoint C --task F`
/// means `tessera eval choice --checkpoint C --task F`.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a model: multiple-choice accuracy (the default) or a sentence-pair bias report.",
        subcommands: [EvalChoice.self, EvalBias.self], defaultSubcommand: EvalChoice.self)
}

/// `tessera eval [choice]`: multiple-choice accuracy of a trained model on a JSONL task, scored as
/// lm-evaluation-harness scores its multiple-choice tasks (docs/evaluation.md). On one process.
struct EvalChoice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "choice",
        abstract: "Score a model on a multiple-choice task: accuracy and length-normalised accuracy.")

    @Option(help: "A model.h5 file, a checkpoint folder, or a run directory (its model.h5, else its latest checkpoint).")
    var checkpoint: String

    @Option(help: "A JSONL file of items {\"context\": ..., \"choices\": [...], \"answer\": INDEX}.")
    var task: String

    @Flag(help: "Print one JSON object {\"accuracy\", \"accuracy_norm\", \"n\"} instead of the text summary.")
    var json = false

    @Option(help: "Write each item's scores to this file as a JSON line, then the summary as the last line.")
    var out: String?

    func run() throws {
        // Everything that can be wrong with the inputs is found before the first item is scored.
        let items: [EncodedChoiceItem]
        let scorer: ChoiceScorer
        let output: FileHandle?
        do {
            let parsed = try ChoiceTask(path: task)
            scorer = try ChoiceScorer(try WholeModel(modelFile: checkpoint))
            items = try scorer.encode(parsed)
            output = try out.map(openOutput)
        } catch {
            printError(describe(error))
            throw ExitCode(2)
        }
        defer { try? output?.close() }

        let started = Date()
        var scores: [ChoiceScore] = []
        do {
            for (index, item) in items.enumerated() {
                let score = try scorer.score(item)
                scores.append(score)
                try output?.write(contentsOf: Data((itemLine(score, index: index, line: item.line) + "\n").utf8))
            }
        } catch {
            printError(describe(error))
            throw ExitCode(1)
        }
        let seconds = Date().timeIntervalSince(started)
        let summary = ChoiceSummary(scores)
        if let output {
            let line = "{\"n\": \(summary.items), \"accuracy\": \(summary.accuracy), \"accuracy_norm\": \(summary.accuracyNorm), "
                + "\"correct\": \(summary.correct), \"correct_norm\": \(summary.correctNorm), \"seconds\": \(seconds)}\n"
            try output.write(contentsOf: Data(line.utf8))
        }
        let text = json
            ? "{\"accuracy\": \(summary.accuracy), \"accuracy_norm\": \(summary.accuracyNorm), \"n\": \(summary.items)}\n"
            : "items: \(summary.items)\n"
                + "accuracy: \(String(format: "%.4f", summary.accuracy)) (\(summary.correct)/\(summary.items))\n"
                + "accuracy_norm: \(String(format: "%.4f", summary.accuracyNorm)) (\(summary.correctNorm)/\(summary.items))\n"
                + "time: \(String(format: "%.2f", seconds)) s\n"
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// `--out`, created or emptied; never the task file itself.
    func openOutput(_ path: String) throws -> FileHandle {
        var a = stat(), b = stat()
        if stat(path, &a) == 0, stat(task, &b) == 0, a.st_dev == b.st_dev, a.st_ino == b.st_ino {
            throw SetupError("--out '\(path)' is the task file; give another file for the per-item scores")
        }
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw SetupError("cannot write --out '\(path)'")
        }
        return handle
    }

    /// One item's scores as a JSON object on one line.
    func itemLine(_ score: ChoiceScore, index: Int, line: Int) -> String {
        func list<T>(_ values: [T]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
        return "{\"index\": \(index), \"line\": \(line), \"answer\": \(score.answer), \"predicted\": \(score.predicted), "
            + "\"predicted_norm\": \(score.predictedNorm), \"log_likelihoods\": \(list(score.logLikelihoods)), "
            + "\"tokens\": \(list(score.tokenCounts)), \"bytes\": \(list(score.byteCounts)), \"truncated\": \(list(score.truncated))}"
    }
}
