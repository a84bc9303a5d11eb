import CZlib

/// A canvas as a PNG file (ISO/IEC 15948): the signature, IHDR (8-bit truecolour, no
/// interlacing), one IDAT holding the zlib stream of every row behind filter byte 0, and IEND;
/// each chunk's CRC-32 over its type and data. Deflate and CRC-32 are zlib's.
public enum PNGFile {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func encode(_ canvas: Canvas) -> [UInt8] {
        var header = bigEndian(UInt32(canvas.width)) + bigEndian(UInt32(canvas.height))
        header += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
        var raw: [UInt8] = []
        raw.reserveCapacity(canvas.height * (1 + 3 * canvas.width))
        let stride = 3 * canvas.width
        for row in 0..<canvas.height {
            raw.append(0)  // filter type None: a chart's flat colours deflate well without prediction
            raw += canvas.pixels[(row * stride)..<((row + 1) * stride)]
        }
        return signature + chunk("IHDR", header) + chunk("IDAT", deflate(raw)) + chunk("IEND", [])
    }

    /// length, type, data, CRC-32 of type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    /// zlib's CRC-32 (the PNG and gzip polynomial).
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    /// A zlib stream (RFC 1950) of `bytes` at the best compression.
    static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        let status = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { compress2(o.baseAddress, &length, $0.baseAddress, uLong($0.count), Z_BEST_COMPRESSION) }
        }
        // compressBound's room always suffices and the level is valid: only lack of memory fails.
        precondition(status == Z_OK, "zlib compress2 failed with status \(status) on \(bytes.count) bytes")
        return Array(out[..<Int(length)])
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}
