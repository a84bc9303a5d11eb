import Config
import Foundation
import Kernels
import Model
import MPI
import Parallel

/// Model FLOPs utilisation: model FLOPs per second (FLOPs per token × tokens/s) over the sgemm
/// rate of every rank together (the rate per rank × ranks).
struct Utilisation {
    let flopsPerToken: Double
    /// sgemm GFLOP/s per rank: `run.peak_gflops`, or measured at start-up.
    let peakGFLOPs: Double
    let ranks: Int
    /// What the peak is, for the start-up line.
    let source: String

    func mfu(tokensPerSecond: Double) -> Double {
        tokensPerSecond * flopsPerToken / (peakGFLOPs * 1e9 * Double(ranks))
    }

    /// The configured peak, or one probe of the model's largest GEMM on every rank at once (after
    /// a barrier, so that ranks sharing cores each measure their share, as they share cores while
    /// training). The peak per rank is the median over ranks: robust to one rank descheduled
    /// during its short probe, which the minimum is not (it would inflate MFU), while across
    /// ranks that all probed alike it equals their typical share. Every rank must call it.
    static func establish(setup: TrainingSetup, world: Communicator) throws -> Utilisation {
        let flops = setup.dims.trainingFLOPsPerToken
        if setup.config.run.peakGflops > 0 {
            return Utilisation(flopsPerToken: flops, peakGFLOPs: setup.config.run.peakGflops, ranks: world.size,
                               source: "run.peak_gflops")
        }
        let shape = largestGemm(setup.dims, degrees: setup.degrees, rows: setup.degrees.microbatchSize * setup.dims.blockSize)
        let probe = shape.capped(atMost: 1e9)
        try world.barrier()
        let rate = probe.flops / probe.medianSeconds(repeats: 3, atLeast: 0.2) / 1e9
        let rates = try world.allGather([rate])
        let threads = "\(BLAS.threads) BLAS thread\(BLAS.threads == 1 ? "" : "s")"
        return Utilisation(flopsPerToken: flops, peakGFLOPs: median(rates), ranks: world.size,
                           source: "sgemm \(probe) measured at start-up, \(threads) per rank, median of \(world.size) "
                               + "rank\(world.size == 1 ? "" : "s") probing at once (min \(String(format: "%.1f", rates.min()!)), "
                               + "max \(String(format: "%.1f", rates.max()!)))")
    }

    /// The biggest of the linear layers' GEMMs on one rank: `rows` tokens of a microbatch at its
    /// tensor-parallel widths.
    static func largestGemm(_ dims: GPTDimensions, degrees: ParallelDegrees, rows: Int) -> GemmShape {
        let partition = GPTPartition(layout: Layout(degrees: degrees, rank: 0), dims: dims)
        return partition.linearGemms(dims, rows: rows).map(\.shape).max { $0.n * $0.k < $1.n * $1.k }!
    }
}
