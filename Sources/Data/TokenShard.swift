#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import CKernels

/// One token shard file as `tessera prepare` writes it: a 32-byte header, then the token ids.
/// All integers little-endian.
///
///     offset  size   field
///          0     8   magic "TSTOKENS"
///          8     4   format version, 1
///         12     4   bytes per token: 2 (uint16 ids) when the vocabulary, end-of-text included,
///                    fits in 65,536 ids, else 4 (uint32)
///         16     8   token count n
///         24     4   CRC-32C (Castagnoli) of the n × width payload bytes
///         28     4   reserved, 0
///         32 n×width token ids
///
/// Documents follow each other in a shard, each ending with the tokenizer's end-of-text id.
public enum TokenShard {
    public static let magic: [UInt8] = Array("TSTOKENS".utf8)
    public static let version: UInt32 = 1
    public static let headerSize = 32

    /// 2 or 4: the id width for a vocabulary of `vocabSize` ids.
    public static func width(vocabSize: Int) -> Int { vocabSize <= 1 << 16 ? 2 : 4 }

    /// The whole file for `tokens` (each id in 0..<2^(8·width)), and its payload's CRC-32C.
    public static func encode(_ tokens: [Int32], width: Int) -> (bytes: [UInt8], crc: UInt32) {
        precondition(width == 2 || width == 4, "shard width must be 2 or 4, got \(width)")
        var bytes = [UInt8](repeating: 0, count: headerSize + tokens.count * width)
        let crc = bytes.withUnsafeMutableBytes { file -> UInt32 in
            let payload = file.baseAddress! + headerSize
            if width == 2 {
                for (i, token) in tokens.enumerated() {
                    payload.storeBytes(of: UInt16(truncatingIfNeeded: token).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                }
            } else {
                for (i, token) in tokens.enumerated() {
                    payload.storeBytes(of: UInt32(bitPattern: token).littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            }
            let crc = tessera_crc32c(0, payload, tokens.count * width)
            magic.withUnsafeBytes { file.copyMemory(from: $0) }
            file.storeBytes(of: version.littleEndian, toByteOffset: 8, as: UInt32.self)
            file.storeBytes(of: UInt32(width).littleEndian, toByteOffset: 12, as: UInt32.self)
            file.storeBytes(of: UInt64(tokens.count).littleEndian, toByteOffset: 16, as: UInt64.self)
            file.storeBytes(of: crc.littleEndian, toByteOffset: 24, as: UInt32.self)
            return crc
        }
        return (bytes, crc)
    }

    /// Checks a mapped shard against what its index records (token count, width, checksum) and
    /// every id against `vocabSize`; returns its payload.
    static func validate(_ file: MappedFile, tokens expectedCount: Int, width expectedWidth: Int, crc expectedCRC: UInt32,
                         vocabSize: Int) throws(DataError) -> UnsafeRawPointer {
        let bytes = file.bytes, path = file.path
        guard bytes.count >= headerSize, bytes.prefix(8).elementsEqual(magic) else {
            throw .badShard(path: path, reason: "not a Tessera token shard (no TSTOKENS header)")
        }
        let version = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let width = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        let headerCount = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let crc = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt32.self))
        guard version == Self.version else { throw .badShard(path: path, reason: "format version \(version), this Tessera reads \(Self.version)") }
        guard width == expectedWidth else { throw .badShard(path: path, reason: "\(width)-byte ids, the index says \(expectedWidth)") }
        guard headerCount == UInt64(expectedCount) else {
            throw .badShard(path: path, reason: "\(headerCount) tokens in its header, the index says \(expectedCount)")
        }
        // The file's own size bounds the count before any product is formed from it.
        let count = expectedCount
        guard (bytes.count - headerSize) % width == 0, (bytes.count - headerSize) / width == count else {
            throw .badShard(path: path, reason: "\(bytes.count) bytes cannot hold the header and \(count) \(width)-byte tokens (truncated?)")
        }
        let payload = bytes.baseAddress! + headerSize
        let actual = tessera_crc32c(0, payload, count * width)
        guard actual == expectedCRC else {
            throw .checksumMismatch(path: path, expected: expectedCRC, actual: actual)
        }
        guard actual == crc else {
            throw .badShard(path: path, reason: "its header records CRC-32C \(hex(crc)), but its tokens' is \(hex(actual)) (the index agrees with the tokens); prepare it again")
        }
        let limit = UInt32(vocabSize)
        for i in 0..<count {
            let id = width == 2 ? UInt32(UInt16(littleEndian: payload.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                                : UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            if id >= limit { throw .tokenOutOfRange(path: path, position: i, id: Int(id), vocabSize: vocabSize) }
        }
        return payload
    }

    /// Writes `bytes` to `path` with POSIX calls and syncs it to disk.
    public static func writeFile(_ bytes: [UInt8], to path: String) throws(DataError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: "cannot create: " + systemReason()) }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            guard count > 0 else { throw .unreadable(path: path, reason: "cannot write: " + systemReason()) }
            written += count
        }
        guard fsync(descriptor) == 0 else { throw .unreadable(path: path, reason: "cannot sync: " + systemReason()) }
    }
}
