import ArgumentParser
import Config
import Data
import Foundation
import Training

/// `tessera monitor`: checks on data and models outside training (docs/monitoring.md).
struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check data against what a model was trained on.",
        subcommands: [MonitorDrift.self])
}

/// `tessera monitor drift`: how far the current data's token distribution (and, with a checkpoint,
/// the model's loss) has moved from the reference's. Exit 0 at or under the threshold, 3 over it,
/// 2 for bad input. On one process.
struct MonitorDrift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Token-distribution drift (Jensen-Shannon, PSI) and loss shift between two data sets; exit 3 over the threshold.")

    @Option(help: "The data the model knows: a text file or a folder from `tessera prepare`.")
    var reference: String

    @Option(help: "The new data: a text file or a folder from `tessera prepare`.")
    var current: String

    @Option(help: "A model.h5, checkpoint folder or run directory: its tokenizer reads text files, and its loss shift is measured.")
    var checkpoint: String?

    @Option(help: "The figure the threshold applies to: js (default), psi, or loss (needs --checkpoint).")
    var metric: DriftMetric = .js

    @Option(help: "Drift when the metric is over this (default: js 0.05, psi 0.25, loss 0.1).")
    var threshold: Double?

    @Option(help: "For two text files without --checkpoint: char (default, the vocabulary of both files), byte or sentencepiece.")
    var tokenizer: TokenizerKind?

    @Option(help: "The SentencePiece .model for --tokenizer sentencepiece.")
    var tokenizerModel = ""

    @Option(help: "Windows of block_size + 1 tokens each data set is scored on with --checkpoint.")
    var windows = 32

    @Flag(help: "Print one JSON object instead of the text summary.")
    var json = false

    func validate() throws {
        if metric == .loss && checkpoint == nil { throw ValidationError("--metric loss needs --checkpoint: the loss shift is the model's") }
        if let threshold, !(threshold >= 0 && threshold.isFinite) { throw ValidationError("--threshold \(threshold) must be a finite number ≥ 0") }
        if !(1...4096).contains(windows) { throw ValidationError("--windows \(windows) must be in [1, 4096]") }
    }

    func run() throws {
        let measurement: DriftMeasurement
        do {
            measurement = try DriftCheck.measure(reference: reference, current: current, checkpoint: checkpoint, textTokenizer: tokenizer,
                                                 tokenizerModel: tokenizerModel, windows: windows)
        } catch let error as RunError {
            printError(describe(error))
            throw ExitCode(1)
        } catch {
            printError(describe(error))
            throw ExitCode(2)
        }
        let limit = threshold ?? metric.defaultThreshold
        let value = measurement.value(of: metric)!  // validate() made sure loss has a checkpoint
        let text = json ? Self.json(measurement, metric: metric, threshold: limit) + "\n" : Self.text(measurement, metric: metric, threshold: limit)
        FileHandle.standardOutput.write(Data(text.utf8))
        if value > limit { throw ExitCode(3) }
    }

    /// "js 0.0123 is over the threshold 0.05" (or "at or under").
    static func verdict(_ measurement: DriftMeasurement, metric: DriftMetric, threshold: Double) -> String {
        let value = measurement.value(of: metric) ?? .nan
        return "\(metric.rawValue) \(String(format: "%.4f", value)) is \(value > threshold ? "over" : "at or under") the threshold \(threshold)"
    }

    static func text(_ m: DriftMeasurement, metric: DriftMetric, threshold: Double) -> String {
        var lines = [
            "reference: \(m.reference) (\(m.referenceTokens) tokens)",
            "current: \(m.current) (\(m.currentTokens) tokens)",
            "tokenizer: \(m.tokenizer)",
            "js: \(String(format: "%.4f", m.js)) bits (Jensen-Shannon of the unigram distributions: 0 same, 1 disjoint)",
            "psi: \(String(format: "%.4f", m.psi)) (\(m.psiBins) bins: the reference's top \(DriftCheck.psiTop) tokens and other; empty share \(DriftCheck.psiEpsilon))",
        ]
        if let reference = m.referenceLoss, let current = m.currentLoss, let shift = m.lossShift, let windows = m.windows {
            lines.append("loss: \(String(format: "%.4f", reference)) -> \(String(format: "%.4f", current)) nats/token, shift "
                + String(format: "%+.4f", shift) + " (\(windows) windows of block_size + 1 tokens each)")
        }
        lines.append("drift: " + verdict(m, metric: metric, threshold: threshold))
        return lines.joined(separator: "\n") + "\n"
    }

    static func json(_ m: DriftMeasurement, metric: DriftMetric, threshold: Double) -> String {
        func number(_ x: Double?) -> JSONValue { x.map { $0.isFinite ? .number("\($0)") : .null } ?? .null }
        return JSONValue.object([
            ("reference", .string(m.reference)), ("current", .string(m.current)), ("tokenizer", .string(m.tokenizer)),
            ("reference_tokens", .number("\(m.referenceTokens)")), ("current_tokens", .number("\(m.currentTokens)")),
            ("js", number(m.js)), ("psi", number(m.psi)), ("psi_bins", .number("\(m.psiBins)")),
            ("loss_reference", number(m.referenceLoss)), ("loss_current", number(m.currentLoss)), ("loss_shift", number(m.lossShift)),
            ("windows", m.windows.map { .number("\($0)") } ?? .null),
            ("metric", .string(metric.rawValue)), ("threshold", number(threshold)),
            ("drift", .bool((m.value(of: metric) ?? 0) > threshold)),
        ]).compact
    }
}

extension DriftMetric: ExpressibleByArgument {}
extension TokenizerKind: ExpressibleByArgument {}
