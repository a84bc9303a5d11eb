import Config
import Model
import Parallel
@testable import Planning

/// The baby GPT of configs/shakespeare-char.toml (65 characters) and simple rates.
enum Fixture {
    static var config: TesseraConfig {
        var config = TesseraConfig()
        config.train.batchSize = 12
        return config
    }

    static let dims = GPTDimensions(nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, vocabSize: 65)

    /// 100 GFLOP/s sgemm (`narrow` by tensor-parallel degree), 1 ns per activation float, and an
    /// optimizer that costs `perParameter`.
    static func rates(perParameter: Double = 0, narrow: [Int: Double] = [:]) -> ComputeRates {
        ComputeRates(measurements: [StepMeasurement(
            tokens: 64, forwardSeconds: 1, backwardSeconds: 1 + 1e-9 * 1000, optimizerSeconds: perParameter * 1000,
            gemmFlops: 2e11, gemmFlopsPerSecond: 1e11, narrowGemmFlopsPerSecond: narrow, activationFloats: 1000,
            parameters: 1000)])
    }

    static func cluster(ranks: Int, cores: Int, link: AlphaBeta = AlphaBeta(alpha: 0, beta: 0)) -> Cluster {
        Cluster(ranksPerNode: ranks, coresPerNode: cores, intraNode: LinkCosts(uniform: link), interNode: LinkCosts(uniform: link))
    }

    static func layout(ranks: Int, tp: Int = 1, pp: Int = 1, microbatches: Int = 1, schedule: PipelineSchedule = .oneFOneB,
                       wire: WireType = .fp32, zero: Bool = false) throws -> PlannedLayout {
        var c = config
        (c.parallel.tp, c.parallel.pp, c.parallel.microbatches) = (tp, pp, microbatches)
        return PlannedLayout(degrees: try c.validateLayout(worldSize: ranks), schedule: schedule, wire: wire, zero: zero)
    }
}
