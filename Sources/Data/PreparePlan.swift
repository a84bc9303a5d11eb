#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// One piece of work for `tessera prepare`, which becomes one shard: a whole input file, or for
/// a large text file one of its chunks, each cut after the first newline at least
/// `PreparePlan.chunkBytes` past the chunk's start. The cuts depend only on the files, never on the number of ranks,
/// so every rank count writes the same shards.
public struct PrepareUnit: Sendable, Equatable {
    public let path: String
    public let format: InputFormat
    /// The bytes of `path` this unit covers.
    public let bytes: Range<Int>
    /// Whether the unit ends its file (a text file's last chunk ends its document).
    public let endsFile: Bool

    /// shard_00000.bin, ... by the unit's place in the plan.
    public static func shardName(_ index: Int) -> String {
        let digits = String(index)
        return "shard_" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".bin"
    }
}

/// The input files, in order (arguments in order, folders walked in sorted order, hidden files
/// skipped), cut into units. Every rank builds the same plan.
public struct PreparePlan: Sendable {
    public static let chunkBytes = 1 << 20
    public let units: [PrepareUnit]

    public init(inputs: [String], format: InputFormat?, chunkBytes: Int = PreparePlan.chunkBytes) throws(DataError) {
        var units: [PrepareUnit] = []
        for path in try PreparePlan.files(inputs) {
            let format = format ?? InputFormat.detect(path: path)
            let size = try PreparePlan.size(of: path)
            guard format == .text, size > chunkBytes else {
                units.append(PrepareUnit(path: path, format: format, bytes: 0..<size, endsFile: true))
                continue
            }
            var start = 0
            for cut in try PreparePlan.cuts(path: path, size: size, every: chunkBytes) + [size] where cut > start {
                units.append(PrepareUnit(path: path, format: format, bytes: start..<cut, endsFile: cut == size))
                start = cut
            }
        }
        self.units = units
    }

    /// Files named by `inputs`, folders expanded recursively in sorted order. Only regular files
    /// are inputs (a FIFO would block, a device never end), and a folder reached again through a
    /// link is walked once, so a link cycle cannot recurse without end.
    static func files(_ inputs: [String]) throws(DataError) -> [String] {
        var walked: Set<[UInt64]> = []
        return try files(inputs, walked: &walked)
    }

    private static func files(_ inputs: [String], walked: inout Set<[UInt64]>) throws(DataError) -> [String] {
        var result: [String] = []
        for input in inputs {
            var info = stat()
            guard stat(input, &info) == 0 else {
                throw errno == ENOENT || errno == ENOTDIR ? .fileNotFound(path: input) : .unreadable(path: input, reason: systemReason())
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                result.append(input)
                continue
            case S_IFDIR:
                guard walked.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted else { continue }
            default:
                throw .unreadable(path: input, reason: "not a regular file (a FIFO, socket or device)")
            }
            guard let directory = opendir(input) else { throw .unreadable(path: input, reason: systemReason()) }
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if !name.hasPrefix(".") { names.append(name) }
            }
            closedir(directory)
            let base = input.hasSuffix("/") ? input : input + "/"
            result += try files(names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { base + $0 }, walked: &walked)
        }
        return result
    }

    private static func size(of path: String) throws(DataError) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(path: path, reason: systemReason()) }
        return Int(info.st_size)
    }

    /// Offsets just after the first newline at least `every` bytes past the previous cut.
    private static func cuts(path: String, size: Int, every: Int) throws(DataError) -> [Int] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: systemReason()) }
        defer { close(descriptor) }
        var cuts: [Int] = [], target = every
        var window = [UInt8](repeating: 0, count: 1 << 16)
        while target < size {
            var offset = target, found: Int?
            while found == nil, offset < size {
                let count = window.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
                guard count > 0 else { throw .unreadable(path: path, reason: systemReason()) }
                found = window[..<count].firstIndex(of: 0x0A).map { offset + $0 + 1 }
                offset += count
            }
            guard let cut = found, cut < size else { break }
            cuts.append(cut)
            target = cut + every
        }
        return cuts
    }
}
