import Kernels
import MPI

/// How gradient values travel between ranks: as fp32, or as 16 bits (sums always in fp32).
public enum WireFormat: Sendable, Equatable {
    case fp32
    case half(HalfFormat)

    /// Bytes per element on the wire.
    public var bytes: Int { self == .fp32 ? 4 : 2 }
}

/// Reduce-scatter, all-gather and all-reduce of Float buffers over a group, with the payload in
/// fp32, bf16 or fp16 and every sum in fp32.
///
/// A buffer of `count` elements is cut into one chunk per rank (`chunk(_:of:)`). Reduce-scatter is
/// direct: every rank sends each other rank that rank's chunk, converted once, and each owner adds
/// the n − 1 contributions it receives to its own fp32 values, in a fixed order. So every input is
/// rounded to 16 bits exactly once and the error does not grow with the number of ranks, unlike
/// MPI's reductions over a 16-bit type, which round every pairwise partial sum. All-gather rounds
/// each owner's sum once and sends it to everyone; the owner keeps the rounded value too, so every
/// rank ends with identical results. Each rank sends (n − 1)/n of the buffer in each phase, the
/// bandwidth optimum, in n − 1 rounds of exchanges with the ranks s places ahead and behind.
/// fp32 payloads go straight from and into the caller's buffer; 16-bit ones through staging.
/// Large buffers go in segments of 4 MiB (fp32), which bounds the staging memory.
///
/// One instance per communicator and thread: it owns its staging buffers.
public final class ShardedCollectives: @unchecked Sendable {
    public let communicator: Communicator
    public let format: WireFormat
    /// Elements per segment: 4 MiB of fp32.
    static let segment = 1 << 20
    /// One chunk to send in 16 bits, and one received chunk (16-bit or fp32).
    private let sendHalves: UnsafeMutablePointer<UInt16>
    private let receiveHalves: UnsafeMutablePointer<UInt16>
    private let receiveFloats: UnsafeMutablePointer<Float>

    public init(communicator: Communicator, format: WireFormat) {
        self.communicator = communicator
        self.format = format
        let chunk = Self.segment / communicator.size + 1
        sendHalves = .allocate(capacity: format == .fp32 ? 1 : chunk)
        receiveHalves = .allocate(capacity: format == .fp32 ? 1 : chunk)
        receiveFloats = .allocate(capacity: format == .fp32 ? chunk : 1)
    }

    deinit {
        sendHalves.deallocate()
        receiveHalves.deallocate()
        receiveFloats.deallocate()
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
        for start in stride(from: 0, to: count, by: Self.segment) {
            let n = min(Self.segment, count - start)
            try reduceScatterSegment(buffer + start, count: n)
            try allGatherSegment(buffer + start, count: n)
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
        for start in stride(from: 0, to: count, by: Self.segment) {
            try reduceScatterSegment(buffer + start, count: min(Self.segment, count - start))
        }
    }

    /// Every rank's owned elements of buffer[0..<count] sent to every rank.
    public func allGather(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        for start in stride(from: 0, to: count, by: Self.segment) {
            try allGatherSegment(buffer + start, count: min(Self.segment, count - start))
        }
    }

    private func reduceScatterSegment(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        let n = communicator.size, me = communicator.rank
        guard n > 1 else { return }
        let mine = chunk(me, of: count), sum = buffer + mine.lowerBound
        for s in 1..<n {
            let to = (me + s) % n, from = (me - s + n) % n, theirs = chunk(to, of: count)
            switch format {
            case .fp32:
                try communicator.sendRecv(send: UnsafeBufferPointer(start: buffer + theirs.lowerBound, count: theirs.count),
                                          to: to, recv: UnsafeMutableBufferPointer(start: receiveFloats, count: mine.count),
                                          from: from, tag: 1)
                for i in 0..<mine.count { sum[i] += receiveFloats[i] }
            case .half(let half):
                // Only the chunks that leave are converted.
                convertToHalf(half, buffer + theirs.lowerBound, sendHalves, count: theirs.count)
                try communicator.sendRecv(send: UnsafeBufferPointer(start: sendHalves, count: theirs.count),
                                          to: to, recv: UnsafeMutableBufferPointer(start: receiveHalves, count: mine.count),
                                          from: from, tag: 1)
                accumulateHalf(half, receiveHalves, into: sum, count: mine.count)
            }
        }
    }

    private func allGatherSegment(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(MPIError) {
        let n = communicator.size, me = communicator.rank
        guard n > 1 else { return }
        let mine = chunk(me, of: count)
        if case .half(let half) = format {
            // The owner keeps the rounded value too, so every rank holds the same numbers.
            convertToHalf(half, buffer + mine.lowerBound, sendHalves, count: mine.count)
            convertFromHalf(half, sendHalves, buffer + mine.lowerBound, count: mine.count)
        }
        for s in 1..<n {
            let to = (me + s) % n, from = (me - s + n) % n, theirs = chunk(from, of: count)
            switch format {
            case .fp32:
                try communicator.sendRecv(send: UnsafeBufferPointer(start: buffer + mine.lowerBound, count: mine.count),
                                          to: to, recv: UnsafeMutableBufferPointer(start: buffer + theirs.lowerBound, count: theirs.count),
                                          from: from, tag: 2)
            case .half(let half):
                try communicator.sendRecv(send: UnsafeBufferPointer(start: sendHalves, count: mine.count),
                                          to: to, recv: UnsafeMutableBufferPointer(start: receiveHalves, count: theirs.count),
                                          from: from, tag: 2)
                convertFromHalf(half, receiveHalves, buffer + theirs.lowerBound, count: theirs.count)
            }
        }
    }
}
