import Kernels
import MPI

/// How gradient values travel between ranks: as fp32, or as 16 bits (sums always in fp32).
public enum WireFormat: Sendable, Equatable {
    case fp32
    case half(HalfFormat)

    /// Bytes per element on the wire.
    public var bytes: Int { self == .fp32 ? 4 : 2 }
}

/// How the ranks of a group exchange chunks.
public enum CollectiveTransport: Sendable, Equatable {
    /// Shared memory when every rank of the group is on one node, else point-to-point.
    case automatic
    /// MPI send/receive only.
    case pointToPoint
}

/// Reduce-scatter, all-gather and all-reduce of Float buffers over a group, with the payload in
/// fp32, bf16 or fp16 and every sum in fp32.
///
/// A buffer of `count` elements is cut into one chunk per rank (`chunk(_:of:)`). Reduce-scatter is
/// direct: every rank hands each other rank that rank's chunk, converted once, and each owner adds
/// the n − 1 contributions to its own fp32 values, in a fixed order. So every input is rounded to
/// 16 bits exactly once and the error does not grow with the number of ranks, unlike MPI's
/// reductions over a 16-bit type, which round every pairwise partial sum. All-gather rounds each
/// owner's sum once and hands it to everyone; the owner keeps the rounded value too, so every rank
/// ends with identical results. Each rank moves (n − 1)/n of the buffer in each phase, the
/// bandwidth optimum. Buffers go in segments (`segment`), which bounds the staging memory.
///
/// Two transports give bit-identical results (same conversions, same order of additions):
/// - shared memory, when the whole group is on one node: each rank converts the chunks it hands
///   out into its slot of a `SharedWindow` and owners read their peers' slots directly. This moves
///   each byte once, where MPI's shared-memory transport copies it into its own segment and out again.
///   An all-reduce runs its segments as a pipeline with one synchronisation per segment (see
///   `allReduceShared`).
/// - point-to-point: n − 1 rounds of exchanges with the ranks s places ahead and behind; fp32
///   payloads go straight from and into the caller's buffer, 16-bit ones through staging.
///
/// One instance per communicator and thread: it owns its staging.
public final class ShardedCollectives: @unchecked Sendable {
    public let communicator: Communicator
    public let format: WireFormat
    /// Elements per segment: 256 KiB of fp32. Small enough that a segment's chunks, staged copies and
    /// results stay in cache between the phases; measured on 2 ranks, 16-64 MiB all-reduces ran
    /// 1.5-2.5x faster than with 4 MiB segments, through shared memory and point-to-point alike.
    static let segment = 1 << 16
    private let exchange: Exchange

    private enum Exchange {
        /// Each rank's slot holds `regions` segments in the wire format.
        case sharedMemory(SharedWindow)
        case pointToPoint(PointToPointStaging)
    }

    /// Every rank of `communicator` must create it, with the same arguments (the shared-memory
    /// transport is set up collectively).
    public init(communicator: Communicator, format: WireFormat,
                transport: CollectiveTransport = .automatic) throws(MPIError) {
        self.communicator = communicator
        self.format = format
        if transport == .automatic, communicator.size > 1,
           let window = try Self.nodeWindow(communicator, slotBytes: Self.regions * Self.segment * format.bytes) {
            exchange = .sharedMemory(window)
        } else {
            exchange = .pointToPoint(PointToPointStaging(chunk: Self.segment / communicator.size + 1, format: format))
        }
    }

    /// Whether chunks move through shared memory.
    public var usesSharedMemory: Bool {
        if case .sharedMemory = exchange { return true }
        return false
    }

    /// A window over the group when all of it shares one node and every rank could allocate one;
    /// nil otherwise (every rank gets the same answer).
    private static func nodeWindow(_ communicator: Communicator, slotBytes: Int) throws(MPIError) -> SharedWindow? {
        let node = try communicator.splitByNode()
        let wholeGroup = Int(try communicator.allReduce(Int64(node.size), op: .min)) == communicator.size
        guard wholeGroup else {
            try node.free()
            return nil
        }
        // A node without room for the window falls back to point-to-point, on every rank alike.
        let window = try? SharedWindow(communicator: node, slotBytes: slotBytes)
        let everyRank = try communicator.allReduce(Int64(window == nil ? 0 : 1), op: .min) == 1
        return everyRank ? window : nil
    }

    /// Rank r's chunk of `count` elements: an even split, the first `count % size` ranks one larger.
    public func chunk(_ r: Int, of count: Int) -> Range<Int> {
        let n = communicator.size, base = count / n, extra = count % n
        let start = r * base + min(r, extra)
        return start..<(start + base + (r < extra ? 1 : 0))
    }

    /// Replaces buffer[0..<count] by its element-wise sum over the group.
    public func allReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        guard communicator.size > 1 else { return }
        switch exchange {
        case .sharedMemory(let window):
            try allReduceShared(buffer, count: count, window)
        case .pointToPoint(let staging):
            for start in stride(from: 0, to: count, by: Self.segment) {
                let n = min(Self.segment, count - start)
                try reduceScatterPointToPoint(buffer + start, count: n, staging, handOut: true)
                try allGatherPointToPoint(buffer + start, count: n, staging)
            }
        }
    }

    /// The elements of `range` this rank owns after `reduceScatter`: its chunk of every segment.
    public func ownedRanges(of range: Range<Int>) -> [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: Self.segment).map { start in
            let mine = chunk(communicator.rank, of: min(Self.segment, range.upperBound - start))
            return (start + mine.lowerBound)..<(start + mine.upperBound)
        }.filter { !$0.isEmpty }
    }

    /// Leaves the elements of buffer[0..<count] that this rank owns (`ownedRanges`) holding their
    /// sum over the group (fp32); the others keep this rank's own values.
    public func reduceScatter(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        guard communicator.size > 1 else { return }
        for start in stride(from: 0, to: count, by: Self.segment) {
            let values = buffer + start, n = min(Self.segment, count - start)
            switch exchange {
            case .sharedMemory(let window):
                let region = takeRegions(1)
                publish(values, count: n, window, region: region)
                try window.synchronize()
                accumulate(values, count: n, window, region: region, handOut: false)
            case .pointToPoint(let staging):
                try reduceScatterPointToPoint(values, count: n, staging, handOut: false)
            }
        }
    }

    /// Every rank's owned elements of buffer[0..<count] sent to every rank. 16-bit payloads: each
    /// owner rounds its values once and keeps the rounded ones, as the all-reduce does.
    public func allGather(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        guard communicator.size > 1 else { return }
        for start in stride(from: 0, to: count, by: Self.segment) {
            let values = buffer + start, n = min(Self.segment, count - start)
            let mine = chunk(communicator.rank, of: n), owned = values + mine.lowerBound
            switch exchange {
            case .sharedMemory(let window):
                let region = takeRegions(1)
                let slot = slot(communicator.rank, of: window, region: region)
                convert(owned, to: slot, at: mine.lowerBound, count: mine.count)
                if case .half(let half) = format {
                    convertFromHalf(half, halves(slot) + mine.lowerBound, owned, count: mine.count)
                }
                try window.synchronize()
                gather(values, count: n, window, region: region)
            case .pointToPoint(let staging):
                if case .half(let half) = format {
                    convertToHalf(half, owned, staging.sendHalves, count: mine.count)
                    convertFromHalf(half, staging.sendHalves, owned, count: mine.count)
                }
                try allGatherPointToPoint(values, count: n, staging)
            }
        }
    }

    // MARK: Shared memory

    /// Segments a slot holds. A segment's region is rewritten three segments later, and every
    /// phase that reads it ends before a synchronisation that its rewriter passes first: with
    /// three, the pipelined all-reduce needs one synchronisation per segment and no call needs a
    /// closing one.
    static let regions = 3
    /// The region of the next segment; every segment of every call takes the next one.
    private var nextRegion = 0

    /// The regions of the next `count` segments start at the returned one.
    private func takeRegions(_ count: Int) -> Int {
        defer { nextRegion = (nextRegion + count) % Self.regions }
        return nextRegion
    }

    private func slot(_ r: Int, of window: SharedWindow, region: Int) -> UnsafeMutablePointer<UInt8> {
        window.slot(r, as: UInt8.self) + (region % Self.regions) * (window.slotBytes / Self.regions)
    }

    /// All-reduce in segments, as a pipeline: step t hands out segment t's chunks, sums segment
    /// t − 1's contributions and gathers segment t − 2's sums, then synchronises once. Each phase
    /// reads what the step before wrote, and segment t's region is rewritten at step t + 3, after
    /// the synchronisation that follows its last reader (step t + 2).
    private func allReduceShared(_ buffer: UnsafeMutablePointer<Float>, count: Int,
                                 _ window: SharedWindow) throws(MPIError) {
        let segments = (count + Self.segment - 1) / Self.segment
        guard segments > 0 else { return }
        let first = takeRegions(segments)
        func segment(_ j: Int) -> (UnsafeMutablePointer<Float>, Int, Int) {
            (buffer + j * Self.segment, min(Self.segment, count - j * Self.segment), first + j)
        }
        for t in 0..<(segments + 2) {
            if t >= 2 {
                let (values, n, region) = segment(t - 2)
                gather(values, count: n, window, region: region)
            }
            if t >= 1 && t <= segments {
                let (values, n, region) = segment(t - 1)
                accumulate(values, count: n, window, region: region, handOut: true)
            }
            if t < segments {
                let (values, n, region) = segment(t)
                publish(values, count: n, window, region: region)
            }
            if t <= segments { try window.synchronize() }
        }
    }

    /// This rank's contributions to the other ranks' chunks of one segment, into its slot.
    private func publish(_ buffer: UnsafeMutablePointer<Float>, count: Int, _ window: SharedWindow, region: Int) {
        let n = communicator.size, me = communicator.rank
        let own = slot(me, of: window, region: region)
        for s in 1..<n {
            let theirs = chunk((me + s) % n, of: count)
            convert(buffer + theirs.lowerBound, to: own, at: theirs.lowerBound, count: theirs.count)
        }
    }

    /// Adds the peers' published contributions to this rank's chunk, from the rank one behind
    /// downwards. `handOut`: the last addition also rounds the sum to the wire format, keeps the
    /// rounded value (so every rank ends with the same numbers) and writes it into this rank's
    /// slot at its chunk, for `gather`; no peer reads that part of the region before then.
    private func accumulate(_ buffer: UnsafeMutablePointer<Float>, count: Int, _ window: SharedWindow,
                            region: Int, handOut: Bool) {
        let n = communicator.size, me = communicator.rank
        let mine = chunk(me, of: count), sum = buffer + mine.lowerBound
        let own = slot(me, of: window, region: region)
        for s in 1..<n {
            let peer = slot((me - s + n) % n, of: window, region: region), last = handOut && s == n - 1
            switch format {
            case .fp32:
                let values = floats(peer) + mine.lowerBound
                if last {
                    let out = floats(own) + mine.lowerBound
                    for i in 0..<mine.count {
                        sum[i] += values[i]
                        out[i] = sum[i]
                    }
                } else {
                    for i in 0..<mine.count { sum[i] += values[i] }
                }
            case .half(let half):
                if last {
                    accumulateHalfAndRound(half, halves(peer) + mine.lowerBound, into: sum,
                                           rounded: halves(own) + mine.lowerBound, count: mine.count)
                } else {
                    accumulateHalf(half, halves(peer) + mine.lowerBound, into: sum, count: mine.count)
                }
            }
        }
    }

    /// Every owner's chunk of one segment, from its slot.
    private func gather(_ buffer: UnsafeMutablePointer<Float>, count: Int, _ window: SharedWindow, region: Int) {
        let n = communicator.size, me = communicator.rank
        for s in 1..<n {
            let from = (me - s + n) % n, theirs = chunk(from, of: count)
            let peer = slot(from, of: window, region: region)
            switch format {
            case .fp32:
                (buffer + theirs.lowerBound).update(from: floats(peer) + theirs.lowerBound, count: theirs.count)
            case .half(let half):
                convertFromHalf(half, halves(peer) + theirs.lowerBound, buffer + theirs.lowerBound, count: theirs.count)
            }
        }
    }

    /// values[0..<count] into `slot` at element `offset`, in the wire format.
    private func convert(_ values: UnsafeMutablePointer<Float>, to slot: UnsafeMutablePointer<UInt8>,
                         at offset: Int, count: Int) {
        switch format {
        case .fp32: (floats(slot) + offset).update(from: values, count: count)
        case .half(let half): convertToHalf(half, values, halves(slot) + offset, count: count)
        }
    }

    private func floats(_ slot: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(slot).assumingMemoryBound(to: Float.self)
    }

    private func halves(_ slot: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt16> {
        UnsafeMutableRawPointer(slot).assumingMemoryBound(to: UInt16.self)
    }

    // MARK: Point-to-point

    /// `handOut`: the last addition rounds the sum and stages it in `staging.sendHalves`.
    private func reduceScatterPointToPoint(_ buffer: UnsafeMutablePointer<Float>, count: Int,
                                           _ staging: PointToPointStaging, handOut: Bool) throws(MPIError) {
        let n = communicator.size, me = communicator.rank
        let mine = chunk(me, of: count), sum = buffer + mine.lowerBound
        for s in 1..<n {
            let to = (me + s) % n, from = (me - s + n) % n, theirs = chunk(to, of: count)
            switch format {
            case .fp32:
                try communicator.sendRecv(send: UnsafeBufferPointer(start: buffer + theirs.lowerBound, count: theirs.count),
                                          to: to, recv: UnsafeMutableBufferPointer(start: staging.receiveFloats, count: mine.count),
                                          from: from, tag: 1)
                for i in 0..<mine.count { sum[i] += staging.receiveFloats[i] }
            case .half(let half):
                // Only the chunks that leave are converted.
                convertToHalf(half, buffer + theirs.lowerBound, staging.sendHalves, count: theirs.count)
                try communicator.sendRecv(send: UnsafeBufferPointer(start: staging.sendHalves, count: theirs.count),
                                          to: to, recv: UnsafeMutableBufferPointer(start: staging.receiveHalves, count: mine.count),
                                          from: from, tag: 1)
                if handOut && s == n - 1 {
                    accumulateHalfAndRound(half, staging.receiveHalves, into: sum, rounded: staging.sendHalves,
                                           count: mine.count)
                } else {
                    accumulateHalf(half, staging.receiveHalves, into: sum, count: mine.count)
                }
            }
        }
    }

    /// The owner's chunk is final and, for 16 bits, rounded and staged in `staging.sendHalves`.
    private func allGatherPointToPoint(_ buffer: UnsafeMutablePointer<Float>, count: Int,
                                       _ staging: PointToPointStaging) throws(MPIError) {
        let n = communicator.size, me = communicator.rank
        let mine = chunk(me, of: count)
        for s in 1..<n {
            let to = (me + s) % n, from = (me - s + n) % n, theirs = chunk(from, of: count)
            switch format {
            case .fp32:
                try communicator.sendRecv(send: UnsafeBufferPointer(start: buffer + mine.lowerBound, count: mine.count),
                                          to: to, recv: UnsafeMutableBufferPointer(start: buffer + theirs.lowerBound, count: theirs.count),
                                          from: from, tag: 2)
            case .half(let half):
                try communicator.sendRecv(send: UnsafeBufferPointer(start: staging.sendHalves, count: mine.count),
                                          to: to, recv: UnsafeMutableBufferPointer(start: staging.receiveHalves, count: theirs.count),
                                          from: from, tag: 2)
                convertFromHalf(half, staging.receiveHalves, buffer + theirs.lowerBound, count: theirs.count)
            }
        }
    }
}

/// The point-to-point transport's buffers: one chunk to send in 16 bits, and one received chunk
/// (16-bit or fp32).
private final class PointToPointStaging {
    let sendHalves: UnsafeMutablePointer<UInt16>
    let receiveHalves: UnsafeMutablePointer<UInt16>
    let receiveFloats: UnsafeMutablePointer<Float>

    init(chunk: Int, format: WireFormat) {
        sendHalves = .allocate(capacity: format == .fp32 ? 1 : chunk)
        receiveHalves = .allocate(capacity: format == .fp32 ? 1 : chunk)
        receiveFloats = .allocate(capacity: format == .fp32 ? chunk : 1)
    }

    deinit {
        sendHalves.deallocate()
        receiveHalves.deallocate()
        receiveFloats.deallocate()
    }
}
