import CKernels
import Foundation

/// CRC-32C of a whole file, read in 8 MiB pieces, as 8 hex digits.
public func crc32cOfFile(_ path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw CheckpointError.corrupt(path, "cannot be opened")
    }
    defer { try? handle.close() }
    var crc: UInt32 = 0
    while let piece = try handle.read(upToCount: 8 << 20), !piece.isEmpty {
        crc = piece.withUnsafeBytes { tessera_crc32c(crc, $0.baseAddress, $0.count) }
    }
    return String(format: "%08x", crc)
}
