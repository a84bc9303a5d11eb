import ArgumentParser
import Foundation
import MPI
import Parallel
import Planning

/// Time of each kind of message the trainer sends, over every rank of the job, and the
/// alpha-beta (latency, per-byte time) fit of each: point-to-point ping-pong between ranks 0 and 1
/// (pipeline transfers), MPI all-reduce (tensor-parallel regions), Tessera's reduce-scatter and
/// all-gather (the gradient sync, ZeRO-1's parameter gather) and MPI all-to-all (expert dispatch).
struct CommBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comm", abstract: "Point-to-point and collective times, with alpha-beta fits (under mpirun, 2+ ranks).")

    @Option(help: "Smallest message in bytes.")
    var minBytes: Int = 1 << 10

    @Option(help: "Largest message in bytes (sizes go up by 4×).")
    var maxBytes: Int = 16 << 20

    @Option(help: "Timed iterations per size; the median is reported.")
    var iterations: Int = 10

    @Option(help: "Also write the table as CSV to this file (rank 0; an input of `tessera plan --rates`).")
    var csv: String?

    func validate() throws {
        guard minBytes >= 64, maxBytes >= minBytes, maxBytes <= BenchLimits.bytes, (1...BenchLimits.repeats).contains(iterations) else {
            throw ValidationError("need 64 ≤ --min-bytes ≤ --max-bytes ≤ 2^32 and --iterations in [1, 10^6]")
        }
        try BenchLimits.checkOutput(csv)
    }

    func run() throws {
        MPIEnvironment.initialize()
        let world = Communicator.world
        try agreeOrExit(world, world.size < 2 ? "bench comm needs at least 2 ranks (run it under mpirun -np N)" : nil)
        let sizes = Array(sequence(first: minBytes) { $0 * 4 }.prefix { $0 <= maxBytes })
        // The gradient sync's reduce-scatter and all-gather, on the transport it picks.
        let sharded = try ShardedCollectives(communicator: world, format: .fp32)
        var rows: [String] = []
        if world.rank == 0 { print("\(world.size) ranks; median of \(iterations) after 2 warm-up\ncollective        ranks       bytes    time_us") }
        for collective in Collective.allCases {
            for bytes in sizes {
                let seconds = try measure(collective, bytes: bytes, world: world, sharded: sharded)
                let ranks = collective == .p2p ? 2 : world.size
                rows.append("\(collective.rawValue),\(ranks),\(bytes),\(String(format: "%.2f", seconds * 1e6))")
                if world.rank == 0 {
                    print(collective.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0) + "\(ranks)".leftPadded(to: 9)
                        + "\(bytes)".leftPadded(to: 12) + String(format: "%.2f", seconds * 1e6).leftPadded(to: 11))
                }
            }
        }
        if world.rank == 0 {
            let text = ([RatesFile.commHeader] + rows).joined(separator: "\n") + "\n"
            if case .communication(let fits) = try RatesFile.parse(text, path: "bench comm") {
                print("alpha-beta fits (ring formulas, weighted least squares):")
                for collective in Collective.allCases {
                    guard let fit = fits[collective] else { continue }
                    print("  \(collective.rawValue): alpha \(String(format: "%.2f", fit.alpha * 1e6)) us, "
                        + "1/beta \(String(format: "%.2f", 1 / fit.beta / 1e9)) GB/s")
                }
            }
            if let csv { try text.write(toFile: csv, atomically: true, encoding: .utf8) }
        }
        try MPIEnvironment.finalize()
    }

    /// Median seconds of one `collective` on `bytes` bytes per rank (the slowest rank's, each
    /// iteration); for point-to-point, half a ping-pong's round trip.
    func measure(_ collective: Collective, bytes: Int, world: Communicator, sharded: ShardedCollectives) throws -> Double {
        let count = bytes / 4 / world.size * world.size
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        let other = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate(); other.deallocate() }
        buffer.initialize(repeating: 1)
        other.initialize(repeating: 0)
        func once() throws {
            switch collective {
            case .p2p:
                if world.rank == 0 {
                    try world.send(UnsafeBufferPointer(buffer), to: 1)
                    _ = try world.recv(other, from: 1)
                } else if world.rank == 1 {
                    _ = try world.recv(other, from: 0)
                    try world.send(UnsafeBufferPointer(other), to: 0)
                }
            case .allReduce: try world.allReduce(buffer, op: .sum)
            case .reduceScatter: try sharded.reduceScatter(buffer.baseAddress!, count: count)
            case .allGather: try sharded.allGather(buffer.baseAddress!, count: count)
            case .allToAll: try world.allToAll(send: UnsafeBufferPointer(buffer), recv: other)
            }
        }
        for _ in 0..<2 { try once() }
        var times: [Double] = []
        for _ in 0..<iterations {
            buffer.update(repeating: 1)
            try world.barrier()
            let start = MPIEnvironment.wallTime()
            try once()
            times.append(try world.allReduce(MPIEnvironment.wallTime() - start, op: .max))
        }
        let median = times.sorted()[times.count / 2]
        return collective == .p2p ? median / 2 : median
    }
}
