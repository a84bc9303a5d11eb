#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Reads a whole data file with POSIX calls, so each failure becomes a one-line `DataError` that
/// names the file and the system's reason.
enum FileBytes {
    static func contents(of path: String) throws -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw DataError.fileNotFound(path: path) }
            throw DataError.unreadable(path: path, reason: reason())
        }
        guard info.st_mode & S_IFMT != S_IFDIR else { throw DataError.folderNotSupported(path: path) }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw DataError.unreadable(path: path, reason: reason()) }
        defer { close(descriptor) }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count >= 0 else { throw DataError.unreadable(path: path, reason: reason()) }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    private static func reason() -> String { String(cString: strerror(errno)) }
}
