import ArgumentParser
import Config
import Data
import Foundation
import Kernels
import Model
import MPI
import Planning
import Training

/// Forward, backward and optimizer of one microbatch on one rank with the model's own kernels,
/// at several microbatch sizes: the compute rates `tessera plan --rates` builds its model from.
/// Under mpirun every rank measures at once (as ranks sharing a machine's memory train) and the
/// median over ranks is reported: run it on as many ranks as the machine has cores.
struct StepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step", abstract: "Forward, backward and optimizer time of one microbatch on one rank.")

    @Option(help: "The TOML config file (its model; the layout keys are ignored).")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one config key.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(help: "Comma-separated microbatch sizes in sequences (default: powers of two up to train.batch_size, and it).")
    var sequences: String?

    @Option(help: "Timed repetitions per size; the median of each phase is reported.")
    var repeats: Int = 5

    @Option(help: "Also write the table as CSV to this file (the input of `tessera plan --rates`).")
    var csv: String?

    func validate() throws {
        guard (1...BenchLimits.repeats).contains(repeats) else { throw ValidationError("--repeats must be in [1, 10^6]") }
        if let sequences, sequences.split(separator: ",").contains(where: { !(1...Limits.batch).contains(Int($0) ?? 0) }) {
            throw ValidationError("--sequences must be integers in [1, \(Limits.batch)], e.g. 1,2,4")
        }
        try BenchLimits.checkOutput(csv)
    }

    func run() throws {
        MPIEnvironment.initialize()
        defer { try? MPIEnvironment.finalize() }
        let world = Communicator.world
        let (config, dims) = try modelOfConfig(path: self.config, overrides: overrides)
        let batch = config.train.batchSize
        let sizes = sequences.map { $0.split(separator: ",").compactMap { Int($0) } }
            ?? (Array(sequence(first: 1) { $0 * 2 }.prefix { $0 < batch }) + [batch])
        let log = world.rank == 0 ? { print($0) } : { (_: String) in }
        log("OpenBLAS \(BLAS.coreName) kernels, \(BLAS.threads) thread\(BLAS.threads == 1 ? "" : "s"); "
            + "model \(dims.nLayer) layers, \(dims.nEmbd) channels, block \(dims.blockSize); median of \(repeats)"
            + (world.size > 1 ? " on each of \(world.size) ranks at once, then over ranks" : ""))
        log("sequences  tokens  forward_ms  backward_ms  optimizer_ms  step_ms  GFLOP/s  gemm_share  sgemm_GFLOP/s  by tp")
        var rows: [String] = []
        for size in sizes {
            let m = try StepTiming.medianOverRanks(try StepTiming.measure(dims, compute: config.precision.compute, sequences: size,
                                                                      repeats: repeats), world)
            let step = m.forwardSeconds + m.backwardSeconds + m.optimizerSeconds
            let gflops = dims.trainingFLOPsPerToken * Double(m.tokens) / step / 1e9
            let gemmShare = m.gemmFlops / m.gemmFlopsPerSecond / (m.forwardSeconds + m.backwardSeconds)
            let fields = ["\(size)", "\(m.tokens)", ms(m.forwardSeconds), ms(m.backwardSeconds), ms(m.optimizerSeconds),
                          ms(step), String(format: "%.1f", gflops), String(format: "%.3f", gemmShare),
                          String(format: "%.4f", m.gemmFlops / 1e9), String(format: "%.1f", m.gemmFlopsPerSecond / 1e9),
                          "\(m.activationFloats)", "\(m.parameters)", RatesFile.narrowRatesField(m.narrowGemmFlopsPerSecond)]
            rows.append(fields.joined(separator: ","))
            let shown = Array(fields.prefix(8)) + [fields[9]]
            log(zip(shown, [9, 7, 11, 12, 13, 8, 8, 11, 14]).map { $0.leftPadded(to: $1) }.joined(separator: " ") + "  " + fields[12])
        }
        if let csv, world.rank == 0 {
            try ([RatesFile.stepHeader] + rows).joined(separator: "\n").appending("\n")
                .write(toFile: csv, atomically: true, encoding: .utf8)
        }
    }

    private func ms(_ seconds: Double) -> String { String(format: "%.3f", seconds * 1e3) }
}

/// A config and the decoder it describes (the vocabulary settled by its corpus), or a one-line
/// error. The step timing and the cost model know a decoder's products only: an encoder-decoder
/// (t5) is refused rather than mis-measured.
func modelOfConfig(path: String, overrides: [String]) throws -> (TesseraConfig, GPTDimensions) {
    let config: TesseraConfig, dims: GPTDimensions
    do {
        config = try TesseraConfig.load(path: path, overrides: overrides)
        dims = try TrainingSetup.dimensions(config: config, corpus: try Corpus(config: config))
    } catch {
        throw ValidationError("\(error)")
    }
    guard dims.encoder == nil else {
        throw ValidationError("model.family = \"t5\": tessera bench step and tessera plan model decoders only; "
            + "time an encoder-decoder with tessera train (its summary line and metrics.jsonl)")
    }
    return (config, dims)
}

/// Times one microbatch through the whole model on this rank.
enum StepTiming {
    /// Median forward, backward and optimizer (gradient norm and AdamW) seconds over `repeats`
    /// after one untimed step, with the sgemm rate of this microbatch's forward GEMM shapes.
    /// Refused before anything is allocated when the model cannot fit this process's share of memory.
    static func measure(_ dims: GPTDimensions, compute: ComputeType, sequences B: Int, repeats: Int) throws -> StepMeasurement {
        try MemoryGate(training: dims, tp: 1, pp: 1, dp: 1, ep: 1, zero: false, microbatchSize: B).check()
        let model = GPT(dims: dims, partition: .whole(dims), compute: compute, seed: 1)
        let acts = model.makeActivations(batch: B)
        let T = dims.blockSize, count = B * T
        let tokens = UnsafeMutablePointer<Int32>.allocate(capacity: count)
        let targets = UnsafeMutablePointer<Int32>.allocate(capacity: count)
        defer { tokens.deallocate(); targets.deallocate() }
        for i in 0..<count {
            tokens[i] = Int32(i * 7 % dims.vocabSize)
            targets[i] = Int32((i * 7 + 1) % dims.vocabSize)
        }
        let optimizer = AdamW(store: model.store, beta1: 0.9, beta2: 0.99, weightDecay: 0.1)
        var times: [[Double]] = [[], [], []]
        for repeat_ in 0...repeats {
            var phase = [0.0, 0.0, 0.0], start = MPIEnvironment.wallTime()
            func lap(_ i: Int) { let now = MPIEnvironment.wallTime(); phase[i] = now - start; start = now }
            _ = try? model.forward(acts, tokens: tokens, targets: targets, dloss: 1 / Float(count))
            lap(0)
            try? model.backward(acts, tokens: tokens, targets: targets, dloss: 1 / Float(count))
            lap(1)
            let norm = sumOfSquares(model.store.grads, N: model.store.count).squareRoot()
            optimizer.update(lr: 1e-4, step: repeat_ + 1, gradScale: Float(min(1, 1 / max(norm, 1e-6))))
            model.parametersChanged()
            lap(2)
            if repeat_ > 0 { for i in 0..<3 { times[i].append(phase[i]) } }
        }
        let medians = times.map { $0.sorted()[$0.count / 2] }
        let whole = GPTPartition.whole(dims)
        return StepMeasurement(
            tokens: count, forwardSeconds: medians[0], backwardSeconds: medians[1], optimizerSeconds: medians[2],
            gemmFlops: 3 * dims.forwardGemmFlops(partition: whole, B: B), gemmFlopsPerSecond: gemmRate(dims, whole, rows: count),
            narrowGemmFlopsPerSecond: Dictionary(uniqueKeysWithValues: tensorDegrees(dims).map { tp in
                (tp, gemmRate(dims, GPTPartition(layers: 0..<dims.nLayer, hasEmbedding: true, hasHead: true, tpSize: tp),
                              rows: count))
            }),
            activationFloats: GPTActivations.workFloats(dims: dims, partition: whole, B: B, T: T, compute: compute),
            parameters: model.store.count)
    }

    /// Every rank's measurement of the same microbatch, its times and sgemm rate each the upper
    /// median over ranks (the slower of two: a step waits for its slowest rank). Every rank must
    /// call it.
    static func medianOverRanks(_ m: StepMeasurement, _ world: Communicator) throws -> StepMeasurement {
        let degrees = m.narrowGemmFlopsPerSecond.keys.sorted()
        let figures = [m.forwardSeconds, m.backwardSeconds, m.optimizerSeconds, m.gemmFlopsPerSecond]
            + degrees.map { m.narrowGemmFlopsPerSecond[$0]! }
        let all = try world.allGather(figures)
        let medians = figures.indices.map { i in
            stride(from: i, to: all.count, by: figures.count).map { all[$0] }.sorted()[world.size / 2]
        }
        return StepMeasurement(tokens: m.tokens, forwardSeconds: medians[0], backwardSeconds: medians[1],
                               optimizerSeconds: medians[2], gemmFlops: m.gemmFlops, gemmFlopsPerSecond: medians[3],
                               narrowGemmFlopsPerSecond: Dictionary(uniqueKeysWithValues: zip(degrees, medians.dropFirst(4))),
                               activationFloats: m.activationFloats, parameters: m.parameters)
    }

    /// Tensor-parallel degrees whose GEMM rates the cost model gets: those up to 8 (a node) that
    /// divide the heads.
    static func tensorDegrees(_ dims: GPTDimensions) -> [Int] { (2...8).filter { dims.nHead % $0 == 0 } }

    /// sgemm FLOP/s over the forward's linear shapes of `partition` (its tensor-parallel widths) at
    /// `rows` tokens, each weighted by how often the model runs it (every layer's four, the head
    /// once); shapes capped to keep it short.
    static func gemmRate(_ dims: GPTDimensions, _ partition: GPTPartition, rows: Int) -> Double {
        var (flops, seconds) = (0.0, 0.0)
        for (full, perLayer) in partition.linearGemms(dims, rows: rows) {
            let shape = full.capped(atMost: 2e8), times = perLayer ? Double(dims.nLayer) : 1
            flops += times * shape.flops
            seconds += times * shape.medianSeconds(repeats: 5)
        }
        return flops / seconds
    }
}
