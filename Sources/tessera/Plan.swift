import ArgumentParser
import Config
import FileSystem
import Foundation
import Kernels
import MPI
import Model
import Planning

/// Ranks every valid layout of a config on N ranks by the cost model's predicted tokens/s.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict step time, memory and tokens/s of every valid layout on N ranks; print the best.")

    @Option(help: "Ranks to plan for.")
    var ranks: Int

    @Option(help: "The TOML config file (its model and batch; the layout keys are what is planned).")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one config key.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(help: "The link between nodes as BANDWIDTH:LATENCY, e.g. 100gbps:2us.")
    var network: String = "100gbps:2us"

    @Option(help: "Ranks per node (default: all on one node).")
    var ranksPerNode: Int?

    @Option(help: "Cores per node (default: this machine's).")
    var cores: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Memory per rank in GiB (default: this machine's memory over the ranks of a node).")
    var memoryLimit: Double?

    @Option(help: "Layouts to print.")
    var top: Int = 10

    @Option(help: ArgumentHelp("CSV from `tessera bench step` or `bench comm` (repeatable); without a step file a short probe measures compute, without a comm file a memory-copy probe sets the links within a node.", valueName: "FILE"))
    var rates: [String] = []

    @Option(help: "Also write every valid layout, ranked, as CSV to this file.")
    var csv: String?

    func validate() throws {
        guard (1...Limits.ranks).contains(ranks) else { throw ValidationError("--ranks must be in [1, \(Limits.ranks)], got \(ranks)") }
        guard cores >= 1, (ranksPerNode ?? 1) >= 1, top >= 1, (memoryLimit ?? 1) > 0 else {
            throw ValidationError("--cores, --ranks-per-node and --top must be at least 1, --memory-limit positive")
        }
        _ = try linkBetweenNodes()
    }

    func run() throws {
        MPIEnvironment.initialize()
        defer { try? MPIEnvironment.finalize() }
        let (config, dims) = try modelOfConfig(path: self.config, overrides: overrides)
        let (compute, computeSource, intraNode, intraSource) = try measuredRates(dims, config.precision.compute)
        let perNode = min(ranksPerNode ?? ranks, ranks)
        let cluster = Cluster(ranksPerNode: perNode, coresPerNode: cores, intraNode: intraNode,
                              interNode: LinkCosts(uniform: try linkBetweenNodes()))
        let model = CostModel(dims: dims, batchSize: config.train.batchSize, rates: compute, cluster: cluster,
                              compute: config.precision.compute)
        let layouts = LayoutSpace.validLayouts(of: config, ranks: ranks)
        guard !layouts.isEmpty else {
            throw ValidationError("no valid layout of \(self.config) on \(ranks) ranks (train.batch_size = "
                + "\(config.train.batchSize), model.n_head = \(dims.nHead), model.n_layer = \(dims.nLayer))")
        }
        let limit = (memoryLimit.map { $0 * 0x1p30 }) ?? Double(ProcessInfo.processInfo.physicalMemory) / Double(perNode)
        let predictions = layouts.map(model.predict)
        let ranked = predictions.filter { $0.memoryBytes <= limit }.sorted { $0.tokensPerSecond > $1.tokensPerSecond }
        guard let best = ranked.first else {
            let least = predictions.map(\.memoryBytes).min()!
            throw ValidationError("no layout fits in \(gib(limit)) per rank; the smallest needs \(gib(least)) (--memory-limit)")
        }
        print("tessera plan: \(ranks) ranks, \(perNode) per node of \(cores) cores; model \(dims.nLayer) layers, "
            + "\(dims.nEmbd) channels, block \(dims.blockSize), batch \(config.train.batchSize)")
        print("compute: \(computeSource)\nwithin a node: \(intraSource); between nodes: \(network)")
        print("\(layouts.count) valid layouts, \(ranked.count) within \(gib(limit)) per rank; best \(min(top, ranked.count)) "
            + "by predicted tokens/s:")
        let table = ["rank", "layout", "step_ms", "tokens/s", "MFU", "memory/rank", "bubble", "comm"]
        let widths = [4, 44, 10, 11, 7, 12, 8, 7]
        print(zip(table, widths).map { $0.leftPadded(to: $1) }.joined(separator: " "))
        for (i, p) in ranked.prefix(top).enumerated() {
            print(zip(["\(i + 1)", p.layout.label] + figures(p), widths).map { $0.leftPadded(to: $1) }.joined(separator: " "))
        }
        print("best: " + best.layout.overrides.map { "--set \($0)" }.joined(separator: " "))
        if let csv {
            let header = "rank,dp,tp,pp,ep,microbatches,schedule,grad_allreduce,zero,step_ms,tokens_per_s,mfu,memory_bytes,bubble,comm,overrides"
            let rows = ranked.enumerated().map { i, p -> String in
                let l = p.layout
                return (["\(i + 1)", "\(l.dp)", "\(l.tp)", "\(l.pp)", "\(l.ep)", "\(l.microbatches)", l.schedule.rawValue,
                         l.wire.rawValue, l.zero ? "1" : "0", String(format: "%.4f", p.stepSeconds * 1e3),
                         String(format: "%.1f", p.tokensPerSecond), String(format: "%.4f", p.mfu),
                         String(format: "%.0f", p.memoryBytes), String(format: "%.4f", p.bubbleShare),
                         String(format: "%.4f", p.communicationShare), l.overrides.joined(separator: " ")]).joined(separator: ",")
            }
            try ([header] + rows).joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8)
        }
    }

    private func figures(_ p: Prediction) -> [String] {
        [String(format: "%.2f", p.stepSeconds * 1e3), String(format: "%.0f", p.tokensPerSecond),
         String(format: "%.1f%%", 100 * p.mfu), gib(p.memoryBytes),
         String(format: "%.1f%%", 100 * p.bubbleShare), String(format: "%.1f%%", 100 * p.communicationShare)]
    }

    private func gib(_ bytes: Double) -> String {
        bytes >= 0x1p30 ? String(format: "%.2f GiB", bytes / 0x1p30) : String(format: "%.1f MiB", bytes / 0x1p20)
    }

    private func linkBetweenNodes() throws -> AlphaBeta {
        do { return try AlphaBeta(spec: network) } catch { throw ValidationError("--network: \(error)") }
    }

    /// Compute rates (of `computeType`'s kernels) and intra-node links from the rates files, or else
    /// from short probes.
    private func measuredRates(_ dims: GPTDimensions, _ computeType: ComputeType) throws -> (ComputeRates, String, LinkCosts, String) {
        var steps: [StepMeasurement] = [], fits: [Collective: AlphaBeta] = [:]
        for path in rates {
            let text: String
            do {
                text = try readUTF8File(path, limit: 1 << 26)
            } catch {
                throw ValidationError("--rates \(error)")
            }
            do {
                switch try RatesFile.parse(text, path: path) {
                case .steps(let measured): steps += measured
                case .communication(let fitted): fits.merge(fitted) { $1 }
                }
            } catch { throw ValidationError("--rates \(error)") }
        }
        let computeSource: String
        if steps.isEmpty {
            // One layer at a short context keeps the probe near a second even for GPT-2 sizes.
            let probe = GPTDimensions(nLayer: 1, nHead: dims.nHead, nEmbd: dims.nEmbd, blockSize: min(dims.blockSize, 64),
                                      vocabSize: dims.vocabSize, experts: dims.experts, parts: dims.parts)
            do {
                steps = try [1, 2].map { try StepTiming.measure(probe, compute: computeType, sequences: $0, repeats: 2) }
            } catch {
                throw ValidationError("measuring one layer's compute rates: \(error); give measured rates with --rates")
            }
            computeSource = "probe (one layer, block \(probe.blockSize), 1 and 2 sequences); `tessera bench step --csv` and --rates measure the real shapes"
        } else {
            computeSource = "\(steps.count) step measurements from --rates"
        }
        let compute = ComputeRates(measurements: steps)
        let copy = LinkCosts(uniform: AlphaBeta(alpha: 1e-6, beta: 2 / copyBytesPerSecond()))
        var intra = copy
        for (collective, fit) in fits { intra.costs[collective] = fit }
        let intraSource = fits.isEmpty ? "memory-copy probe (two copies per byte, 1 us latency)"
            : "fitted from --rates (\(fits.keys.map(\.rawValue).sorted().joined(separator: ", ")))"
        return (compute, computeSource + String(format: ", sgemm peak %.1f GFLOP/s per core", compute.peakFlopsPerSecond / 1e9),
                intra, intraSource)
    }

    /// Bytes per second one core copies (64 MiB, median of 5).
    private func copyBytesPerSecond() -> Double {
        let count = 16 << 20
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count), b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { a.deallocate(); b.deallocate() }
        a.initialize(repeating: 1, count: count)
        b.initialize(repeating: 0, count: count)
        let times = (0..<5).map { _ -> Double in
            let start = MPIEnvironment.wallTime()
            b.update(from: a, count: count)
            return MPIEnvironment.wallTime() - start
        }.sorted()
        return Double(count * 4) / times[2]
    }
}
