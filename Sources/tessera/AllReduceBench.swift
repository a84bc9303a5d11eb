import ArgumentParser
import Foundation
import Kernels
import MPI
import Parallel

/// All-reduce time and bandwidth in the style of nccl-tests, on every rank of the job: plain
/// MPI_Allreduce in fp32 (the baseline) against Tessera's reduce-scatter/all-gather with fp32, bf16
/// and fp16 payloads. Sizes are fp32-equivalent bytes (elements × 4) from 4 KiB to 256 MiB.
/// algbw = fp32 bytes / time, busbw = algbw · 2(n − 1)/n, max_rel_err against an fp64 sum.
struct AllReduceBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "allreduce",
                                                    abstract: "All-reduce time, algbw and busbw per payload type.")

    @Option(help: "Smallest size in bytes of fp32 (default 4 KiB).")
    var minBytes: Int = 4 << 10

    @Option(help: "Largest size in bytes of fp32 (default 256 MiB).")
    var maxBytes: Int = 256 << 20

    @Option(help: "Timed iterations per size; the median is reported.")
    var iterations: Int = 10

    @Option(help: "Untimed iterations first.")
    var warmup: Int = 2

    @Option(help: "Comma-separated types among mpi-fp32, fp32, bf16, fp16.")
    var dtypes: String = "mpi-fp32,fp32,bf16,fp16"

    @Option(help: "Also write the table as CSV to this file (rank 0).")
    var csv: String?

    @Flag(help: "Our collectives over MPI send/receive only, even when every rank shares one node.")
    var pointToPoint = false

    static let header = "dtype,bytes,elements,time_us,algbw_gbps,busbw_gbps,max_rel_err"

    var kinds: [String] { dtypes.split(separator: ",").map(String.init) }

    func validate() throws {
        if let unknown = kinds.first(where: { !["mpi-fp32", "fp32", "bf16", "fp16"].contains($0) }) {
            throw ValidationError("unknown dtype '\(unknown)' (mpi-fp32, fp32, bf16, fp16)")
        }
        guard minBytes >= 4, maxBytes >= minBytes, maxBytes <= BenchLimits.bytes, (1...BenchLimits.repeats).contains(iterations),
              (0...BenchLimits.repeats).contains(warmup) else {
            throw ValidationError("need 4 ≤ --min-bytes ≤ --max-bytes ≤ 2^32, --iterations in [1, 10^6], --warmup in [0, 10^6]")
        }
        try BenchLimits.checkOutput(csv)
    }

    func run() throws {
        MPIEnvironment.initialize()
        let world = Communicator.world
        var rows: [String] = []
        let copy = try copyBandwidth(world)
        // One instance per payload type for the whole run: the shared-memory transport's window
        // lives as long as the process.
        var collectives: [String: ShardedCollectives] = [:]
        let transport: CollectiveTransport = pointToPoint ? .pointToPoint : .automatic
        for kind in kinds {
            let format: WireFormat? = switch kind {
            case "fp32": .fp32
            case "bf16": .half(.bf16)
            case "fp16": .half(.fp16)
            default: nil
            }
            if let format {
                collectives[kind] = try ShardedCollectives(communicator: world, format: format, transport: transport)
            }
        }
        if world.rank == 0 {
            print("\(world.size) ranks; sizes are fp32 bytes; median of \(iterations) after \(warmup) warm-up")
            let shared = collectives.values.contains { $0.usesSharedMemory }
            print("our collectives: " + (shared ? "shared memory (one node)" : "MPI send/receive"))
            print("memory copy bandwidth, every rank copying 64 MiB at once: \(String(format: "%.1f", copy)) GB/s "
                + "per rank (bytes read + written)")
            print("dtype         bytes    elements    time_us  algbw_GB/s  busbw_GB/s  max_rel_err")
        }
        var bytes = minBytes
        while bytes <= maxBytes {
            let count = bytes / 4
            for kind in kinds {
                let (seconds, error) = try measure(collectives[kind], count: count, world: world)
                let algbw = Double(bytes) / seconds / 1e9
                let busbw = algbw * 2 * Double(world.size - 1) / Double(world.size)
                let row = "\(kind),\(bytes),\(count),\(String(format: "%.1f", seconds * 1e6)),"
                    + "\(String(format: "%.3f", algbw)),\(String(format: "%.3f", busbw)),\(String(format: "%.3e", error))"
                rows.append(row)
                if world.rank == 0 {
                    let f = row.split(separator: ",").map(String.init)
                    print(f[0].padding(toLength: 9, withPad: " ", startingAt: 0) + f[1].leftPadded(to: 10)
                        + f[2].leftPadded(to: 12) + f[3].leftPadded(to: 11) + f[4].leftPadded(to: 12)
                        + f[5].leftPadded(to: 12) + f[6].leftPadded(to: 13))
                }
            }
            bytes *= 4
        }
        if let csv, world.rank == 0 {
            try ([Self.header] + rows).joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8)
        }
        try MPIEnvironment.finalize()
    }

    /// Read + write bandwidth of one rank's 64 MiB memcpy while every rank copies (median of 5):
    /// the yardstick for busbw on one machine, where messages are memory copies.
    func copyBandwidth(_ world: Communicator) throws -> Double {
        let count = 16 << 20
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count), b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { a.deallocate(); b.deallocate() }
        a.initialize(repeating: 1, count: count)
        b.initialize(repeating: 0, count: count)
        var times: [Double] = []
        for _ in 0..<6 {
            try world.barrier()
            let start = MPIEnvironment.wallTime()
            b.update(from: a, count: count)
            times.append(MPIEnvironment.wallTime() - start)
        }
        let median = times.dropFirst().sorted()[2]
        return try world.allReduce(2 * Double(count * 4) / median / 1e9, op: .min)
    }

    /// Median seconds over the timed iterations (the slowest rank's, each iteration), and the
    /// largest relative error of the result on any rank against an fp64 sum.
    /// `collectives` nil: MPI_Allreduce.
    func measure(_ collectives: ShardedCollectives?, count: Int, world: Communicator) throws -> (Double, Double) {
        let (rank, size) = (world.rank, world.size)
        // Rank-dependent values of mixed magnitude, so the sum has rounding to get wrong.
        func value(_ r: Int, _ i: Int) -> Float { Float(sin(Double(i &* 7 &+ r &* 13)) * (1 + Double(i % 97))) }
        let input = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        defer { input.deallocate(); buffer.deallocate() }
        for i in 0..<count { input[i] = value(rank, i) }
        // Each iteration starts from the inputs again; only the all-reduce is timed.
        func once() throws -> Double {
            buffer.update(from: input, count: count)
            try world.barrier()
            let start = MPIEnvironment.wallTime()
            if let collectives {
                try collectives.allReduce(buffer, count: count)
            } else {
                try world.allReduce(UnsafeMutableBufferPointer(start: buffer, count: count), op: .sum)
            }
            return try world.allReduce(MPIEnvironment.wallTime() - start, op: .max)
        }
        for _ in 0..<warmup { _ = try once() }
        var times: [Double] = []
        for _ in 0..<iterations { times.append(try once()) }
        var worst = 0.0
        for i in 0..<count {
            var exact = 0.0, magnitude = 0.0
            for r in 0..<size {
                exact += Double(value(r, i))
                magnitude += abs(Double(value(r, i)))
            }
            worst = max(worst, abs(Double(buffer[i]) - exact) / max(magnitude, 1e-30))
        }
        worst = try world.allReduce(worst, op: .max)
        return (times.sorted()[times.count / 2], worst)
    }
}
