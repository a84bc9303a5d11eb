import ArgumentParser
import Foundation
import Kernels
import MPI

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Micro-benchmarks; print a table and optionally write CSV.",
        subcommands: [GemmBench.self, AllReduceBench.self, BLASInfo.self])
}

/// Prints the OpenBLAS kernel family chosen for this CPU; launch/tessera-run asks it whether
/// OpenBLAS fell back to generic kernels.
struct BLASInfo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "blas", abstract: "OpenBLAS kernels and threads.")

    func run() {
        print("\(BLAS.coreName) \(BLAS.threads)")
    }
}

/// sgemm throughput through the same call the model makes (out = inp · Wᵀ), the peak that model
/// FLOPs utilisation is measured against.
struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gemm", abstract: "sgemm GFLOP/s on model shapes.")

    @Option(help: "BLAS threads (default: OPENBLAS_NUM_THREADS or OpenBLAS's own choice).")
    var threads: Int?

    @Option(help: "Timed repetitions per shape; the median is reported.")
    var repeats: Int = 7

    @Option(help: "Also write the table as CSV to this file.")
    var csv: String?

    static let shapes: [(name: String, m: Int, n: Int, k: Int)] = [
        ("square-2048", 2048, 2048, 2048),
        ("gpt2s-qkv", 1024, 2304, 768),
        ("gpt2s-fc", 1024, 3072, 768),
        ("gpt2s-proj", 1024, 768, 3072),
        ("gpt2s-head", 1024, 50304, 768),
        ("baby-fc", 768, 512, 128),
    ]

    func run() throws {
        // Timing uses MPI_Wtime: start MPI and finish it, so that mpirun sees a proper exit.
        MPIEnvironment.initialize()
        defer { try? MPIEnvironment.finalize() }
        if let threads { BLAS.threads = threads }
        print("OpenBLAS \(BLAS.coreName) kernels, \(BLAS.threads) thread\(BLAS.threads == 1 ? "" : "s")")
        var rows: [[String]] = []
        print("shape          M      N      K   threads  median ms  GFLOP/s")
        for shape in Self.shapes {
            let (m, n, k) = (shape.m, shape.n, shape.k)
            let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
            let w = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            defer { a.deallocate(); w.deallocate(); c.deallocate() }
            for i in 0..<(m * k) { a[i] = Float(i % 13) * 0.01 }
            for i in 0..<(n * k) { w[i] = Float(i % 7) * 0.01 }
            linearForward(c, a, w, nil, BT: m, C: k, OC: n)  // warm-up
            var times: [Double] = []
            for _ in 0..<repeats {
                let start = MPIEnvironment.wallTime()
                linearForward(c, a, w, nil, BT: m, C: k, OC: n)
                times.append(MPIEnvironment.wallTime() - start)
            }
            let median = times.sorted()[times.count / 2]
            let gflops = 2.0 * Double(m) * Double(n) * Double(k) / median / 1e9
            let row = [shape.name, "\(m)", "\(n)", "\(k)", "\(BLAS.threads)",
                       String(format: "%.3f", median * 1e3), String(format: "%.1f", gflops)]
            rows.append(row)
            print(row[0].padding(toLength: 12, withPad: " ", startingAt: 0)
                + row[1...].map { $0.leftPadded(to: 7) }.joined(separator: " "))
        }
        if let csv {
            let text = (["shape,m,n,k,threads,median_ms,gflops"] + rows.map { $0.joined(separator: ",") })
                .joined(separator: "\n") + "\n"
            try text.write(toFile: csv, atomically: true, encoding: .utf8)
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
