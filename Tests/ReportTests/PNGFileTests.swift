import CZlib
import Foundation
import Report
import Testing

/// The PNG writer read back by a decoder of our own over zlib's inflate: the signature, chunk
/// lengths and CRCs, IHDR's fields, and pixels equal to the canvas's.
struct PNGFileTests {
    /// (type, data) of each chunk, after checking each chunk's CRC-32.
    static func chunks(_ png: [UInt8]) throws -> [(String, [UInt8])] {
        try #require(Array(png.prefix(8)) == PNGFile.signature)
        var result: [(String, [UInt8])] = [], at = 8
        func u32(_ i: Int) -> Int { Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3]) }
        while at < png.count {
            let length = u32(at)
            try #require(at + 12 + length <= png.count, "chunk at \(at) runs past the end")
            let body = Array(png[(at + 4)..<(at + 8 + length)])
            #expect(UInt32(u32(at + 8 + length)) == PNGFile.crc32(body), "CRC of chunk at \(at)")
            result.append((String(decoding: body.prefix(4), as: UTF8.self), Array(body.dropFirst(4))))
            at += 12 + length
        }
        return result
    }

    static func inflate(_ stream: [UInt8], expected: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expected)
        var length = uLong(expected)
        let status = out.withUnsafeMutableBufferPointer { o in
            stream.withUnsafeBufferPointer { uncompress(o.baseAddress, &length, $0.baseAddress, uLong($0.count)) }
        }
        try #require(status == Z_OK && Int(length) == expected, "uncompress status \(status), \(length) of \(expected) bytes")
        return out
    }

    @Test func aCanvasReadsBackWithItsSizeCRCsAndPixels() throws {
        var canvas = Canvas(width: 7, height: 5)
        canvas.set(x: 0, y: 0, Color(1, 2, 3))
        canvas.fill(x: 2, y: 1, width: 3, height: 2, Color.alarm)
        canvas.line(0, 4, 6, 4, Color.series[0])
        let chunks = try Self.chunks(PNGFile.encode(canvas))
        #expect(chunks.map(\.0) == ["IHDR", "IDAT", "IEND"])
        let header = chunks[0].1
        #expect(header == [0, 0, 0, 7, 0, 0, 0, 5, 8, 2, 0, 0, 0], "width 7, height 5, 8-bit RGB, no interlace")
        let raw = try Self.inflate(chunks[1].1, expected: 5 * (1 + 3 * 7))
        for y in 0..<5 {
            let row = raw[(y * 22)..<((y + 1) * 22)]
            #expect(row.first == 0, "filter byte of row \(y)")
            for x in 0..<7 {
                let i = row.startIndex + 1 + 3 * x
                #expect(Color(raw[i], raw[i + 1], raw[i + 2]) == canvas.pixel(x: x, y: y), "pixel (\(x), \(y))")
            }
        }
        #expect(canvas.pixel(x: 0, y: 0) == Color(1, 2, 3) && canvas.pixel(x: 3, y: 2) == Color.alarm
                && canvas.pixel(x: 6, y: 4) == Color.series[0] && canvas.pixel(x: 6, y: 0) == Color.white)
        #expect(chunks[2].1.isEmpty)
    }

    @Test func zlibsCRCIsThePNGPolynomial() {
        // The CRC-32 of IEND's type, in every PNG file.
        #expect(PNGFile.crc32(Array("IEND".utf8)) == 0xAE42_6082)
        #expect(PNGFile.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func textDrawsInsideItsMeasuredBox() {
        var canvas = Canvas(width: 60, height: 20)
        let width = BitmapFont.draw("0.5e-3", x: 1, y: 1, scale: 1, .black, on: &canvas)
        #expect(width == BitmapFont.width(of: "0.5e-3", scale: 1) && width == 35)
        var inked: [(Int, Int)] = []
        for y in 0..<20 { for x in 0..<60 where canvas.pixel(x: x, y: y) == .black { inked.append((x, y)) } }
        #expect(!inked.isEmpty && inked.allSatisfy { (1...35).contains($0.0) && (1...7).contains($0.1) })
    }
}
