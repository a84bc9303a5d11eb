import CKernels
import Foundation
import Kernels
import Testing

/// Serialized: the tests pin the C code path process-wide (portable, then the CPU's best).
@Suite(.serialized) struct HalfPrecisionTests {
    // MARK: Helpers

    /// Runs `body` once per code path this CPU has (portable first), labelled for messages.
    static func onEveryPath(_ body: (String) -> Void) {
        defer { tessera_half_cap_path(Int32(TESSERA_HALF_VECTOR)) }
        tessera_half_cap_path(Int32(TESSERA_HALF_PORTABLE))
        body("portable")
        tessera_half_cap_path(Int32(TESSERA_HALF_VECTOR))
        if tessera_half_path() == Int32(TESSERA_HALF_VECTOR) { body("vector") }
    }

    static func toHalf(_ format: HalfFormat, _ xs: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0xDEAD, count: xs.count)
        xs.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { convertToHalf(format, src.baseAddress!, $0.baseAddress!, count: xs.count) }
        }
        return out
    }

    /// (sums, rounded) after `accumulateHalfAndRound` of `hs` into `initial`.
    static func accumulateAndRound(_ format: HalfFormat, _ hs: [UInt16], into initial: [Float]) -> ([Float], [UInt16]) {
        var sums = initial, rounded = [UInt16](repeating: 0xDEAD, count: hs.count)
        hs.withUnsafeBufferPointer { src in
            sums.withUnsafeMutableBufferPointer { sum in
                rounded.withUnsafeMutableBufferPointer {
                    accumulateHalfAndRound(format, src.baseAddress!, into: sum.baseAddress!, rounded: $0.baseAddress!, count: hs.count)
                }
            }
        }
        return (sums, rounded)
    }

    static func fromHalf(_ format: HalfFormat, _ hs: [UInt16]) -> [Float] {
        var out = [Float](repeating: .nan, count: hs.count)
        hs.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { convertFromHalf(format, src.baseAddress!, $0.baseAddress!, count: hs.count) }
        }
        return out
    }

    static func isNaNPattern(_ format: HalfFormat, _ h: UInt16) -> Bool {
        switch format {
        case .bf16: h & 0x7F80 == 0x7F80 && h & 0x007F != 0
        case .fp16: h & 0x7C00 == 0x7C00 && h & 0x03FF != 0
        }
    }

    /// The exact float a 16-bit pattern stands for (Swift's Float16 for fp16).
    static func referenceFloat(_ format: HalfFormat, _ h: UInt16) -> Float {
        switch format {
        case .bf16: Float(bitPattern: UInt32(h) << 16)
        case .fp16: Float(Float16(bitPattern: h))
        }
    }

    /// bf16 rounding in plain integers: round to nearest, ties to even; NaN truncated and quieted.
    static func referenceBF16(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        let upper = UInt16(u >> 16), lower = u & 0xFFFF
        if x.isNaN { return upper | 0x0040 }
        let roundUp = lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1)
        return roundUp ? upper + 1 : upper  // 0x7F7F + 1 = 0x7F80 is inf, as IEEE overflow wants
    }

    /// The expected 16-bit pattern for a non-NaN float.
    static func referenceHalf(_ format: HalfFormat, _ x: Float) -> UInt16 {
        switch format {
        case .bf16: referenceBF16(x)
        case .fp16: Float16(x).bitPattern  // Swift converts with round-to-nearest-even
        }
    }

    static func hex(_ v: some FixedWidthInteger) -> String { "0x" + String(v, radix: 16, uppercase: true) }

    /// Collects the first few mismatches so a million checks cost one #expect.
    struct Mismatches {
        var count = 0, examples: [String] = []
        mutating func record(_ message: @autoclosure () -> String) {
            count += 1
            if examples.count < 8 { examples.append(message()) }
        }
        func expectNone(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(count == 0, "\(what): \(count) mismatches, e.g. \(examples)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Exhaustive over 16-bit patterns

    @Test(arguments: HalfFormat.allCases)
    func everyPatternConvertsExactlyAndRoundTrips(format: HalfFormat) {
        let patterns = (0...0xFFFF).map { UInt16($0) }
        Self.onEveryPath { path in
            let floats = Self.fromHalf(format, patterns)
            var decode = Mismatches(), roundTrip = Mismatches()
            for (h, x) in zip(patterns, floats) {
                let expected = Self.referenceFloat(format, h)
                if Self.isNaNPattern(format, h) {
                    if !x.isNaN { decode.record("\(Self.hex(h)) → \(x), expected NaN") }
                } else if x.bitPattern != expected.bitPattern {
                    decode.record("\(Self.hex(h)) → \(x), expected \(expected)")
                }
            }
            decode.expectNone("\(format) → float [\(path)]")
            #expect(floats.filter(\.isNaN).count == (format == .bf16 ? 254 : 2046), "NaN patterns [\(path)]")

            let back = Self.toHalf(format, floats)
            for (h, b) in zip(patterns, back) {
                // NaNs come back quieted (bf16 exactly so; fp16 with the quiet bit as F16C sets it).
                let expected = Self.isNaNPattern(format, h) ? h | (format == .bf16 ? 0x0040 : 0x0200) : h
                if b != expected { roundTrip.record("\(Self.hex(h)) → \(Self.hex(b)), expected \(Self.hex(expected))") }
                if Self.isNaNPattern(format, h) && !Self.isNaNPattern(format, b) {
                    roundTrip.record("NaN \(Self.hex(h)) → non-NaN \(Self.hex(b))")
                }
            }
            roundTrip.expectNone("\(format) round trip [\(path)]")
        }
    }

    // MARK: Rounding

    /// A million floats: a quarter uniformly random bit patterns (every exponent, float subnormals,
    /// inf and NaN), the rest with exponents around the format's range, a third of those cut to
    /// exact halfway cases.
    static func randomFloats(for format: HalfFormat, count: Int = 1_000_000, seed: UInt64) -> [Float] {
        var rng = TestRNG(seed: seed)
        return (0..<count).map { i in
            let r = rng.next()
            let bits = UInt32(truncatingIfNeeded: r)
            if i % 4 == 0 { return Float(bitPattern: bits) }
            // fp16: 2^-30 (far below its subnormals) to 2^17 (past its overflow); bf16: all of float's.
            let exponent: UInt32 = format == .fp16 ? 97 + UInt32((r >> 32) % 48) : UInt32((r >> 32) % 256)
            var mantissa = bits & 0x7F_FFFF
            if (r >> 40) % 3 == 0 {
                // A tie: the dropped bits exactly half an ulp (for fp16 normals; subnormal ties below).
                mantissa = format == .bf16 ? (mantissa & ~0xFFFF) | 0x8000 : (mantissa & ~0x1FFF) | 0x1000
            }
            return Float(bitPattern: (bits & 0x8000_0000) | exponent << 23 | mantissa)
        }
    }

    @Test(arguments: HalfFormat.allCases)
    func randomFloatsRoundToNearestEven(format: HalfFormat) {
        var xs = Self.randomFloats(for: format, seed: format == .bf16 ? 11 : 12)
        // fp16 subnormal ties and near-ties: (k + ½)·2^-24, and a float ulp either side.
        for k in 0..<1100 {
            let tie = (Float(k) + 0.5) * 0x1p-24
            xs += [tie, -tie, tie.nextUp, tie.nextDown]
        }
        Self.onEveryPath { path in
            let hs = Self.toHalf(format, xs)
            var wrong = Mismatches()
            for (x, h) in zip(xs, hs) {
                if x.isNaN {
                    if !Self.isNaNPattern(format, h) { wrong.record("NaN \(Self.hex(x.bitPattern)) → \(Self.hex(h))") }
                } else if h != Self.referenceHalf(format, x) {
                    wrong.record("\(x) (\(Self.hex(x.bitPattern))) → \(Self.hex(h)), expected \(Self.hex(Self.referenceHalf(format, x)))")
                }
            }
            wrong.expectNone("float → \(format) [\(path)]")
        }
    }

    /// Hand-picked cases with their answers written out, independent of any reference function.
    @Test func explicitRoundingCases() {
        let bf16: [(UInt32, UInt16)] = [
            (0x3F80_8000, 0x3F80),  // 1 + half an ulp: tie, 0x3F80 even → down
            (0x3F81_8000, 0x3F82),  // tie, 0x3F81 odd → up
            (0x3F80_8001, 0x3F81),  // just above the tie
            (0x3F80_7FFF, 0x3F80),  // just below
            (0xBF80_8000, 0xBF80),  // negative tie
            (0x0000_8000, 0x0000),  // float subnormal tie → 0
            (0x0001_8000, 0x0002),  // float subnormal tie, odd → up
            (0x7F7F_7FFF, 0x7F7F),  // stays the largest finite
            (0x7F7F_8000, 0x7F80),  // tie above the largest finite (odd) → inf
            (0x7F7F_FFFF, 0x7F80),  // Float.greatestFiniteMagnitude → inf
            (0xFF7F_FFFF, 0xFF80),  // → -inf
        ]
        let fp16: [(Float, UInt16)] = [
            (1, 0x3C00), (-2, 0xC000), (0.1, 0x2E66),
            (1 + 0x1p-11, 0x3C00),  // tie → even (down)
            (1 + 3 * 0x1p-11, 0x3C02),  // tie → even (up)
            (65504, 0x7BFF), (Float(bitPattern: 0x477F_EFFF), 0x7BFF),  // just under 65520 stays finite
            (65520, 0x7C00), (70000, 0x7C00), (-70000, 0xFC00),  // overflow → ±inf
            (0x1p-14, 0x0400),  // smallest normal
            (0x1p-24, 0x0001),  // smallest subnormal
            (0x1p-25, 0x0000),  // tie with 0 → 0
            (Float(0x1p-25).nextUp, 0x0001),
            (3 * 0x1p-25, 0x0002),  // tie between 1 and 2 subnormal ulps → 2
            (-5 * 0x1p-25, 0x8002),  // tie between 2 and 3 → 2
            (1023.5 * 0x1p-24, 0x0400),  // rounds up out of the subnormals
            (-0.0, 0x8000), (1e-30, 0x0000),
        ]
        let bf16Out = Self.toHalf(.bf16, bf16.map { Float(bitPattern: $0.0) })
        for ((x, expected), h) in zip(bf16, bf16Out) {
            #expect(h == expected, "bf16(\(Self.hex(x))) = \(Self.hex(h)), expected \(Self.hex(expected))")
        }
        Self.onEveryPath { path in
            let out = Self.toHalf(.fp16, fp16.map(\.0))
            for ((x, expected), h) in zip(fp16, out) {
                #expect(h == expected, "fp16(\(x)) = \(Self.hex(h)), expected \(Self.hex(expected)) [\(path)]")
            }
        }
    }

    @Test(arguments: HalfFormat.allCases)
    func overflowInfinityAndNaN(format: HalfFormat) {
        let big: Float = format == .bf16 ? 3.4e38 : 70000
        let xs: [Float] = [big, -big, .infinity, -.infinity, .nan, -.nan, .signalingNaN,
                           format.largestFinite, -format.largestFinite]
        Self.onEveryPath { path in
            let hs = Self.toHalf(format, xs)
            let inf: UInt16 = format == .bf16 ? 0x7F80 : 0x7C00
            #expect(Array(hs[0..<4]) == [inf, inf | 0x8000, inf, inf | 0x8000], "\(format) [\(path)]")
            for h in hs[4..<7] { #expect(Self.isNaNPattern(format, h), "\(format) NaN → \(Self.hex(h)) [\(path)]") }
            #expect(hs[5] & 0x8000 != 0, "NaN keeps its sign")
            let back = Self.fromHalf(format, hs)
            #expect(back[0] == .infinity && back[1] == -.infinity && back[4].isNaN && back[6].isNaN)
            #expect(back[7] == format.largestFinite && back[8] == -format.largestFinite, "\(format) [\(path)]")
        }
        #expect(HalfFormat.bf16.largestFinite == 3.3895314e38)
        #expect(HalfFormat.fp16.largestFinite == Float(Float16.greatestFiniteMagnitude))
    }

    /// The paths agree bit for bit on every kind of input, NaN payloads included, for both formats
    /// and every kernel that rounds.
    @Test(arguments: HalfFormat.allCases)
    func pathsAgreeBitForBit(format: HalfFormat) {
        var rng = TestRNG(seed: 13)
        let xs = (0..<200_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
            + (0..<1000).map { Float(bitPattern: 0x7F80_0000 | UInt32($0) * 8191) }  // NaN payloads
        let hs = (0...0xFFFF).map { UInt16($0) }
        let addends = (0..<hs.count).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        var outputs: [[UInt32]] = []
        Self.onEveryPath { _ in
            let (sums, rounded) = Self.accumulateAndRound(format, hs, into: addends)
            outputs.append(Self.toHalf(format, xs).map(UInt32.init) + Self.fromHalf(format, hs).map(\.bitPattern)
                + sums.map(\.bitPattern) + rounded.map(UInt32.init))
        }
        for other in outputs.dropFirst() {
            var differ = Mismatches()
            for (i, (a, b)) in zip(outputs[0], other).enumerated() where a != b {
                differ.record("[\(i)] portable \(Self.hex(a)), vector \(Self.hex(b))")
            }
            differ.expectNone("\(format) paths")
        }
        #expect(outputs.count == 2 || tessera_half_path() == Int32(TESSERA_HALF_PORTABLE))
    }

    /// On a CPU with AVX2 and F16C the vector path must be the one in use (else the tests above only
    /// ever check the portable code twice).
    @Test func vectorPathIsUsedWhenTheCPUHasIt() throws {
        #if os(Linux) && arch(x86_64)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ")) }
        let hasVector = flags?.contains("f16c") == true && flags?.contains("avx2") == true
        #expect(tessera_half_path() == Int32(hasVector ? TESSERA_HALF_VECTOR : TESSERA_HALF_PORTABLE))
        #endif
    }

    // MARK: Accumulate

    /// Random finite 16-bit values: random patterns with NaN/inf exponents swapped for finite ones.
    static func finiteHalves(_ format: HalfFormat, count: Int, rng: inout TestRNG) -> [UInt16] {
        let expMask: UInt16 = format == .bf16 ? 0x7F80 : 0x7C00
        return (0..<count).map { _ in
            let h = UInt16(truncatingIfNeeded: rng.next())
            return h & expMask == expMask ? h & ~0x4000 : h
        }
    }

    @Test(arguments: HalfFormat.allCases)
    func accumulateAddsTheConvertedValues(format: HalfFormat) {
        var rng = TestRNG(seed: 14)
        let n = 100_003
        let hs = Self.finiteHalves(format, count: n, rng: &rng)
        let initial = (0..<n).map { _ in rng.uniform(-1...1) }
        Self.onEveryPath { path in
            var dst = initial
            hs.withUnsafeBufferPointer { src in
                dst.withUnsafeMutableBufferPointer { accumulateHalf(format, src.baseAddress!, into: $0.baseAddress!, count: n) }
            }
            var wrong = Mismatches()
            for i in 0..<n {
                let expected = initial[i] + Self.referenceFloat(format, hs[i])
                if dst[i].bitPattern != expected.bitPattern {
                    wrong.record("[\(i)] \(initial[i]) + \(Self.hex(hs[i])) = \(dst[i]), expected \(expected)")
                }
            }
            wrong.expectNone("\(format) accumulate [\(path)]")
        }
    }

    /// The fused last step of a reduction: the sum rounded once, the owner keeping exactly what it
    /// hands out. Against the reference rounding of the fp32 sum, overflow to inf included.
    @Test(arguments: HalfFormat.allCases)
    func accumulateAndRoundRoundsTheSumOnce(format: HalfFormat) {
        var rng = TestRNG(seed: 16)
        let n = 100_003
        let hs = Self.finiteHalves(format, count: n, rng: &rng)
        // Addends up to the format's largest value, so some sums overflow it.
        let initial = (0..<n).map { _ in rng.uniform(-1...1) * (rng.next() % 8 == 0 ? format.largestFinite : 4) }
        Self.onEveryPath { path in
            let (sums, rounded) = Self.accumulateAndRound(format, hs, into: initial)
            var wrong = Mismatches()
            for i in 0..<n {
                let expected = Self.referenceHalf(format, initial[i] + Self.referenceFloat(format, hs[i]))
                if rounded[i] != expected || sums[i].bitPattern != Self.referenceFloat(format, expected).bitPattern {
                    wrong.record("[\(i)] \(initial[i]) + \(Self.hex(hs[i])) → \(Self.hex(rounded[i])), \(sums[i]); expected \(Self.hex(expected))")
                }
            }
            wrong.expectNone("\(format) accumulate and round [\(path)]")
            #expect(rounded.contains { Self.referenceFloat(format, $0).isInfinite }, "no sum overflowed [\(path)]")
        }
    }

    // MARK: Lengths and alignment

    /// Odd lengths and pointers one element off alignment: results land exactly in range, and the
    /// elements either side are untouched.
    @Test(arguments: HalfFormat.allCases)
    func oddLengthsAndUnalignedPointers(format: HalfFormat) {
        var rng = TestRNG(seed: 15)
        let guardBand = 16
        let sentinelF: Float = -12345.5, sentinelH: UInt16 = 0xABCD
        Self.onEveryPath { path in
            for n in [0, 1, 7, 8, 9, 15, 16, 17, 1000] {
                for offset in [0, 1] {
                    let label = "\(format) n=\(n) offset=\(offset) [\(path)]"
                    let total = offset + n + guardBand
                    let xs = (0..<n).map { _ in rng.uniform(-100...100) }
                    let expectedH = xs.map { Self.referenceHalf(format, $0) }
                    let expectedF = expectedH.map { Self.referenceFloat(format, $0) }

                    var src = [Float](repeating: sentinelF, count: total)
                    src.replaceSubrange(offset..<offset + n, with: xs)
                    var h = [UInt16](repeating: sentinelH, count: total)
                    src.withUnsafeBufferPointer { s in
                        h.withUnsafeMutableBufferPointer {
                            convertToHalf(format, s.baseAddress! + offset, $0.baseAddress! + offset, count: n)
                        }
                    }
                    #expect(Array(h[offset..<offset + n]) == expectedH, "to half \(label)")
                    #expect(h[..<offset].allSatisfy { $0 == sentinelH } && h[(offset + n)...].allSatisfy { $0 == sentinelH },
                            "to half wrote outside its range \(label)")

                    var f = [Float](repeating: sentinelF, count: total)
                    h.withUnsafeBufferPointer { s in
                        f.withUnsafeMutableBufferPointer {
                            convertFromHalf(format, s.baseAddress! + offset, $0.baseAddress! + offset, count: n)
                        }
                    }
                    #expect(Array(f[offset..<offset + n]) == expectedF, "from half \(label)")
                    #expect(f[..<offset].allSatisfy { $0 == sentinelF } && f[(offset + n)...].allSatisfy { $0 == sentinelF },
                            "from half wrote outside its range \(label)")

                    var acc = [Float](repeating: sentinelF, count: total)
                    for i in offset..<offset + n { acc[i] = 1 }
                    h.withUnsafeBufferPointer { s in
                        acc.withUnsafeMutableBufferPointer {
                            accumulateHalf(format, s.baseAddress! + offset, into: $0.baseAddress! + offset, count: n)
                        }
                    }
                    #expect(Array(acc[offset..<offset + n]) == expectedF.map { 1 + $0 }, "accumulate \(label)")
                    #expect(acc[..<offset].allSatisfy { $0 == sentinelF } && acc[(offset + n)...].allSatisfy { $0 == sentinelF },
                            "accumulate wrote outside its range \(label)")
                }
            }
        }
    }
}
