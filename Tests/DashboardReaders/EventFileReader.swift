import Foundation

/// Readers for the dashboard files, written from the formats' specifications and sharing no code
/// with the writers, so that a writer's mistake is not repeated by the reader that checks it.

public struct ReadError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// CRC-32C bit by bit (reflected polynomial 0x82F63B78), the slow obvious way.
public func referenceCRC32C(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// TFRecord's masked CRC: rotate right 15, add 0xa282ead8.
public func referenceMaskedCRC(_ bytes: some Sequence<UInt8>) -> UInt32 {
    let crc = referenceCRC32C(bytes)
    return (crc >> 15 | crc << 17) &+ 0xa282_ead8
}

/// The records of a TFRecord file; throws on a short record or either CRC failing.
public func readTFRecords(_ data: [UInt8]) throws -> [[UInt8]] {
    func uint(_ at: Int, _ width: Int) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(data[at + $1]) << (8 * $1) }
    }
    var records: [[UInt8]] = [], at = 0
    while at < data.count {
        guard at + 12 <= data.count else { throw ReadError("truncated header at byte \(at)") }
        let length = Int(uint(at, 8))
        guard UInt32(uint(at + 8, 4)) == referenceMaskedCRC(data[at..<at + 8]) else {
            throw ReadError("length CRC fails at byte \(at)")
        }
        guard at + 12 + length + 4 <= data.count else { throw ReadError("truncated record at byte \(at)") }
        let body = Array(data[at + 12..<at + 12 + length])
        guard UInt32(uint(at + 12 + length, 4)) == referenceMaskedCRC(body) else {
            throw ReadError("data CRC fails at byte \(at)")
        }
        records.append(body)
        at += 12 + length + 4
    }
    return records
}

/// One protobuf field as found on the wire.
public enum WireValue {
    case varint(UInt64), fixed64(UInt64), fixed32(UInt32), bytes([UInt8])
}

/// The fields of a protobuf message in wire order.
public func decodeProtobuf(_ bytes: [UInt8]) throws -> [(field: Int, value: WireValue)] {
    var fields: [(field: Int, value: WireValue)] = [], at = 0
    func varint() throws -> UInt64 {
        var value: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard at < bytes.count, shift < 64 else { throw ReadError("bad varint") }
            let byte = bytes[at]; at += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }
    func fixed(_ width: Int) throws -> UInt64 {
        guard at + width <= bytes.count else { throw ReadError("truncated fixed field") }
        defer { at += width }
        return (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
    }
    while at < bytes.count {
        let key = try varint()
        let field = Int(key >> 3)
        switch key & 7 {
        case 0: fields.append((field, .varint(try varint())))
        case 1: fields.append((field, .fixed64(try fixed(8))))
        case 5: fields.append((field, .fixed32(UInt32(try fixed(4)))))
        case 2:
            let length = Int(try varint())
            guard at + length <= bytes.count else { throw ReadError("truncated length-delimited field") }
            fields.append((field, .bytes(Array(bytes[at..<at + length]))))
            at += length
        default: throw ReadError("wire type \(key & 7)")
        }
    }
    return fields
}

/// The parts of a tensorflow.Event the dashboards use.
public struct DecodedEvent {
    public var wallTime: Double?
    public var step: Int64 = 0
    public var fileVersion: String?
    public var sessionStatus: UInt64?
    public var scalars: [(tag: String, value: Float)] = []
    public var otherFields: [Int] = []

    public init(_ bytes: [UInt8]) throws {
        for (field, value) in try decodeProtobuf(bytes) {
            switch (field, value) {
            case (1, .fixed64(let bits)): wallTime = Double(bitPattern: bits)
            case (2, .varint(let bits)): step = Int64(bitPattern: bits)
            case (3, .bytes(let text)): fileVersion = String(decoding: text, as: UTF8.self)
            case (5, .bytes(let summary)):
                for (valueField, entry) in try decodeProtobuf(summary) {
                    guard valueField == 1, case .bytes(let entryBytes) = entry else { throw ReadError("Summary field \(valueField)") }
                    var tag: String?, simple: Float?
                    for (f, v) in try decodeProtobuf(entryBytes) {
                        switch (f, v) {
                        case (1, .bytes(let text)): tag = String(decoding: text, as: UTF8.self)
                        case (2, .fixed32(let bits)): simple = Float(bitPattern: bits)
                        default: throw ReadError("Summary.Value field \(f)")
                        }
                    }
                    guard let tag, let simple else { throw ReadError("Summary.Value without tag or simple_value") }
                    scalars.append((tag, simple))
                }
            case (7, .bytes(let log)):
                for (f, v) in try decodeProtobuf(log) {
                    if f == 1, case .varint(let status) = v { sessionStatus = status }
                }
            default: otherFields.append(field)
            }
        }
    }

    public func scalar(_ tag: String) -> Float? { scalars.first { $0.tag == tag }?.value }
}

/// A Prometheus text-format file: samples by name (no labels), and each name's HELP and TYPE.
public struct PrometheusText {
    public var samples: [String: Double] = [:]
    public var types: [String: String] = [:]
    public var helps: [String: String] = [:]
    public var order: [String] = []

    public init(_ text: String) throws {
        guard text.hasSuffix("\n") else { throw ReadError("no final newline") }
        let name = try NSRegularExpression(pattern: "^[a-zA-Z_:][a-zA-Z0-9_:]*$")
        func valid(_ s: Substring) -> Bool {
            name.firstMatch(in: String(s), range: NSRange(location: 0, length: s.utf16.count)) != nil
        }
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 3)
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                guard words.count >= 3, valid(words[2]) else { throw ReadError("bad line \(line)") }
                let rest = words.count == 4 ? String(words[3]) : ""
                if words[1] == "HELP" { helps[String(words[2])] = rest } else { types[String(words[2])] = rest }
            } else if line.hasPrefix("#") {
                continue
            } else {
                guard words.count == 2, valid(words[0]) else { throw ReadError("bad sample \(line)") }
                let spelled = String(words[1])
                let special: [String: Double] = ["NaN": .nan, "+Inf": .infinity, "-Inf": -.infinity]
                guard let value = special[spelled] ?? Double(spelled) else { throw ReadError("bad value \(line)") }
                guard samples[String(words[0])] == nil else { throw ReadError("\(words[0]) twice") }
                guard types[String(words[0])] != nil else { throw ReadError("\(words[0]) before its TYPE") }
                samples[String(words[0])] = value
                order.append(String(words[0]))
            }
        }
    }
}
