import FileSystem

/// Reads a whole data file, so each failure becomes a one-line `DataError` that names the file and
/// the reason. Only regular files (or links to them) are read: a FIFO would block and a device
/// such as /dev/urandom never ends. A file over `limit` bytes is refused before it is read.
enum FileBytes {
    static func contents(of path: String, limit: Int = Int.max) throws -> [UInt8] {
        switch FileKind.of(path) {
        case .missing, .danglingLink: throw DataError.fileNotFound(path: path)
        case .folder, .linkToFolder: throw DataError.folderNotSupported(path: path)
        default: break
        }
        do {
            return try readRegularFile(path, limit: limit)
        } catch {
            throw DataError.unreadable(path: path, reason: error.reason)
        }
    }
}
