#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FileSystem

/// An open safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON naming each tensor's dtype, shape and data_offsets, then
/// the tensors' bytes. Opening reads and checks the whole header against the file's real size
/// before anything is sized from it; the tensors are read later, one at a time, with `pread`
/// (`SafeTensorsFile+Read.swift`), so a checkpoint of many GiB is never held whole.
public final class SafeTensorsFile: Sendable {
    /// The longest header accepted, as in the reference library (100 MB): enough for ~10^6
    /// tensors, and a bound on what a hostile length field can make a reader allocate.
    public static let maxHeaderSize = 100_000_000

    public let path: String
    /// Every tensor, in data order (by offset).
    public let tensors: [TensorInfo]
    /// The header's `__metadata__` strings (empty when it has none).
    public let metadata: [String: String]

    let descriptor: Int32
    /// The file offset of the data section: 8 + N.
    let dataStart: Int
    private let positions: [String: Int]

    /// Opens `path` (a regular file, or a link to one) and checks its header completely.
    public init(path: String) throws(SafeTensorsError) {
        let descriptor: Int32, size: Int
        do throws(FileReadError) {
            (descriptor, size) = try openRegularFile(path)
        } catch {
            throw SafeTensorsError(error)
        }
        do throws(HeaderProblem) {
            let (header, dataStart) = try Self.readHeader(descriptor, size: size)
            self.tensors = header.tensors
            self.metadata = header.metadata
            self.dataStart = dataStart
        } catch {
            close(descriptor)
            throw SafeTensorsError(path, error.message)
        }
        self.path = path
        self.descriptor = descriptor
        self.positions = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    deinit { close(descriptor) }

    /// The tensor called `name`, if the file has one.
    public func info(_ name: String) -> TensorInfo? { positions[name].map { tensors[$0] } }

    /// The tensor called `name`, or an error naming the file and the tensor.
    func require(_ name: String) throws(SafeTensorsError) -> TensorInfo {
        guard let info = info(name) else { throw SafeTensorsError(path, "has no tensor \(quoted(name))") }
        return info
    }

    /// The length field, then the header it announces, each checked before it is read.
    private static func readHeader(_ descriptor: Int32, size: Int) throws(HeaderProblem) -> (header: Header, dataStart: Int) {
        guard size >= 8 else { throw HeaderProblem("is \(size) bytes, too short for the 8-byte header length") }
        var lengthBytes = [UInt8](repeating: 0, count: 8)
        try readFully(descriptor, into: &lengthBytes, at: 0)
        let length = lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(maxHeaderSize) else {
            throw HeaderProblem("header length \(length) is over the \(maxHeaderSize) bytes a header may have")
        }
        guard length <= UInt64(size - 8) else {
            throw HeaderProblem("header length \(length) runs past the end of the \(size)-byte file")
        }
        var text = [UInt8](repeating: 0, count: Int(length))
        try readFully(descriptor, into: &text, at: 8)
        guard String(validating: text, as: UTF8.self) != nil else { throw HeaderProblem("header is not valid UTF-8") }
        let json: JSONValue
        do throws(JSONError) {
            json = try parseJSON(text)
        } catch {
            throw HeaderProblem("header is not valid JSON: \(error.description)")
        }
        let dataStart = 8 + Int(length)
        return (try Header.decode(json, dataSize: size - dataStart), dataStart)
    }

    /// Fills `bytes` from offset `at` of the header region (used before `self` exists).
    private static func readFully(_ descriptor: Int32, into bytes: inout [UInt8], at offset: Int) throws(HeaderProblem) {
        if let failure = bytes.withUnsafeMutableBytes({ preadFully(descriptor, $0, at: offset) }) {
            throw HeaderProblem("cannot be read: \(failure)")
        }
    }
}

/// Reads exactly `buffer.count` bytes at `offset`, retrying short reads (one `pread` moves at most
/// ~2 GiB on Linux) and EINTR; returns nil, or why it fell short. The file ending early means it
/// shrank after it was opened.
func preadFully(_ descriptor: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> String? {
    var done = 0
    while done < buffer.count {
        let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
        if count < 0 && errno == EINTR { continue }
        if count < 0 { return String(cString: strerror(errno)) }
        if count == 0 { return "the file ends at byte \(offset + done) (it shrank after it was opened)" }
        done += count
    }
    return nil
}
