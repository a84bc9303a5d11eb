// Vectorisable exp. libm's expf is an opaque call that stops the compiler from vectorising
// softmax and cross-entropy loops; this is pure arithmetic and inlines. (CKernels' gelu.c holds
// the same polynomial in C.)

/// e^x for Float, relative error below 2e-7 on [-87, 88]; clamps outside.
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    // e^x = 2^k · e^r with k = round(x / ln 2), r = x − k·ln 2 in [−ln2/2, ln2/2].
    // Rounding by adding 1.5·2^23 keeps every step plain float/integer arithmetic, which the
    // compiler vectorises (a call to rint would not be); k then sits in the low mantissa bits.
    let low: Float = -87.0, high: Float = 88.0
    let clamped = x < low ? low : (x > high ? high : x)
    let shifter: Float = 12_582_912.0
    let shifted = clamped * 1.442_695_04 + shifter
    let k = shifted - shifter
    let r = clamped - k * 0.693_145_75 - k * 1.428_606_8e-6
    // Degree-7 Taylor polynomial in Horner form: |r| ≤ 0.347 keeps the remainder below 1e-8, so
    // Float rounding dominates (1e-7 measured). Degree 6 left a 1.7e-7 remainder at r = −0.347.
    var p: Float = 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    let exponent = Int32(bitPattern: shifted.bitPattern &- shifter.bitPattern) &+ 127
    let scale = Float(bitPattern: UInt32(bitPattern: exponent) &<< 23)
    return p * scale
}

/// fastExp on 8 lanes at once: the same arithmetic, for reductions the compiler will not
/// vectorise by itself (it may not reorder a Float sum).
@inline(__always)
public func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let clamped = x.clamped(lowerBound: SIMD8(repeating: -87.0), upperBound: SIMD8(repeating: 88.0))
    let shifter = SIMD8<Float>(repeating: 12_582_912.0)
    let shifted = clamped * 1.442_695_04 + shifter
    let k = shifted - shifter
    let r = clamped - k * 0.693_145_75 - k * 1.428_606_8e-6
    var p = SIMD8<Float>(repeating: 1.0 / 5040.0)
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- unsafeBitCast(shifter, to: SIMD8<UInt32>.self)
    let scale = unsafeBitCast((bits &+ 127) &<< 23, to: SIMD8<Float>.self)
    return p * scale
}
