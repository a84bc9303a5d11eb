#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed file-system step (`fsync`, `rename`, ...) while replacing a file.
public struct FileError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let path: String
    public let message: String

    public var description: String { "\(operation) failed on \(path): \(message)" }
}

/// Writes a file so that `path` holds either its old contents or the complete new ones, never
/// part of them, even across a crash: `write` fills `path.tmp`, which is flushed to disk and
/// renamed over `path`; then the folder is flushed so that the rename itself is durable.
/// On any error the temporary file is removed and `path` is left as it was. A temporary file left
/// by a process killed mid-write is removed first (a link cannot be made over it).
public func replaceAtomically(_ path: String, _ write: (_ temporaryPath: String) throws -> Void) throws {
    let temporary = path + ".tmp"
    unlink(temporary)
    do {
        try write(temporary)
        try syncToDisk(temporary, flags: O_RDONLY)
        try check(rename(temporary, path), "rename", temporary)
    } catch {
        unlink(temporary)
        throw error
    }
    try syncToDisk(directory(of: path), flags: O_RDONLY | O_DIRECTORY)
}

/// Makes `path` a second name of the existing file `source` (a hard link, no copy), replacing
/// whatever `path` was atomically.
public func replaceByLink(_ path: String, to source: String) throws {
    try replaceAtomically(path) { temporary in
        try check(link(source, temporary), "link", temporary)
    }
}

/// Flushes a file or folder's data and metadata to the device (`open`, `fsync`, `close`).
private func syncToDisk(_ path: String, flags: Int32) throws {
    let fd = open(path, flags)
    try check(fd, "open", path)
    defer { close(fd) }
    try check(fsync(fd), "fsync", path)
}

private func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

private func check(_ result: Int32, _ operation: String, _ path: String) throws {
    guard result >= 0 else {
        throw FileError(operation: operation, path: path, message: String(cString: strerror(errno)))
    }
}
