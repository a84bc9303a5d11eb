/// A split's token ids, read-only: either an array (a text file tokenized in memory) or a run of
/// memory-mapped shards seen as one concatenated sequence. Sampling copies windows out of it; a
/// window may straddle two shards.
public struct TokenStore: RandomAccessCollection, Sendable {
    private let storage: Storage
    public let startIndex = 0
    public let endIndex: Int

    private enum Storage: Sendable {
        case memory([Int32])
        case shards([ShardSegment])
    }

    public init(_ tokens: [Int32]) {
        storage = .memory(tokens)
        endIndex = tokens.count
    }

    /// The tokens `range` of the concatenation of `shards`.
    init(shards: [ShardSegment], range: Range<Int>) {
        var segments: [ShardSegment] = []
        for shard in shards {
            let lo = Swift.max(range.lowerBound, shard.start), hi = Swift.min(range.upperBound, shard.start + shard.count)
            guard lo < hi else { continue }
            segments.append(ShardSegment(file: shard.file, payload: shard.payload + (lo - shard.start) * shard.width,
                                         width: shard.width, start: lo - range.lowerBound, count: hi - lo))
        }
        storage = .shards(segments)
        endIndex = range.count
    }

    public subscript(position: Int) -> Int32 {
        precondition(indices.contains(position), "token \(position) outside 0..<\(endIndex)")
        switch storage {
        case .memory(let tokens): return tokens[position]
        case .shards(let segments):
            var lo = 0, hi = segments.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if segments[mid].start <= position { lo = mid } else { hi = mid - 1 }
            }
            return segments[lo].id(at: position - segments[lo].start)
        }
    }

    /// out[0..<count] = self[start..<start + count].
    public func copy(from start: Int, count: Int, into out: UnsafeMutablePointer<Int32>) {
        precondition(start >= 0 && count >= 0 && start + count <= endIndex, "window \(start)+\(count) outside 0..<\(endIndex)")
        switch storage {
        case .memory(let tokens):
            tokens.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + start, count: count) }
        case .shards(let segments):
            var position = start, written = 0
            for segment in segments where segment.start + segment.count > position && written < count {
                let offset = position - segment.start
                let n = Swift.min(count - written, segment.count - offset)
                segment.copy(from: offset, count: n, into: out + written)
                written += n
                position += n
            }
        }
    }
}

/// Part of one mapped shard's payload, placed at `start` in a split's token sequence.
struct ShardSegment: @unchecked Sendable {
    let file: MappedFile
    let payload: UnsafeRawPointer
    let width: Int
    let start: Int
    let count: Int

    func id(at i: Int) -> Int32 {
        width == 2 ? Int32(UInt16(littleEndian: payload.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                   : Int32(bitPattern: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
    }

    func copy(from offset: Int, count n: Int, into out: UnsafeMutablePointer<Int32>) {
        if width == 2 {
            for i in 0..<n { out[i] = Int32(UInt16(littleEndian: payload.loadUnaligned(fromByteOffset: 2 * (offset + i), as: UInt16.self))) }
        } else {
            for i in 0..<n { out[i] = Int32(bitPattern: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * (offset + i), as: UInt32.self))) }
        }
    }
}
