// Vectorisable exp. libm's expf is an opaque call that stops the compiler from vectorising
// softmax and cross-entropy loops; this is pure arithmetic and inlines. (CKernels' elementwise.c
// holds the same polynomial in C, for the loops compiled per instruction set.)

/// The arithmetic `Float` and `SIMD8<Float>` share, so that the exp kernel is written once for both.
public protocol ExpLanes {
    init(repeating value: Float)
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    static func * (lhs: Self, rhs: Self) -> Self
    static func + (lhs: Self, rhs: Float) -> Self
    static func * (lhs: Self, rhs: Float) -> Self
}

extension Float: ExpLanes {
    @inline(__always) public init(repeating value: Float) { self = value }
}

extension SIMD8: ExpLanes where Scalar == Float {}

/// e^x = 2^k · e^r with k = round(x / ln 2), r = x − k·ln 2 in [−ln2/2, ln2/2], for an argument
/// already clamped to [−87, 88]. Returns x·log2(e) + 1.5·2^23, whose low mantissa bits hold k
/// (rounding by that addition keeps every step plain arithmetic, which vectorises; a call to rint
/// would not), and e^r from a degree-7 Taylor polynomial in Horner form: |r| ≤ 0.347 keeps its
/// remainder below 1e-8, so Float rounding dominates (1e-7 measured).
@inline(__always)
func expParts<V: ExpLanes>(_ clamped: V) -> (shifted: V, polynomial: V) {
    let shifter = V(repeating: 12_582_912.0)
    let shifted = clamped * 1.442_695_04 + shifter
    let k = shifted - shifter
    let r = clamped - k * 0.693_145_75 - k * 1.428_606_8e-6
    var p = V(repeating: 1.0 / 5040.0)
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return (shifted, p)
}

/// Bits of 1.5·2^23 (0x4B40_0000) less the exponent bias 127: subtracting it from `shifted`'s bits
/// leaves k + 127. A literal, so the hot loops see a constant rather than a lazily set global.
private let exponentBias: UInt32 = 0x4B3F_FF81

/// e^x for Float, relative error below 2e-7 on [-87, 88]; clamps outside.
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let clamped = x < -87.0 ? -87.0 : (x > 88.0 ? 88.0 : x)
    let (shifted, p) = expParts(clamped)
    return p * Float(bitPattern: (shifted.bitPattern &- exponentBias) &<< 23)
}

/// fastExp on 8 lanes at once, for reductions the compiler will not vectorise by itself (it may
/// not reorder a Float sum).
@inline(__always)
public func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let clamped = x.clamped(lowerBound: SIMD8(repeating: -87.0), upperBound: SIMD8(repeating: 88.0))
    let (shifted, p) = expParts(clamped)
    let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- exponentBias
    return p * unsafeBitCast(bits &<< 23, to: SIMD8<Float>.self)
}
