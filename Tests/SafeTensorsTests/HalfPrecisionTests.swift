import Testing
@testable import SafeTensors

/// F16 and BF16 conversions against bit patterns worked out by hand from the formats' layouts
/// (binary16: 1 sign, 5 exponent bits biased by 15, 10 mantissa bits; bfloat16: Float's top 16).
struct HalfPrecisionTests {
    static let toF16: [(Float, UInt16)] = [
        (1, 0x3C00), (-2, 0xC000), (0.5, 0x3800), (65504, 0x7BFF),
        (0x1p-14, 0x0400),  // smallest normal
        (0x1p-24, 0x0001),  // smallest subnormal
        (1.0 / 3, 0x3555),  // 1.0101…b × 2^-2: the 11th bit is 0, rounds down
        (0, 0x0000), (-0.0, 0x8000), (.infinity, 0x7C00), (-.infinity, 0xFC00),
        (1 + 0x1p-11, 0x3C00),  // halfway between 0x3C00 and 0x3C01: ties to even
        (1 + 3 * 0x1p-11, 0x3C02),  // halfway between 0x3C01 and 0x3C02: ties to even
        (65519, 0x7BFF), (65520, 0x7C00),  // 65520 is halfway past the largest finite: inf
        (0x1p-25, 0x0000), (3 * 0x1p-25, 0x0002),  // subnormal ties to even
        (0x1p-14 - 0x1p-25, 0x0400),  // 1023.5 units of 2^-24 round up into the smallest normal
    ]

    @Test(arguments: toF16)
    func floatRoundsToF16(_ value: Float, _ bits: UInt16) {
        #expect(f16FromFloat(value) == bits, "\(value) → 0x\(String(f16FromFloat(value), radix: 16))")
    }

    static let fromF16: [(UInt16, Float)] = [
        (0x3555, 0.333251953125), (0x0001, 0x1p-24), (0x8001, -0x1p-24), (0x03FF, 1023 * 0x1p-24),
        (0x7BFF, 65504), (0xFC00, -.infinity), (0x3C01, 1 + 0x1p-10), (0x8000, -0.0),
    ]

    @Test(arguments: fromF16)
    func f16WidensExactly(_ bits: UInt16, _ value: Float) {
        #expect(floatFromF16(bits).bitPattern == value.bitPattern)
    }

    static let toBF16: [(Float, UInt16)] = [
        (1, 0x3F80), (-2, 0xC000), (-0.0, 0x8000),
        (Float(bitPattern: 0x4049_0FDB), 0x4049),  // π: the dropped 0x0FDB is under half
        (Float(bitPattern: 0x3F80_8000), 0x3F80),  // halfway: ties to even
        (Float(bitPattern: 0x3F81_8000), 0x3F82),  // halfway: ties to even
        (Float(bitPattern: 0x3F80_FFFF), 0x3F81),
        (.greatestFiniteMagnitude, 0x7F80),  // rounds past the largest bfloat16: inf
        (.infinity, 0x7F80),
    ]

    @Test(arguments: toBF16)
    func floatRoundsToBF16(_ value: Float, _ bits: UInt16) {
        #expect(bf16FromFloat(value) == bits)
    }

    @Test func bf16WidensToItsTopBits() {
        #expect(floatFromBF16(0x4049) == 3.140625)
        #expect(floatFromBF16(0x3F81) == 1.0078125)
        #expect(floatFromBF16(0xFF80) == -.infinity)
    }

    @Test func nanStaysNaNBothWays() {
        let quiet = f16FromFloat(.nan), signalling = f16FromFloat(Float(bitPattern: 0x7F80_0001))
        #expect(quiet & 0x7C00 == 0x7C00 && quiet & 0x3FF != 0)
        #expect(signalling & 0x7C00 == 0x7C00 && signalling & 0x3FF != 0)
        #expect(floatFromF16(0x7E00).isNaN)
        #expect(floatFromBF16(bf16FromFloat(.nan)).isNaN)
        #expect(floatFromBF16(bf16FromFloat(Float(bitPattern: 0x7F80_0001))).isNaN)
    }

    @Test func everyF16WidensAndRoundsBackToItself() {
        for bits in UInt16.min...UInt16.max where bits & 0x7C00 != 0x7C00 || bits & 0x3FF == 0 {
            #expect(f16FromFloat(floatFromF16(bits)) == bits, "0x\(String(bits, radix: 16))")
        }
    }
}
