// tessera-mpi-check: runs every wrapper of the MPI module (and the tensor-parallel region
// operations built on them) on all ranks of `mpirun -np N` and
// compares each result with the value rank arithmetic predicts.
//
// Success: rank 0 prints `mpi-check: ok (N ranks)` and every rank exits 0. A wrong value: every
// failing rank lists its first ten failures, rank 0 prints `mpi-check: FAIL <first failure>`
// and every rank exits 1. A thrown MPIError: that rank prints the FAIL line and aborts the job.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MPI
import Parallel

/// Collects failed expectations; checking never changes which MPI calls a rank makes, so ranks
/// stay in step even when values are wrong.
struct Checker {
    private(set) var failures: [String] = []

    mutating func expect(_ condition: Bool, _ what: @autoclosure () -> String) {
        if !condition { failures.append(what()) }
    }

    mutating func equal<T: Equatable>(_ actual: T, _ expected: T, _ what: String) {
        expect(actual == expected, "\(what): got \(actual), expected \(expected)")
    }
}

/// `n` as any of the element types (the check's values are small and exact in all of them).
func scalar<T: MPIScalar & Numeric>(_ n: Int) -> T {
    T(exactly: n)!
}

func checkEnvironment(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    c.expect(MPIEnvironment.isThreadMultiple, "environment: MPI_THREAD_MULTIPLE not provided")
    c.expect(try !MPIEnvironment.processorName.isEmpty, "environment: empty processor name")
    let start = MPIEnvironment.wallTime()
    try world.barrier()
    c.expect(MPIEnvironment.wallTime() >= start, "environment: wall time went backwards")
    c.expect((0..<world.size).contains(world.rank), "environment: rank \(world.rank) outside size \(world.size)")
}

func checkBroadcast(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let (rank, root) = (world.rank, world.size - 1)
    var values: [Float] = rank == root ? (0..<5).map { Float(root * 10 + $0) } : Array(repeating: -1, count: 5)
    try world.broadcast(&values, root: root)
    c.equal(values, (0..<5).map { Float(root * 10 + $0) }, "broadcast [Float] from \(root)")

    let raw = MPIBuffer<Int64>(repeating: rank == 0 ? 42 : 0, count: 3)
    try world.broadcast(raw.buffer, root: 0)
    c.equal(raw.array, [42, 42, 42], "broadcast raw Int64 from 0")

    let text = try world.broadcast(string: rank == root ? "grüße von \(root)" : "ignored", root: root)
    c.equal(text, "grüße von \(root)", "broadcast(string:)")
}

func checkReductions<T: MPIScalar & Numeric & Comparable>(_: T.Type, _ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let (rank, size) = (world.rank, world.size)
    let local: [T] = (0..<4).map { scalar(rank + $0) }
    // An array, not a dictionary: every rank must run the ops in the same order.
    let expected: [(ReduceOp, [T])] = [
        (.sum, (0..<4).map { scalar(size * $0 + size * (size - 1) / 2) }),
        (.max, (0..<4).map { scalar(size - 1 + $0) }),
        (.min, (0..<4).map { scalar($0) }),
    ]
    for (op, want) in expected {
        var values = local
        try world.allReduce(&values, op: op)
        c.equal(values, want, "allReduce [\(T.self)] \(op)")

        let raw = MPIBuffer(local)
        try world.allReduce(raw.buffer, op: op)
        c.equal(raw.array, want, "allReduce raw \(T.self) \(op)")

        c.equal(try world.allReduce(local[1], op: op), want[1], "allReduce scalar \(T.self) \(op)")
    }
}

func checkAllGather(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let (rank, size) = (world.rank, world.size)
    let expected = (0..<size).flatMap { r in (0..<3).map { Int32(r * 100 + $0) } }
    let mine = (0..<3).map { Int32(rank * 100 + $0) }
    c.equal(try world.allGather(mine), expected, "allGather [Int32]")

    let send = MPIBuffer(mine)
    let recv = MPIBuffer<Int32>(repeating: -1, count: 3 * size)
    try world.allGather(send: UnsafeBufferPointer(send.buffer), recv: recv.buffer)
    c.equal(recv.array, expected, "allGather raw Int32")
}

func checkReduceScatter(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    // Rank q sends element j = q + j; block r of the sum holds size * (r * k + i) + Σq.
    let (rank, size, k) = (world.rank, world.size, 3)
    let send = (0..<k * size).map { Double(rank + $0) }
    let expected = (0..<k).map { Double(size * (rank * k + $0) + size * (size - 1) / 2) }
    c.equal(try world.reduceScatterBlock(send, op: .sum), expected, "reduceScatterBlock [Double] sum")

    let sendBuffer = MPIBuffer(send)
    let recv = MPIBuffer<Double>(repeating: -1, count: k)
    try world.reduceScatterBlock(send: UnsafeBufferPointer(sendBuffer.buffer), recv: recv.buffer, op: .max)
    c.equal(recv.array, (0..<k).map { Double(size - 1 + rank * k + $0) }, "reduceScatterBlock raw Double max")
}

func checkAllToAll(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    // Block d of rank r's send holds r*1000 + d*10 + i, so block s received here holds s*1000 + rank*10 + i.
    let (rank, size, k) = (world.rank, world.size, 2)
    let send = (0..<size).flatMap { d in (0..<k).map { UInt32(rank * 1000 + d * 10 + $0) } }
    let expected = (0..<size).flatMap { s in (0..<k).map { UInt32(s * 1000 + rank * 10 + $0) } }
    c.equal(try world.allToAll(send), expected, "allToAll [UInt32]")

    let sendBuffer = MPIBuffer(send)
    let recv = MPIBuffer<UInt32>(repeating: 0, count: send.count)
    try world.allToAll(send: UnsafeBufferPointer(sendBuffer.buffer), recv: recv.buffer)
    c.equal(recv.array, expected, "allToAll raw UInt32")
}

func checkAllToAllv(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    // Rank r sends (r + d) % 3 elements to rank d (some zero): r*1000 + d*10 + i.
    let (rank, size) = (world.rank, world.size)
    let sendCounts = (0..<size).map { (rank + $0) % 3 }
    let recvCounts = (0..<size).map { ($0 + rank) % 3 }
    let send = (0..<size).flatMap { d in (0..<sendCounts[d]).map { Int64(rank * 1000 + d * 10 + $0) } }
    let expected = (0..<size).flatMap { s in (0..<recvCounts[s]).map { Int64(s * 1000 + rank * 10 + $0) } }
    c.equal(try world.allToAllv(send, sendCounts: sendCounts, recvCounts: recvCounts), expected, "allToAllv [Int64]")

    // Raw buffers larger than the counts need: only the packed prefix is written.
    let sendBuffer = MPIBuffer(send.map(Double.init) + [-7])
    let recv = MPIBuffer<Double>(repeating: -1, count: expected.count + 2)
    try world.allToAllv(send: UnsafeBufferPointer(sendBuffer.buffer), sendCounts: sendCounts,
                          recv: recv.buffer, recvCounts: recvCounts)
    c.equal(recv.array, expected.map(Double.init) + [-1, -1], "allToAllv raw Double")
}

func checkGather(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let (rank, size) = (world.rank, world.size)
    // An array, not a set: every rank must visit the roots in the same order.
    for root in size > 1 ? [0, size - 1] : [0] {
        let gathered = try world.gather([UInt16(rank), UInt16(rank + 100)], root: root)
        c.equal(gathered, rank == root ? (0..<size).flatMap { [UInt16($0), UInt16($0 + 100)] } : nil,
                "gather [UInt16] to \(root)")

        // Rank r sends r + 1 values r*10 + i.
        let mine = (0...rank).map { UInt8(rank * 10 + $0) }
        let expected = (0..<size).flatMap { r in (0...r).map { UInt8(r * 10 + $0) } }
        c.equal(try world.gatherv(mine, root: root), rank == root ? expected : nil, "gatherv [UInt8] to \(root)")

        let send = MPIBuffer(mine)
        let recv = rank == root ? MPIBuffer<UInt8>(repeating: 0, count: expected.count) : nil
        try world.gatherv(send: UnsafeBufferPointer(send.buffer), recv: recv?.buffer,
                            recvCounts: rank == root ? (0..<size).map { $0 + 1 } : nil, root: root)
        c.equal(recv?.array, rank == root ? expected : nil, "gatherv raw UInt8 to \(root)")

        let fixed = MPIBuffer<Float>(repeating: Float(rank), count: 2)
        let fixedRecv = rank == root ? MPIBuffer<Float>(repeating: -1, count: 2 * size) : nil
        try world.gather(send: UnsafeBufferPointer(fixed.buffer), recv: fixedRecv?.buffer, root: root)
        c.equal(fixedRecv?.array, rank == root ? (0..<size).flatMap { [Float($0), Float($0)] } : nil,
                "gather raw Float to \(root)")
    }
}

func checkPointToPoint(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    // Even ranks send to the next odd rank, which answers; a rank without a partner sits out.
    let (rank, size) = (world.rank, world.size)
    let partner = rank.isMultiple(of: 2) ? rank + 1 : rank - 1
    if partner < size {
        if rank.isMultiple(of: 2) {
            try world.send([Int32(rank), 7, 8], to: partner, tag: 5)
            let reply = MPIBuffer<Int32>(repeating: -1, count: 5)
            let received = try world.recv(reply.buffer, from: partner, tag: 6)
            c.equal(received, 2, "recv raw count from \(partner)")
            c.equal(reply.array, [Int32(partner), Int32(rank), -1, -1, -1], "recv raw from \(partner)")
        } else {
            var message = [Int32](repeating: -1, count: 3)
            try world.recv(&message, from: partner, tag: 5)
            c.equal(message, [Int32(partner), 7, 8], "recv [Int32] from \(partner)")
            let reply = MPIBuffer<Int32>([Int32(rank), Int32(partner)])
            try world.send(UnsafeBufferPointer(reply.buffer), to: partner, tag: 6)
        }
    }

    // Ring: send to the right, receive from the left (a world of one sends to itself).
    let (right, left) = ((rank + 1) % size, (rank + size - 1) % size)
    c.equal(try world.sendRecv([Double(rank), 0.5], to: right, from: left, count: 2),
            [Double(left), 0.5], "sendRecv ring [Double]")
    let send = MPIBuffer<Int64>([Int64(rank) * 3])
    let recv = MPIBuffer<Int64>(repeating: -1, count: 1)
    try world.sendRecv(send: UnsafeBufferPointer(send.buffer), to: right, recv: recv.buffer, from: left, tag: 9)
    c.equal(recv[0], Int64(left) * 3, "sendRecv ring raw Int64")
}

func checkNonBlocking(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let (rank, size) = (world.rank, world.size)
    // Large enough for MPI's rendezvous path; two halves reduced as separate requests.
    let n = 1 << 18
    let gradients = MPIBuffer<Float>(repeating: Float(rank + 1), count: n)
    let halves = [try world.iallReduce(gradients, range: 0..<n / 2, op: .sum),
                  try world.iallReduce(gradients, range: n / 2..<n, op: .max)]
    try Request.waitAll(halves)
    c.equal(gradients[0], Float(size * (size + 1) / 2), "iallReduce sum half, first element")
    c.equal(gradients[n / 2 - 1], Float(size * (size + 1) / 2), "iallReduce sum half, last element")
    c.equal(gradients[n / 2], Float(size), "iallReduce max half, first element")
    c.equal(gradients[n - 1], Float(size), "iallReduce max half, last element")

    let whole = MPIBuffer<Int32>(repeating: Int32(rank), count: 4)
    try world.iallReduce(whole, op: .min).wait()
    c.equal(whole.array, [0, 0, 0, 0], "iallReduce whole buffer min")

    // Ring of large messages; the receive is polled with test(), then the send waited on.
    let (right, left) = ((rank + 1) % size, (rank + size - 1) % size)
    let outgoing = MPIBuffer<Double>(repeating: Double(rank), count: n)
    let incoming = MPIBuffer<Double>(repeating: -1, count: n)
    let receiving = try world.irecv(incoming, from: left, tag: 3)
    let sending = try world.isend(outgoing, to: right, tag: 3)
    while try !receiving.test() {}
    try sending.wait()
    c.expect(try receiving.test(), "irecv: test() after completion returned false")
    c.equal(incoming[0], Double(left), "isend/irecv ring, first element")
    c.equal(incoming[n - 1], Double(left), "isend/irecv ring, last element")

    // Ranges: the second half of one buffer into the first half of another.
    let source = MPIBuffer<UInt64>((0..<8).map { UInt64(rank * 100 + $0) })
    let target = MPIBuffer<UInt64>(repeating: 0, count: 8)
    try Request.waitAll([try world.irecv(target, range: 0..<4, from: left),
                         try world.isend(source, range: 4..<8, to: right)])
    c.equal(target.array, (4..<8).map { UInt64(left * 100 + $0) } + [0, 0, 0, 0], "isend/irecv ranges")
}

func checkSplit(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let (rank, size) = (world.rank, world.size)
    // Two groups by parity, ordered by descending world rank.
    let members = (0..<size).filter { $0 % 2 == rank % 2 }.sorted(by: >)
    guard let group = try world.split(color: rank % 2, key: -rank) else {
        c.expect(false, "split by parity returned nil")
        return
    }
    c.equal(group.size, members.count, "split parity size")
    c.equal(group.rank, members.firstIndex(of: rank)!, "split parity rank")
    c.equal(try group.allReduce(Int64(rank), op: .sum), Int64(members.reduce(0, +)), "split parity allReduce")
    let (next, previous) = ((group.rank + 1) % group.size, (group.rank + group.size - 1) % group.size)
    c.equal(try group.sendRecv([Int32(rank)], to: next, from: previous, count: 1), [Int32(members[previous])],
            "split parity ring")
    try group.free()

    // Rank 0 opts out; the others keep their order.
    let rest = try world.split(color: rank == 0 ? nil : 0, key: rank)
    if rank == 0 {
        c.expect(rest == nil, "split with nil color returned a communicator")
    } else if let rest {
        c.equal(rest.size, size - 1, "split rest size")
        c.equal(rest.rank, rank - 1, "split rest rank")
        c.equal(try rest.allReduce(Int32(1), op: .sum), Int32(size - 1), "split rest allReduce")
        try rest.free()
    } else {
        c.expect(false, "split rest returned nil on rank \(rank)")
    }

    let copy = try world.duplicate()
    c.equal(copy.rank, rank, "duplicate rank")
    c.equal(copy.size, size, "duplicate size")
    try copy.barrier()
    c.equal(try copy.allReduce(UInt64(rank), op: .max), UInt64(size - 1), "duplicate allReduce")
    try copy.free()
}

func checkAgreement(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let (rank, size) = (world.rank, world.size)
    c.expect(try world.firstFailure(nil) == nil, "firstFailure: no failures reported one")
    let odd = try world.firstFailure(rank % 2 == 1 ? "odd rank \(rank)" : nil)
    c.expect(odd.map { "\($0.rank) \($0.message)" } == (size > 1 ? "1 odd rank 1" : nil),
             "firstFailure odd ranks: got \(String(describing: odd))")
    let all = try world.firstFailure("rank \(rank) failed")
    c.expect(all.map { "\($0.rank) \($0.message)" } == "0 rank 0 failed", "firstFailure all ranks: got \(String(describing: all))")
}

func checkErrors(_ world: Communicator, _ c: inout Checker) {
    // MPI_ERRORS_RETURN is set: an invalid destination throws instead of aborting the job.
    do {
        try world.send([Float(1)], to: world.size)
        c.expect(false, "send to rank \(world.size) did not throw")
    } catch {
        c.equal(error.operation, "MPI_Send", "invalid send: error operation")
    }
}

/// Megatron's region operations on the whole world as one tensor group: reduce-from-region and
/// copy-to-region's backward sum, gather-from-region puts rank k's columns k-th, scatter-to-region
/// takes them back out.
func checkTensorRegions(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let group = TensorParallelGroup(world)
    let (rank, size, rows, columns) = (world.rank, world.size, 3, 2)
    var summed: [Float] = [Float(rank), 1]
    try group.reduceFromRegion(&summed, count: 2)
    c.equal(summed, [Float(size * (size - 1) / 2), Float(size)], "reduceFromRegion")
    var maxima: [Float] = [Float(rank), -Float(rank)]
    try group.maximum(&maxima, count: 2)
    c.equal(maxima, [Float(size - 1), 0], "tensor maximum")
    // Element (r, j) of rank k's block is 100·r + 10·k + j.
    let local = (0..<(rows * columns)).map { Float(100 * ($0 / columns) + 10 * rank + $0 % columns) }
    var full = [Float](repeating: -1, count: rows * columns * size)
    try group.gatherFromRegion(local: local, full: &full, rows: rows, columns: columns)
    let expected = (0..<(rows * columns * size)).map { i -> Float in
        let (r, column) = (i / (columns * size), i % (columns * size))
        return Float(100 * r + 10 * (column / columns) + column % columns)
    }
    c.equal(full, expected, "gatherFromRegion")
    var back = [Float](repeating: -1, count: rows * columns)
    group.scatterToRegion(full: full, local: &back, rows: rows, columns: columns)
    c.equal(back, local, "scatterToRegion after gatherFromRegion")
}

/// Tessera's own all-reduce with fp32, bf16 and fp16 payloads: each element within the bound of
/// one rounding per input and one of the result (u · (Σ other ranks' |x| + |sum|), u = 2^-8 for
/// bf16, 2^-11 for fp16), whatever the rank count, and bit-identical on every rank. Counts include
/// fewer elements than ranks, counts the ranks do not divide and more than one segment. Both
/// transports (shared memory, used whenever all ranks share a node, and point-to-point) give the
/// same bits, and a reduce-scatter followed by an all-gather equals the all-reduce.
func checkShardedAllReduce(_ world: Communicator, _ c: inout Checker) throws(MPIError) {
    let (rank, size) = (world.rank, world.size)
    // Within fp16 range, sums included: |x| ≤ 100 · 1.7^7 ≈ 4100.
    func value(_ r: Int, _ i: Int) -> Float { Float((Double((i * 37 + r * 101) % 200) - 100) * pow(1.7, Double(i % 8))) }
    for (format, unit) in [(WireFormat.fp32, 0x1p-24), (.half(.bf16), 0x1p-8), (.half(.fp16), 0x1p-11)] {
        let shared = try ShardedCollectives(communicator: world, format: format)
        let pointToPoint = try ShardedCollectives(communicator: world, format: format, transport: .pointToPoint)
        c.expect(shared.usesSharedMemory == (size > 1), "\(format): one node, shared memory expected for \(size) ranks")
        for count in [0, 1, size - 1, 1000, 3 * size + 1, 100_003, 1_100_003] where count >= 0 {
            var buffer = (0..<count).map { value(rank, $0) }
            try shared.allReduce(&buffer, count: count)
            var worst = 0.0
            for i in 0..<count {
                var exact = 0.0, magnitude = 0.0
                for r in 0..<size {
                    exact += Double(value(r, i))
                    magnitude += abs(Double(value(r, i)))
                }
                // The owner's own value enters unrounded; fp32 accumulation adds a little.
                let bound = unit * (magnitude + abs(exact)) + 0x1p-22 * magnitude
                worst = max(worst, abs(Double(buffer[i]) - exact) / bound)
            }
            c.expect(worst <= 1, "sharded all-reduce \(format) of \(count): error \(worst) × the rounding bound")
            // Identical on every rank: compare bit patterns through a max and a min.
            let bits = buffer.map { Int64($0.bitPattern) }
            var high = bits, low = bits
            try world.allReduce(&high, op: .max)
            try world.allReduce(&low, op: .min)
            c.expect(high == bits && low == bits, "sharded all-reduce \(format) of \(count): ranks disagree")

            var overMessages = (0..<count).map { value(rank, $0) }
            try pointToPoint.allReduce(&overMessages, count: count)
            c.expect(overMessages.map(\.bitPattern) == buffer.map(\.bitPattern),
                     "\(format) of \(count): point-to-point and shared memory differ")
            var inTwoPhases = (0..<count).map { value(rank, $0) }
            try shared.reduceScatter(&inTwoPhases, count: count)
            try shared.allGather(&inTwoPhases, count: count)
            c.expect(inTwoPhases.map(\.bitPattern) == buffer.map(\.bitPattern),
                     "\(format) of \(count): reduce-scatter + all-gather differs from all-reduce")
        }
    }
}

let world = Communicator.world
var checker = Checker()
do throws(MPIError) {
    try checkEnvironment(world, &checker)
    try checkBroadcast(world, &checker)
    try checkReductions(Float.self, world, &checker)
    try checkReductions(Double.self, world, &checker)
    try checkReductions(Int32.self, world, &checker)
    try checkReductions(Int64.self, world, &checker)
    try checkReductions(UInt8.self, world, &checker)
    try checkReductions(UInt16.self, world, &checker)
    try checkReductions(UInt32.self, world, &checker)
    try checkReductions(UInt64.self, world, &checker)
    try checkAllGather(world, &checker)
    try checkReduceScatter(world, &checker)
    try checkAllToAll(world, &checker)
    try checkAllToAllv(world, &checker)
    try checkGather(world, &checker)
    try checkPointToPoint(world, &checker)
    try checkNonBlocking(world, &checker)
    try checkSplit(world, &checker)
    try checkAgreement(world, &checker)
    try checkTensorRegions(world, &checker)
    try checkShardedAllReduce(world, &checker)
    checkErrors(world, &checker)

    for failure in checker.failures.prefix(10) {
        print("mpi-check: rank \(world.rank): \(failure)")
    }
    let summary = checker.failures.first.map { "rank \(world.rank): \($0) (\(checker.failures.count) failures on this rank)" }
    let failure = try world.firstFailure(summary)
    if world.rank == 0 {
        print(failure.map { "mpi-check: FAIL \($0.message)" } ?? "mpi-check: ok (\(world.size) ranks)")
    }
    try MPIEnvironment.finalize()
    exit(failure == nil ? 0 : 1)
} catch {
    print("mpi-check: FAIL rank \(world.rank): \(error)")
    MPIEnvironment.abort(code: 1)
}
