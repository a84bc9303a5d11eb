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

/// A file that cannot be read as asked, said two ways for callers' own errors: `message` follows
/// the path ("is not a regular file (…)", "cannot be read: Permission denied"), `reason` follows
/// "cannot read PATH: " ("not a regular file (…)", "Permission denied").
public struct FileReadError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String
    public let reason: String
    public var description: String { "\(path) \(message)" }

    static func missing(_ path: String) -> FileReadError {
        FileReadError(path: path, message: "does not exist", reason: "no such file")
    }

    /// The file is something it must not be: `what` after "is".
    static func kind(_ path: String, _ what: String) -> FileReadError {
        FileReadError(path: path, message: "is " + what, reason: what)
    }

    /// Reading failed for `why` (the system's reason).
    static func unreadable(_ path: String, _ why: String) -> FileReadError {
        FileReadError(path: path, message: "cannot be read: " + why, reason: why)
    }
}

/// Opens the regular file at `path` for reading (a link to one is followed) and returns the
/// descriptor, which the caller closes, with the file's size; anything else is refused before a
/// byte is read. `O_NONBLOCK` keeps a FIFO from blocking the open itself.
public func openRegularFile(_ path: String) throws(FileReadError) -> (descriptor: Int32, size: Int) {
    let descriptor = open(path, O_RDONLY | O_NONBLOCK)
    guard descriptor >= 0 else {
        throw errno == ENOENT ? .missing(path) : .unreadable(path, systemReason())
    }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
        let reason = systemReason()
        close(descriptor)
        throw .unreadable(path, reason)
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG: return (descriptor, Int(info.st_size))
    case S_IFDIR:
        close(descriptor)
        throw .kind(path, "a folder, not a file")
    default:
        close(descriptor)
        throw .kind(path, "not a regular file (a FIFO, socket or device)")
    }
}

/// The bytes of the regular file at `path` (a link to one is followed), refusing anything else
/// and any file over `limit` bytes before reading it.
public func readRegularFile(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
    let (descriptor, size) = try openRegularFile(path)
    defer { close(descriptor) }
    guard size <= limit else {
        throw .kind(path, "\(size) bytes, more than the \(limit) this file may hold")
    }
    // Read to the end rather than to the size: files of /proc report 0 bytes and have more.
    var bytes: [UInt8] = []
    bytes.reserveCapacity(size)
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw .unreadable(path, systemReason()) }
        if count == 0 { return bytes }
        guard count <= limit - bytes.count else {
            throw FileReadError(path: path, message: "holds more than the \(limit) bytes this file may hold",
                                reason: "more than the \(limit) bytes this file may hold")
        }
        bytes += chunk[..<count]
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
        throw .kind(path, "not valid UTF-8 text")
    }
    return text
}
