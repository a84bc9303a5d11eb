import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// RUN_DIR/tensorboard/events.out.tfevents.<unix seconds>.<hostname>, as TensorFlow's summary
/// writer names and frames it: TFRecords, each holding one `Event` protobuf. The first record is the
/// file version; on resume it is followed by a `SessionLog` START at the first step run again, so
/// that TensorBoard drops the events a crashed run logged after its checkpoint. Then one event per
/// metrics row, with a `simple_value` per field tagged with the metric's name.
/// A resumed run starts a new file; TensorBoard reads the folder's files in name order as one run.
public final class TensorBoardLog: MetricsSink {
    public let path: String
    private let handle: FileHandle

    /// `resumedAt`: the first step of a resumed run, nil for a fresh one.
    public init(directory: String, resumedAt: Int? = nil) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let seconds = Int(Date().timeIntervalSince1970)
        path = directory + "/events.out.tfevents.\(seconds).\(TensorBoardLog.hostName())"
        // O_APPEND: a run resumed within the same second continues the file instead of clobbering it.
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let now = Date().timeIntervalSince1970
        try append(TensorBoardEvent.fileVersion(wallTime: now))
        if let step = resumedAt { try append(TensorBoardEvent.sessionStart(wallTime: now, step: step)) }
    }

    /// One event: every field but `step` as a 32-bit scalar (non-finite values too: TensorBoard
    /// shows them).
    public func write(_ row: MetricsRow) throws {
        let values = row.filter { $0.key != "step" }.map { (tag: $0.key, value: Float($0.value.double)) }
        try append(TensorBoardEvent.scalars(wallTime: Date().timeIntervalSince1970, step: Self.step(of: row),
                                            values: values))
    }

    /// Writes one framed record with a single `write` (unbuffered: readers see whole rows).
    private func append(_ event: [UInt8]) throws {
        try handle.write(contentsOf: TFRecord.frame(event))
    }

    /// `gethostname`, as TensorFlow's `socket.gethostname()`; "localhost" if it fails.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}

/// TFRecord framing: uint64 length (little-endian), masked CRC-32C of those 8 bytes, the data,
/// masked CRC-32C of the data (both uint32 little-endian).
enum TFRecord {
    /// TFRecord's mask: rotate right by 15 bits and add a constant, so that a CRC of data that
    /// holds CRCs is still a good check.
    static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        let crc = bytes.withUnsafeBytes { tessera_crc32c(0, $0.baseAddress, $0.count) }
        return ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
    }

    static func frame(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndian(UInt64(data.count))
        return length + littleEndian(maskedCRC(length)) + data + littleEndian(maskedCRC(data))
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// The few `tensorflow.Event` messages the log writes (event.proto, summary.proto):
/// Event { double wall_time = 1; int64 step = 2; oneof { string file_version = 3;
/// Summary summary = 5; SessionLog session_log = 7; } }, Summary { repeated Value value = 1; },
/// Value { string tag = 1; float simple_value = 2; }, SessionLog { SessionStatus status = 1; } (START = 1).
enum TensorBoardEvent {
    static func fileVersion(wallTime: Double) -> [UInt8] {
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.string(3, "brain.Event:2")
        return event.bytes
    }

    static func sessionStart(wallTime: Double, step: Int) -> [UInt8] {
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.int64(2, Int64(step))
        var sessionLog = ProtobufWriter()
        sessionLog.varintField(1, 1)
        event.lengthDelimited(7, sessionLog.bytes)
        return event.bytes
    }

    static func scalars(wallTime: Double, step: Int, values: [(tag: String, value: Float)]) -> [UInt8] {
        var summary = ProtobufWriter()
        for (tag, value) in values {
            var entry = ProtobufWriter()
            entry.string(1, tag)
            entry.float(2, value)
            summary.lengthDelimited(1, entry.bytes)
        }
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.int64(2, Int64(step))
        event.lengthDelimited(5, summary.bytes)
        return event.bytes
    }
}

/// Protocol-buffer wire encoding, the forms an Event needs: a key is (field << 3 | wire type);
/// varints (type 0) are 7 bits a byte, low first, high bit set on all but the last; 64-bit (type 1)
/// and 32-bit (type 5) values are little-endian; length-delimited (type 2) is a varint length and
/// the bytes (strings and nested messages).
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    mutating func varintField(_ field: Int, _ value: UInt64) { key(field, 0); varint(value) }
    /// int64: negative values as their two's complement, ten bytes.
    mutating func int64(_ field: Int, _ value: Int64) { varintField(field, UInt64(bitPattern: value)) }
    mutating func double(_ field: Int, _ value: Double) { key(field, 1); bytes += TFRecord.littleEndian(value.bitPattern) }
    mutating func float(_ field: Int, _ value: Float) { key(field, 5); bytes += TFRecord.littleEndian(value.bitPattern) }
    mutating func lengthDelimited(_ field: Int, _ data: [UInt8]) { key(field, 2); varint(UInt64(data.count)); bytes += data }
    mutating func string(_ field: Int, _ text: String) { lengthDelimited(field, Array(text.utf8)) }
}
