import Foundation
import Testing

/// Runs the built `tessera` executable (under mpirun) on a temporary run directory and reads back
/// what it wrote: the pieces the training tests share.
struct TesseraRun {
    let status: Int32
    let stdout: String
    let stderr: String
    let runDir: URL

    /// The train rows of metrics.jsonl: step → loss.
    var losses: [Int: Double] { rows(key: "loss") }
    var valLosses: [Int: Double] { rows(key: "val_loss") }

    func rows(key: String) -> [Int: Double] {
        guard let text = try? String(contentsOf: runDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        else { return [:] }
        var result: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = object["step"] as? Int, let value = object[key] as? Double else { continue }
            result[step] = value
        }
        return result
    }

    /// Bytes of activations each pipeline stage allocated, in stage order, from the start-up line
    /// `... activation memory per stage: 37.1 MiB, 37.8 MiB (pipeline 1f1b; working buffers ...)`.
    var activationMemoryPerStage: [Double] {
        let marker = "activation memory per stage: "
        guard let line = stderr.split(separator: "\n").first(where: { $0.contains(marker) }),
              let figures = line.components(separatedBy: marker).last?.components(separatedBy: " (").first
        else { return [] }
        let units: [Substring: Double] = ["KiB": 0x1p10, "MiB": 0x1p20, "GiB": 0x1p30]
        return figures.components(separatedBy: ", ").compactMap { figure in
            let parts = figure.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[0]), let unit = units[parts[1]] else { return nil }
            return value * unit
        }
    }

    /// Lines of standard error that begin with `error:`.
    var errorLines: [String] { stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("error:") } }
}

enum Tessera {
    static var executable: URL { builtExecutable(named: "tessera") }

    static func temporaryDirectory(_ label: String) -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-test-\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A small model that trains in about a second per rank on this machine.
    static let tinyModel = [
        "model.n_layer=2", "model.n_head=4", "model.n_embd=32", "model.block_size=16",
        "train.batch_size=8", "train.steps=12", "train.log_every=1", "train.eval_every=0",
        "train.warmup_steps=2", "train.lr=3e-3", "checkpoint.every=0",
    ]

    /// `tessera train` on `np` ranks with the repo's corpus, the tiny model and `overrides`.
    /// `runDir`: an existing run directory to continue (default: a fresh one). `during` runs on
    /// this thread while the job runs (see `runCommand`).
    static func train(np: Int, config: URL? = nil, overrides: [String] = [], label: String, runDir: URL? = nil,
                      extraArguments: [String] = [], environment: [String: String] = [:], timeout: Double = 240,
                      during: (() -> Void)? = nil) -> TesseraRun {
        let runDir = runDir ?? temporaryDirectory(label)
        let configFile = config ?? temporaryDirectory(label + "-config").appendingPathComponent("empty.toml")
        if config == nil { _ = FileManager.default.createFile(atPath: configFile.path, contents: Data()) }
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        var arguments = ["train", "--config", configFile.path, "--set", "run.dir=\(runDir.path)",
                         "--set", "data.path=\(data)"]
        for override in tinyModel + overrides { arguments += ["--set", override] }
        let result = runMPI(np: np, executable: executable, arguments: arguments + extraArguments,
                            environment: environment, timeout: timeout, during: during)
        return TesseraRun(status: result.status, stdout: result.stdout, stderr: result.stderr, runDir: runDir)
    }
}

/// The determinism rule: on another layout the loss curve, the gradient norms (replicated tensors
/// counted once) and the validation losses, when logged, equal the single-rank ones up to
/// floating-point summation order.
func expectSameCurve(_ run: TesseraRun, as reference: TesseraRun, steps: Int = 12, tolerance: Double = 2e-4,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(run.status == 0, "exit \(run.status): \(run.stderr)", sourceLocation: sourceLocation)
    #expect(reference.losses.count == steps, "reference logged \(reference.losses.count) of \(steps) steps",
            sourceLocation: sourceLocation)
    #expect(run.losses.count == steps, "logged \(run.losses.count) of \(steps) steps: \(run.stderr)",
            sourceLocation: sourceLocation)
    #expect(run.valLosses.count == reference.valLosses.count, sourceLocation: sourceLocation)
    for key in ["loss", "grad_norm", "val_loss"] {
        let curve = run.rows(key: key), expected = reference.rows(key: key)
        for (step, value) in expected.sorted(by: { $0.key < $1.key }) {
            guard let actual = curve[step] else { continue }
            let relative = abs(actual - value) / abs(value)
            #expect(relative <= tolerance, "\(key) at step \(step): \(actual) vs single-rank \(value)",
                    sourceLocation: sourceLocation)
        }
    }
}
