import ArgumentParser
import FileSystem
import Foundation
import Kernels
import Launch
import MPI

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Micro-benchmarks; print a table and optionally write CSV.",
        subcommands: [GemmBench.self, AllReduceBench.self, StepBench.self, CommBench.self, BLASInfo.self])
}

/// Prints the OpenBLAS kernel family chosen for this CPU and its threads; with --coretype-choice,
/// the OPENBLAS_CORETYPE that `tessera launch` would set (nothing when OpenBLAS chose well), for
/// launchers written in shell (launch/slurm).
struct BLASInfo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "blas", abstract: "OpenBLAS kernels and threads.")

    @Flag(help: "Print the kernels to ask for where OpenBLAS fell back to generic ones (else nothing).")
    var coretypeChoice = false

    func run() {
        if coretypeChoice {
            if let choice = EnvironmentDefaults.blasCoreChoice(chosen: BLAS.coreName, cpuFlags: LocalMachine.cpuFlags()) {
                print(choice)
            }
        } else {
            print("\(BLAS.coreName) \(BLAS.threads)")
        }
    }
}

/// GEMM throughput through the same call the model makes (out = inp · Wᵀ): fp32 (sgemm, the peak
/// that model FLOPs utilisation is measured against) and bf16 (precision.compute = "bf16").
struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gemm", abstract: "fp32 and bf16 GEMM GFLOP/s on model shapes.")

    /// The operand types to time.
    enum DType: String, ExpressibleByArgument, CaseIterable {
        case fp32, bf16, both
    }

    @Option(help: "BLAS threads (default: OPENBLAS_NUM_THREADS or OpenBLAS's own choice).")
    var threads: Int?

    @Option(help: "Timed repetitions per shape; the median is reported.")
    var repeats: Int = 7

    @Option(help: "Also write the table as CSV to this file.")
    var csv: String?

    @Option(help: "Operands: fp32 (OpenBLAS sgemm), bf16 (fp32 accumulation; oneDNN where the CPU has AVX512_BF16), or both.")
    var dtype: DType = .fp32

    func validate() throws {
        guard (1...BenchLimits.repeats).contains(repeats), (1...1024).contains(threads ?? 1) else {
            throw ValidationError("--repeats must be in [1, 10^6] and --threads in [1, 1024]")
        }
        try BenchLimits.checkOutput(csv)
    }

    static let shapes: [(name: String, m: Int, n: Int, k: Int)] = [
        ("square-2048", 2048, 2048, 2048),
        ("gpt2s-qkv", 1024, 2304, 768),
        ("gpt2s-fc", 1024, 3072, 768),
        ("gpt2s-proj", 1024, 768, 3072),
        ("gpt2s-head", 1024, 50304, 768),
        ("baby-fc", 768, 512, 128),
    ]

    func run() throws {
        // Under mpirun: start MPI and finish it, so that mpirun sees a proper exit.
        MPIEnvironment.initialize()
        defer { try? MPIEnvironment.finalize() }
        if let threads { BLAS.threads = threads }
        print("OpenBLAS \(BLAS.coreName) kernels, \(BLAS.threads) thread\(BLAS.threads == 1 ? "" : "s")")
        let bf16 = BF16Gemm()
        if dtype != .fp32 { print("bf16 engine: \(bf16.engine.rawValue)") }
        let engines: [BF16Gemm?] = switch dtype {
        case .fp32: [nil]
        case .bf16: [bf16]
        case .both: [nil, bf16]
        }
        var rows: [[String]] = []
        print("shape          M      N      K   threads  median ms  GFLOP/s  dtype")
        for (name, m, n, k) in Self.shapes {
            for engine in engines {
                let shape = GemmShape(m: m, n: n, k: k)
                let median = shape.medianSeconds(repeats: repeats, bf16: engine)
                let row = [name, "\(m)", "\(n)", "\(k)", "\(BLAS.threads)",
                           String(format: "%.3f", median * 1e3), String(format: "%.1f", shape.flops / median / 1e9),
                           engine == nil ? "fp32" : "bf16", engine?.engine.rawValue ?? "OpenBLAS sgemm"]
                rows.append(row)
                print(row[0].padding(toLength: 12, withPad: " ", startingAt: 0)
                    + row[1...7].map { $0.leftPadded(to: 7) }.joined(separator: " "))
            }
        }
        if let csv {
            let text = (["shape,m,n,k,threads,median_ms,gflops,dtype,engine"] + rows.map { $0.joined(separator: ",") })
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

/// Bounds the benchmarks' own options, and checks a `--csv` destination before minutes of
/// measuring: its folder must exist and the path, if taken, be a regular file.
enum BenchLimits {
    static let bytes = 1 << 32
    static let repeats = 1_000_000

    static func checkOutput(_ path: String?) throws {
        guard let path else { return }
        let folder = (path as NSString).deletingLastPathComponent
        guard FileKind.of(folder.isEmpty ? "." : folder).isFolder else {
            throw ValidationError("--csv \(path): the folder \(folder) does not exist")
        }
        let kind = FileKind.of(path)
        guard kind == .missing || kind.isFile else { throw ValidationError("--csv \(path) is \(kind.phrase), not a file") }
    }
}
