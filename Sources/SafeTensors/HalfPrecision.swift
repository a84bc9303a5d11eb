/// Conversions between Float and the two 16-bit formats a checkpoint may hold, on bit patterns
/// so that they behave the same on every platform (Swift's Float16 is missing on Intel macOS).
/// Widening is exact; narrowing rounds to nearest, ties to even, as PyTorch's `.half()` and
/// `.bfloat16()` do, so a file Tessera writes holds what PyTorch would have saved.

/// The Float an IEEE binary16 bit pattern holds (exact: every binary16 value is a Float).
func floatFromF16(_ half: UInt16) -> Float {
    let negative = half & 0x8000 != 0
    let exponent = UInt32(half >> 10) & 0x1F
    let mantissa = UInt32(half & 0x3FF)
    let magnitude: Float
    switch exponent {
    case 0: magnitude = Float(mantissa) * 0x1p-24  // zero or subnormal: mantissa × 2^-24
    case 0x1F: magnitude = Float(bitPattern: 0x7F80_0000 | mantissa << 13)  // inf or NaN, payload kept
    default: magnitude = Float(bitPattern: (exponent + 127 - 15) << 23 | mantissa << 13)
    }
    return negative ? -magnitude : magnitude
}

/// `value` rounded to IEEE binary16: nearest, ties to even; magnitudes from 65520 up become ±inf;
/// NaN stays NaN (quiet).
func f16FromFloat(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
    let magnitude = bits & 0x7FFF_FFFF
    if magnitude > 0x7F80_0000 {  // NaN: quiet, with the top of its payload
        return sign | 0x7E00 | UInt16(truncatingIfNeeded: magnitude >> 13) & 0x3FF
    }
    if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // ≥ 65520, halfway past 65504: inf
    if magnitude < 0x3880_0000 {  // below 2^-14: a subnormal count of 2^-24 (1024 carries into 2^-14)
        let units = (Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven)
        return sign | UInt16(units)
    }
    var half = ((magnitude >> 23) - (127 - 15)) << 10 | (magnitude >> 13) & 0x3FF
    let dropped = magnitude & 0x1FFF
    if dropped > 0x1000 || (dropped == 0x1000 && half & 1 == 1) { half += 1 }  // a carry moves the exponent up
    return sign | UInt16(half)
}

/// The Float a bfloat16 bit pattern holds: its top 16 bits (exact).
func floatFromBF16(_ half: UInt16) -> Float { Float(bitPattern: UInt32(half) << 16) }

/// `value` rounded to bfloat16: nearest, ties to even (the largest floats round to ±inf);
/// NaN stays NaN (quiet).
func bf16FromFloat(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let roundingBias = 0x7FFF + (bits >> 16) & 1
    return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
}
