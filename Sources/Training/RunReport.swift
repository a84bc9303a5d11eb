import Config
import Foundation
import Kernels
import Model
import MPI
import Parallel

/// What a run tells, in one place: the start-up lines, a metrics row and a progress line per
/// logged step, eval rows, and at the end the time shares and the summary. Rank 0 writes; every
/// rank contributes its figures to the collectives here, so every rank calls every method.
final class RunReport {
    private let setup: TrainingSetup
    private let groups: ProcessGroups
    private let isLogger: Bool
    /// Where every metrics row goes (rank 0 only): metrics.jsonl, then the optional dashboards.
    private let sinks: MetricsSinks
    /// The `[[alarm]]` rules, judging every row (rank 0) and agreeing on stops (every rank).
    let alarms: AlarmMonitor
    let utilisation: Utilisation
    /// When the first step started, for the ETA.
    private var started = MPIEnvironment.wallTime()
    private var config: TesseraConfig { setup.config }
    private var tokensPerStep: Double { Double(config.train.batchSize * config.model.blockSize) }

    /// Per-step shares of time: pipeline idle (outside forward and backward, of the part of the step
    /// before the optimizer, which ends in an all-reduce every rank joins) and tensor-parallel
    /// communication (of the whole step); medians reported at the end.
    private var idleShares: [Double] = [], tensorShares: [Double] = [], expertShares: [Double] = []
    /// Per-step wall time and communication share of it (tensor-parallel all-reduces and expert
    /// all-to-alls inside forward/backward, plus everything outside forward/backward before the
    /// optimizer: pipeline transfers and bubble, the wait for the gradient all-reduce, the loss
    /// all-reduce), and this process's CPU time per step (all its threads), for the summary at the end.
    private var stepSeconds: [Double] = [], communicationShares: [Double] = [], stepCPUSeconds: [Double] = []

    /// Opens the metrics sinks on rank 0: RUN_DIR/metrics.jsonl (a resumed run continues the file its
    /// checkpoint's run wrote), and with `run.tensorboard` and `run.prometheus` the event file and
    /// metrics.prom; establishes the MFU peak (every rank).
    init(setup: TrainingSetup, groups: ProcessGroups, startStep: Int) throws {
        self.setup = setup
        self.groups = groups
        isLogger = groups.world.rank == 0
        let run = setup.config.run, resumed = startStep > 1
        var sinks: [MetricsSink] = []
        if isLogger {
            try FileManager.default.createDirectory(atPath: run.dir, withIntermediateDirectories: true)
            sinks.append(try MetricsLog(path: run.dir + "/metrics.jsonl", append: resumed,
                                        resumedAfter: resumed ? startStep - 1 : nil))
            if run.tensorboard {
                sinks.append(try TensorBoardLog(directory: run.dir + "/tensorboard", resumedAt: resumed ? startStep : nil))
            }
            if run.prometheus { sinks.append(PrometheusFile(path: run.dir + "/metrics.prom")) }
        }
        let group = MetricsSinks(sinks)
        self.sinks = group
        alarms = AlarmMonitor(rules: setup.config.alarms, world: groups.world, runDirectory: run.dir,
                              record: { group.writeAlarm($0) })
        utilisation = try Utilisation.establish(setup: setup, world: groups.world)
    }

    /// Where one step's time went, as the core step measured it.
    struct StepTimes {
        /// Forward and backward compute, tensor-parallel and expert communication inside them.
        let compute: Double, tensor: Double, expert: Double
        /// Wall time to the end of the gradients (before the optimizer), and of the whole step.
        let gradients: Double, step: Double
        /// This process's CPU time over the step.
        let cpu: Double
    }

    /// Adds a step to the medians of the summary (steps after the first, which also warms caches).
    func record(_ t: StepTimes) {
        idleShares.append(1 - t.compute / t.gradients)
        tensorShares.append(t.tensor / t.step)
        expertShares.append(t.expert / t.step)
        communicationShares.append((t.tensor + t.expert + t.gradients - t.compute) / t.step)
        stepSeconds.append(t.step)
        stepCPUSeconds.append(t.cpu)
    }

    /// A step's train row (`fields` after the common ones), judged by the alarms every step; when
    /// `logged`, also written with its progress line.
    func step(_ step: Int, loss: Double, lr: Double, gradNorm: Double, seconds: Double,
              fields: [(key: String, value: MetricValue)], logged: Bool) throws {
        guard isLogger else { return }
        let tokensPerSecond = tokensPerStep / seconds
        let mfu = utilisation.mfu(tokensPerSecond: tokensPerSecond)
        let row: [(key: String, value: MetricValue)] = [
            ("step", .int(step)), ("loss", .number(loss)), ("lr", .number(lr)), ("grad_norm", .number(gradNorm)),
            ("tokens_per_s", .number((tokensPerSecond * 10).rounded() / 10)),
            ("step_ms", .number((seconds * 1e5).rounded() / 100)), ("mfu", .number((mfu * 1e6).rounded() / 1e6)),
        ]
        defer { alarms.observe(row + fields) }
        guard logged else { return }
        try log(row + fields)
        let steps = config.train.steps
        let eta = (MPIEnvironment.wallTime() - started) / Double(step) * Double(steps - step)
        progress("step \(step)/\(steps) | loss \(String(format: "%.4f", loss)) | "
            + "\(String(format: "%.0f", tokensPerSecond)) tok/s | \(String(format: "%.1f", seconds * 1000)) ms/step | "
            + "MFU \(String(format: "%.1f", 100 * mfu))% | ETA \(formatDuration(eta))")
    }

    /// An eval row and its progress line.
    func evaluation(_ step: Int, _ evaluation: Evaluation) throws {
        guard isLogger else { return }
        let row = [("step", .int(step))] + evaluation.fields
        try log(row)
        progress(evaluation.line)
        alarms.observe(row)
    }

    /// The one place a row leaves: every sink gets the same row.
    private func log(_ row: MetricsRow) throws {
        try sinks.write(row)
    }

    /// Derived figures, once, from rank 0; activation memory is gathered from every stage.
    func startup(model: GPT, pipeline: PipelineRunner, optimizer: AdamW) throws {
        let memory = try groups.world.allGather([Double(pipeline.activationBytes)])
        guard isLogger else { return }
        let c = config, d = setup.degrees, layout = groups.layout
        let parameters = model.dims.parameterSpecs().reduce(0) { $0 + $1.globalCount }
        let tokensPerStep = c.train.batchSize * c.model.blockSize
        let stageMemory = (0..<d.pp).map { stage in
            formatBytes(memory[layout.rank(pp: stage, dp: 0, tp: 0)])
        }.joined(separator: ", ")
        let dims = model.dims
        let layers = dims.encoder.map { "\($0.layers) encoder + \(dims.nLayer - $0.layers) decoder layers" }
            ?? "\(dims.nLayer) layers"
        let positions = dims.encoder.map { "inputs \($0.blockSize), targets \(dims.blockSize)" } ?? "block \(dims.blockSize)"
        var lines = [
            "tessera: \(d.worldSize) rank\(d.worldSize == 1 ? "" : "s") = dp \(d.dp) × pp \(d.pp) × tp \(d.tp)"
                + (d.ep > 1 ? " (ep \(d.ep))" : "") + ", \(d.microbatches) microbatch\(d.microbatches == 1 ? "" : "es") of \(d.microbatchSize) per replica",
            "tessera: model \(layers), \(c.model.nHead) heads, \(c.model.nEmbd) channels, "
                + "\(positions), vocab \(model.dims.vocabSize): \(formatCount(parameters)) parameters",
            "tessera: \(c.model.family.rawValue) family: \(model.dims.parts.summary(nHead: c.model.nHead))",
            "tessera: \(tokensPerStep) tokens per step (batch \(c.train.batchSize) × block \(c.model.blockSize)), "
                + "\(c.train.steps) steps, \(formatCount(tokensPerStep * c.train.steps)) tokens; "
                + "corpus \(formatCount(setup.corpus.train.count)) train / \(formatCount(setup.corpus.val.count)) val tokens",
        ]
        let zero = c.parallel.zero == 1 ? "ZeRO-1, sharded over \(d.dp) replicas" : "replicated"
        lines.append("tessera: optimizer state \(formatBytes(Double(optimizer.stateBytes))) on rank 0 (\(zero))")
        let compute = model.bf16Engine.map { "bf16 compute (\($0.rawValue))" } ?? "fp32 compute"
        // The last stage's head works on its logits in one block of rows at a time.
        let head = GPTPartition(layout: Layout(degrees: d, rank: layout.rank(pp: d.pp - 1, dp: 0, tp: 0)), dims: model.dims)
        let headRows = GPT.headRows(dims: model.dims, partition: head, rows: d.microbatchSize * c.model.blockSize)
        let headBytes = 4 * GPT.headWorkspaceFloats(dims: model.dims, partition: head, B: d.microbatchSize)
        let workBytes = 4 * GPT.workspaceFloats(dims: model.dims, partition: head, B: d.microbatchSize,
                                                compute: c.precision.compute)
        let notes = (d.pp > 1 ? ["pipeline \(c.parallel.schedule.rawValue)"] : [])
            + ["working buffers \(formatBytes(Double(workBytes))), of which head logits \(formatBytes(Double(headBytes))) "
                + "in blocks of \(headRows) rows"]
        lines.append("tessera: \(compute), activation memory per stage: \(stageMemory) (\(notes.joined(separator: "; ")))")
        lines += [
            "tessera: MFU against \(String(format: "%.1f", utilisation.peakGFLOPs)) GFLOP/s per rank "
                + "(\(utilisation.source)); model \(String(format: "%.2f", utilisation.flopsPerToken / 1e6)) MFLOP per token",
            "tessera: OpenBLAS \(BLAS.coreName) kernels, \(BLAS.threads) thread\(BLAS.threads == 1 ? "" : "s") per rank",
            "tessera: writing \(c.run.dir)/metrics.jsonl" + (c.run.tensorboard ? ", tensorboard/" : "")
                + (c.run.prometheus ? ", metrics.prom" : ""),
        ]
        for line in lines { progress(line) }
        started = MPIEnvironment.wallTime()
    }

    /// The end of the run: where the layout's time went, then the summary.
    func finish() throws {
        alarms.finish()
        try printTimeShares()
        try printSummary()
    }

    /// Where the layout's time went, from every rank: each stage's idle share (the bubble, set
    /// against its theoretical value), the tensor-parallel communication share and the experts'
    /// all-to-all share.
    private func printTimeShares() throws {
        let d = setup.degrees, layout = groups.layout
        let shares = try groups.world.allGather([median(idleShares), median(tensorShares), median(expertShares)])
        guard isLogger else { return }
        func percent(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
        if d.pp > 1 {
            let idle = (0..<d.pp).map { percent(shares[3 * layout.rank(pp: $0, dp: 0, tp: 0)]) }
            let theory = Double(d.pp - 1) / Double(d.microbatches + d.pp - 1)
            progress("tessera: pipeline idle per stage (median over steps): \(idle.joined(separator: ", ")); "
                + "bubble (pp − 1)/(microbatches + pp − 1) = \(percent(theory))")
        }
        if d.tp > 1 {
            let tensor = (0..<d.worldSize).map { shares[3 * $0 + 1] }
            progress("tessera: tensor-parallel communication: \(percent(median(tensor))) of step time (median over steps and ranks)")
        }
        if d.ep > 1 {
            let expert = (0..<d.worldSize).map { shares[3 * $0 + 2] }
            progress("tessera: expert-parallel all-to-all: \(percent(median(expert))) of step time (median over steps and ranks)")
        }
    }
    /// One line at the end from rank 0: median tokens/s and step time over the steps after the
    /// first, MFU at that rate, the communication share of step time (median over steps, then over
    /// ranks), the peak resident memory of the largest rank and the CPU time a step costs a rank
    /// (median over steps, mean over ranks: times ranks, the job's).
    private func printSummary() throws {
        let figures = try groups.world.allGather([median(communicationShares), peakResidentBytes(), median(stepCPUSeconds)])
        guard isLogger, !stepSeconds.isEmpty else { return }
        let stepTime = median(stepSeconds), tokensPerSecond = tokensPerStep / stepTime
        func perRank(_ figure: Int) -> [Double] { stride(from: figure, to: figures.count, by: 3).map { figures[$0] } }
        let communication = median(perRank(0)), memory = perRank(1).max()!
        let cpu = perRank(2).reduce(0, +) / Double(perRank(2).count)
        progress("tessera: summary: \(String(format: "%.0f", tokensPerSecond)) tokens/s, "
            + "\(String(format: "%.2f", stepTime * 1000)) ms/step (medians over steps), "
            + "MFU \(String(format: "%.2f", 100 * utilisation.mfu(tokensPerSecond: tokensPerSecond)))%, "
            + "communication \(String(format: "%.1f", 100 * communication))% of step time, "
            + "peak memory \(formatBytes(memory)) per rank (largest), "
            + "CPU \(String(format: "%.2f", cpu * 1000)) ms/step per rank (mean)")
    }

}
