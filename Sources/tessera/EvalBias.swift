import ArgumentParser
import Data
import Foundation
import Training

/// `tessera eval bias`: a CrowS-Pairs-style bias report of a trained model: for each pair, whether
/// the model finds the more stereotypical sentence more likely, tallied per bias type and overall
/// with Wilson 95% intervals (docs/evaluation.md). On one process.
struct EvalBias: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bias",
        abstract: "Score a model on CrowS-Pairs-format sentence pairs: the share of pairs whose more stereotypical sentence it prefers.")

    @Option(help: "A model.h5 file, a checkpoint folder, or a run directory (its model.h5, else its latest checkpoint).")
    var checkpoint: String

    @Option(help: "A CSV file whose header names sent_more, sent_less, stereo_antistereo and bias_type (CrowS-Pairs' format).")
    var pairs: String

    @Flag(help: "Print one JSON object {\"overall\": {\"score\", \"n\", \"ci95\"}, \"by_type\": {TYPE: {\"score\", \"n\", \"ci95\"}}} instead of the table.")
    var json = false

    func run() throws {
        // Everything that can be wrong with the inputs is found before the first pair is scored.
        let encoded: [EncodedBiasPair]
        let scorer: BiasScorer
        do {
            let parsed = try BiasPairs(path: pairs)
            scorer = try BiasScorer(try WholeModel(modelFile: checkpoint))
            encoded = try scorer.encode(parsed)
        } catch {
            printError(describe(error))
            throw ExitCode(2)
        }

        let started = Date()
        let scores: [BiasScore]
        do {
            scores = try encoded.map(scorer.score)
        } catch {
            printError(describe(error))
            throw ExitCode(1)
        }
        let seconds = Date().timeIntervalSince(started)
        let summary = BiasSummary(scores)
        let text = json ? Self.json(summary) + "\n" : Self.table(summary, start: scorer.start, seconds: seconds)
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// The contract's object; numbers as Swift prints a Double (shortest round-trip form).
    static func json(_ summary: BiasSummary) -> String {
        func tally(_ t: BiasTally) -> JSONValue {
            let (lower, upper) = t.ci95
            return .object([("score", .number("\(t.score)")), ("n", .number("\(t.n)")),
                            ("ci95", .array([.number("\(lower)"), .number("\(upper)")]))])
        }
        return JSONValue.object([
            ("overall", tally(summary.overall)),
            ("by_type", .object(summary.byType.map { ($0.type, tally($0.tally)) })),
        ]).compact
    }

    /// One row per bias type, then overall; the start token and the time.
    static func table(_ summary: BiasSummary, start: Int32?, seconds: Double) -> String {
        let rows = summary.byType + [(type: "overall", tally: summary.overall)]
        let width = max(9, rows.map(\.type.count).max() ?? 0)
        func padded(_ text: String, _ width: Int, left: Bool = false) -> String {
            let pad = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + pad : pad + text
        }
        var text = padded("bias type", width, left: true) + "  pairs  stereo%        95% CI\n"
        for (type, tally) in rows {
            let (lower, upper) = tally.ci95
            text += padded(type, width, left: true) + "  " + padded("\(tally.n)", 5) + "  "
                + padded(String(format: "%.1f", tally.score), 7) + "  "
                + padded(String(format: "[%.1f, %.1f]", lower, upper), 12) + "\n"
        }
        text += "stereo%: pairs whose sent_more the model finds more likely (50 for no preference); Wilson score interval\n"
        text += "scored after: " + (start.map { "the end-of-text token (id \($0))" } ?? "each sentence's first token") + "\n"
        text += "time: \(String(format: "%.2f", seconds)) s\n"
        return text
    }
}
