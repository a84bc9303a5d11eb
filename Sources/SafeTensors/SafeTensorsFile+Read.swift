#if _endian(big)
#error("safetensors data is little-endian and is read into memory as it lies in the file")
#endif

/// Reading one tensor's values. F32 goes straight from the file into the caller's buffer; the
/// other types pass through a bounded staging buffer and are widened on the way, so reading a
/// tensor of a few hundred MiB costs a few hundred large `pread`s and no second full-size copy.
extension SafeTensorsFile {
    /// Bytes staged per `pread` when converting (a multiple of every element size).
    static let stagingBytes = 4 << 20

    /// Reads the floating-point tensor `name` (F32, F16, BF16 or F64) into `buffer` as Float:
    /// exact for F32, F16 and BF16; F64 rounds to nearest. `buffer` must hold exactly its elements.
    public func readFloats(_ name: String, into buffer: UnsafeMutableBufferPointer<Float>) throws(SafeTensorsError) {
        let info = try require(name)
        guard info.dtype.isFloatingPoint else {
            throw SafeTensorsError(path, "tensor \(quoted(name)) is \(info.dtype.rawValue), not a floating-point tensor")
        }
        precondition(buffer.count == info.count, "a buffer of \(buffer.count) floats for \(name), which has \(info.count)")
        guard info.count > 0 else { return }
        let start = buffer.baseAddress!
        switch info.dtype {
        case .f32:
            if let failure = preadFully(descriptor, UnsafeMutableRawBufferPointer(buffer), at: dataStart + info.dataOffsets.lowerBound) {
                throw SafeTensorsError(path, "tensor \(quoted(name)) cannot be read: \(failure)")
            }
        case .f16:
            try forEachChunk(of: info) { bytes, first in
                for i in 0..<bytes.count / 2 { start[first + i] = floatFromF16(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            }
        case .bf16:
            try forEachChunk(of: info) { bytes, first in
                for i in 0..<bytes.count / 2 { start[first + i] = floatFromBF16(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            }
        case .f64:
            try forEachChunk(of: info) { bytes, first in
                for i in 0..<bytes.count / 8 { start[first + i] = Float(bytes.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            }
        default:
            preconditionFailure("\(info.dtype) is floating-point but has no conversion")
        }
    }

    /// The floating-point tensor `name` as Float (see `readFloats(_:into:)`).
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        let count = try require(name).count
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { (buffer) throws(SafeTensorsError) in try readFloats(name, into: buffer) }
        return values
    }

    /// The integer or boolean tensor `name` (I64, I32, I16, I8, U8 or BOOL, as 0 or 1) as Int64,
    /// for small tensors such as the token ids of a test fixture.
    public func integers(_ name: String) throws(SafeTensorsError) -> [Int64] {
        let info = try require(name)
        guard !info.dtype.isFloatingPoint else {
            throw SafeTensorsError(path, "tensor \(quoted(name)) is \(info.dtype.rawValue), not an integer tensor")
        }
        var values = [Int64](repeating: 0, count: info.count)
        try values.withUnsafeMutableBufferPointer { (buffer) throws(SafeTensorsError) in
            let start = buffer.baseAddress
            try forEachChunk(of: info) { bytes, first in
                let width = info.dtype.size
                for i in 0..<bytes.count / width {
                    let at = width * i
                    start![first + i] = switch info.dtype {
                    case .i64: bytes.loadUnaligned(fromByteOffset: at, as: Int64.self)
                    case .i32: Int64(bytes.loadUnaligned(fromByteOffset: at, as: Int32.self))
                    case .i16: Int64(bytes.loadUnaligned(fromByteOffset: at, as: Int16.self))
                    case .i8: Int64(Int8(bitPattern: bytes[at]))
                    case .u8: Int64(bytes[at])
                    default: bytes[at] == 0 ? 0 : 1  // BOOL
                    }
                }
            }
        }
        return values
    }

    /// Calls `body` with the tensor's bytes in order, `stagingBytes` at a time, and the index of
    /// the first element each chunk holds.
    private func forEachChunk(of info: TensorInfo,
                              _ body: (_ bytes: UnsafeRawBufferPointer, _ firstElement: Int) -> Void) throws(SafeTensorsError) {
        let total = info.dataOffsets.count
        let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: min(total, Self.stagingBytes), alignment: 8)
        defer { staging.deallocate() }
        var done = 0
        while done < total {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: staging[..<min(staging.count, total - done)])
            if let failure = preadFully(descriptor, chunk, at: dataStart + info.dataOffsets.lowerBound + done) {
                throw SafeTensorsError(path, "tensor \(quoted(info.name)) cannot be read: \(failure)")
            }
            body(UnsafeRawBufferPointer(chunk), done / info.dtype.size)
            done += chunk.count
        }
    }
}
