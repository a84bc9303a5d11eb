#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FileSystem

/// One tensor to save: Float values in row-major order, stored as F32 (exact) or rounded to F16 or
/// BF16 on the way out, or Int64 values stored as I64 (token ids). The values are either an array
/// or a view of caller-owned storage (the parameters' single allocation), which must outlive
/// `writeSafeTensors`.
public struct TensorToWrite {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    let values: Values

    enum Values {
        case array([Float])
        case buffer(UnsafeBufferPointer<Float>)
        case integers([Int64])
    }

    public init(name: String, dtype: DType = .f32, shape: [Int], values: [Float]) {
        self.init(name: name, dtype: dtype, shape: shape, values: .array(values), count: values.count)
    }

    public init(name: String, dtype: DType = .f32, shape: [Int], buffer: UnsafeBufferPointer<Float>) {
        self.init(name: name, dtype: dtype, shape: shape, values: .buffer(buffer), count: buffer.count)
    }

    /// Integers, stored as I64.
    public init(name: String, shape: [Int], integers: [Int64]) {
        self.init(name: name, dtype: .i64, shape: shape, values: .integers(integers), count: integers.count)
    }

    private init(name: String, dtype: DType, shape: [Int], values: Values, count: Int) {
        precondition(!name.isEmpty && name != "__metadata__", "tensor name '\(name)' is empty or reserved")
        if case .integers = values {
            precondition(dtype == .i64, "\(name): integers are written as I64")
        } else {
            precondition([.f32, .f16, .bf16].contains(dtype), "\(name): Float values are written as F32, F16 or BF16, not \(dtype.rawValue)")
        }
        precondition(shape.allSatisfy { $0 >= 0 } && elementCount(shape) == count, "\(name): \(count) values for shape \(shape)")
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.values = values
    }
}

/// Writes `tensors` and `metadata` (the header's `__metadata__`) to `path` as a safetensors file,
/// atomically: a temporary file in the same folder, flushed, renamed over `path`.
/// As the reference library does, the data is laid out by element size, largest first (in the
/// given order within one size), and the header is padded with spaces to a multiple of 8 bytes, so
/// that every tensor starts aligned for its type when the file is memory-mapped.
public func writeSafeTensors(path: String, tensors: [TensorToWrite], metadata: [String: String] = [:]) throws(SafeTensorsError) {
    precondition(Set(tensors.map(\.name)).count == tensors.count, "two tensors share a name in \(tensors.map(\.name))")
    let ordered = tensors.enumerated().sorted { a, b in
        a.element.dtype.size != b.element.dtype.size ? a.element.dtype.size > b.element.dtype.size : a.offset < b.offset
    }.map(\.element)
    let header = headerBytes(ordered, metadata: metadata)
    let length = UInt64(header.count).littleEndian
    do {
        try replaceAtomically(path) { temporary in
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            guard descriptor >= 0 else { throw SafeTensorsError(temporary, "cannot be created: \(String(cString: strerror(errno)))") }
            defer { close(descriptor) }
            let output = Output(descriptor: descriptor, path: temporary)
            try withUnsafeBytes(of: length) { try output.append($0) }
            try header.withUnsafeBytes { try output.append($0) }
            for tensor in ordered { try output.append(tensor) }
        }
    } catch let error as SafeTensorsError {
        throw error
    } catch let error as FileError {
        throw SafeTensorsError(error.path, "\(error.operation) failed: \(error.message)")
    } catch {
        throw SafeTensorsError(path, "cannot be written: \(error)")
    }
}

/// The JSON header for `tensors` in data order, padded with spaces to a multiple of 8 bytes.
func headerBytes(_ tensors: [TensorToWrite], metadata: [String: String]) -> [UInt8] {
    var members: [String] = []
    if !metadata.isEmpty {
        let pairs = metadata.sorted { $0.key < $1.key }.map { jsonString($0.key) + ":" + jsonString($0.value) }
        members.append(jsonString("__metadata__") + ":{" + pairs.joined(separator: ",") + "}")
    }
    var offset = 0
    for tensor in tensors {
        let end = offset + elementCount(tensor.shape)! * tensor.dtype.size
        members.append(jsonString(tensor.name) + ":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":["
            + tensor.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}")
        offset = end
    }
    var bytes = Array(("{" + members.joined(separator: ",") + "}").utf8)
    bytes += [UInt8](repeating: UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8)
    return bytes
}

/// `text` as a JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
func jsonString(_ text: String) -> String {
    var escaped = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        case "\r": escaped += "\\r"
        case "\t": escaped += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: escaped.unicodeScalars.append(scalar)
        }
    }
    return escaped + "\""
}

/// A file being written, with every failure said as a SafeTensorsError naming it.
private struct Output {
    let descriptor: Int32
    let path: String

    /// Converted values are staged this many at a time.
    static let stagingCount = 1 << 20

    func append(_ bytes: UnsafeRawBufferPointer) throws(SafeTensorsError) {
        var done = 0
        while done < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw SafeTensorsError(path, "cannot be written: \(String(cString: strerror(errno)))") }
            done += count
        }
    }

    func append(_ tensor: TensorToWrite) throws(SafeTensorsError) {
        switch tensor.values {
        case let .array(values):
            try values.withUnsafeBufferPointer { (values) throws(SafeTensorsError) in try append(values, as: tensor.dtype) }
        case let .buffer(values):
            try append(values, as: tensor.dtype)
        case let .integers(values):
            // Little-endian as it lies in memory, like F32.
            try values.withUnsafeBufferPointer { (values) throws(SafeTensorsError) in try append(UnsafeRawBufferPointer(values)) }
        }
    }

    /// F32 goes out as it lies in memory (little-endian hosts only, see the reader); F16 and BF16
    /// are rounded into a staging buffer first.
    func append(_ values: UnsafeBufferPointer<Float>, as dtype: DType) throws(SafeTensorsError) {
        guard dtype != .f32 else { return try append(UnsafeRawBufferPointer(values)) }
        let round = dtype == .f16 ? f16FromFloat : bf16FromFloat
        var staging = [UInt16](repeating: 0, count: min(values.count, Self.stagingCount))
        var done = 0
        while done < values.count {
            let count = min(staging.count, values.count - done)
            for i in 0..<count { staging[i] = round(values[done + i]) }
            try staging.withUnsafeBufferPointer { (staged) throws(SafeTensorsError) in
                try append(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: staged[..<count])))
            }
            done += count
        }
    }
}
