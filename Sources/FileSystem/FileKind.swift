#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a path is, without following a link at the path itself (`lstat`), plus what a link there
/// leads to: readers take their inputs from regular files only, since a FIFO blocks forever, a
/// device such as /dev/urandom never ends, and a link inside a folder Tessera wrote can lead
/// outside it.
public enum FileKind: Equatable, Sendable {
    case missing
    case regular
    case folder
    case linkToRegular
    case linkToFolder
    /// A link whose target is missing (or unreachable).
    case danglingLink
    /// A FIFO, socket or device, or a link to one.
    case special

    public static func of(_ path: String) -> FileKind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .folder
        case S_IFLNK:
            guard stat(path, &info) == 0 else { return .danglingLink }
            switch info.st_mode & S_IFMT {
            case S_IFREG: return .linkToRegular
            case S_IFDIR: return .linkToFolder
            default: return .special
            }
        default: return .special
        }
    }

    /// A regular file, or a link to one.
    public var isFile: Bool { self == .regular || self == .linkToRegular }
    /// A folder, or a link to one.
    public var isFolder: Bool { self == .folder || self == .linkToFolder }

    /// For messages: "a folder", "a symbolic link", ...
    public var phrase: String {
        switch self {
        case .missing: "missing"
        case .regular: "a file"
        case .folder: "a folder"
        case .linkToRegular, .linkToFolder: "a symbolic link"
        case .danglingLink: "a symbolic link to a missing path"
        case .special: "not a regular file (a FIFO, socket or device)"
        }
    }
}

/// A file that cannot be read as asked; `message` says why in a few words, for the caller to put
/// after the path in its own error.
public struct FileReadError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path) \(message)" }
}

/// The bytes of the regular file at `path` (a link to one is followed), refusing anything else
/// and any file over `limit` bytes before reading it.
public func readRegularFile(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_NONBLOCK)
    guard descriptor >= 0 else {
        throw FileReadError(path: path, message: errno == ENOENT ? "does not exist" : "cannot be read: " + systemReason())
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { throw FileReadError(path: path, message: "cannot be read: " + systemReason()) }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw FileReadError(path: path, message: "is a folder, not a file")
    default: throw FileReadError(path: path, message: "is not a regular file (a FIFO, socket or device)")
    }
    let size = Int(info.st_size)
    guard size <= limit else {
        throw FileReadError(path: path, message: "is \(size) bytes, more than the \(limit) this file may hold")
    }
    // Read to the end rather than to the size: files of /proc report 0 bytes and have more.
    var bytes: [UInt8] = []
    bytes.reserveCapacity(size)
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw FileReadError(path: path, message: "cannot be read: " + systemReason()) }
        if count == 0 { return bytes }
        guard count <= limit - bytes.count else {
            throw FileReadError(path: path, message: "holds more than the \(limit) bytes this file may hold")
        }
        bytes += chunk[..<count]
    }
}

/// Whether `path` is a regular file (or a link to one); for a reader that opens the file itself.
/// Throws the reason otherwise.
public func requireRegularFile(_ path: String) throws(FileReadError) {
    let kind = FileKind.of(path)
    guard !kind.isFile else { return }
    switch kind {
    case .missing: throw FileReadError(path: path, message: "does not exist")
    case .folder, .linkToFolder: throw FileReadError(path: path, message: "is a folder, not a file")
    default: throw FileReadError(path: path, message: "is \(kind.phrase)")
    }
}

func systemReason() -> String { String(cString: strerror(errno)) }

/// A name that stays inside the folder it is joined to: not empty, not `.` or `..`, no `/` and no
/// NUL. Names read from a file (a manifest's shards, an index's shards) must be plain.
public func isPlainFileName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.unicodeScalars.contains("\0")
}

/// The text of the regular file at `path`, which must be UTF-8 and at most `limit` bytes.
public func readUTF8File(_ path: String, limit: Int) throws(FileReadError) -> String {
    let bytes = try readRegularFile(path, limit: limit)
    guard let text = String(validating: bytes, as: UTF8.self) else {
        throw FileReadError(path: path, message: "is not valid UTF-8 text")
    }
    return text
}
