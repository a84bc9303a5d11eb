/// Counter-based random numbers: every draw is a pure function of (seed, stream, counter).
///
/// This is what makes Tessera's results independent of the layout: a weight's initial value,
/// a batch's sequence offsets and a dropout mask are each keyed by *global* coordinates
/// (parameter name, element index, step, sequence index), so any rank can compute exactly the
/// values it owns without talking to the others.
public struct CounterRNG: Sendable, Hashable {
    public let seed: UInt64
    public let stream: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
    }

    /// A derived generator for a named purpose (a parameter name, "train-batch", ...).
    public init(seed: UInt64, label: String) {
        self.init(seed: seed, stream: CounterRNG.hash(label))
    }

    /// 64 random bits for `counter`: SplitMix64's finaliser over a mix of seed, stream and counter.
    @inline(__always)
    public func bits(_ counter: UInt64) -> UInt64 {
        var z = seed &* 0x9E37_79B9_7F4A_7C15 ^ stream &* 0xD1B5_4A32_D192_ED03 ^ counter &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    @inline(__always)
    public func uniform(_ counter: UInt64) -> Float {
        Float(bits(counter) >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform integer in 0..<bound (bound > 0); the modulo bias is below 2^-40 for bounds under 2^24.
    @inline(__always)
    public func below(_ bound: Int, _ counter: UInt64) -> Int {
        precondition(bound > 0, "bound must be positive, got \(bound)")
        return Int(bits(counter) % UInt64(bound))
    }

    /// Standard normal via Box–Muller on two independent uniforms of the same counter.
    @inline(__always)
    public func normal(_ counter: UInt64) -> Float {
        let r = bits(counter)
        let u1 = (Double(r >> 32) + 0.5) * (1.0 / 4_294_967_296.0)
        let u2 = Double(r & 0xFFFF_FFFF) * (1.0 / 4_294_967_296.0)
        return Float((-2.0 * _log(u1)).squareRoot() * _cos(2.0 * Double.pi * u2))
    }

    /// FNV-1a: a stable hash of a label (Swift's `Hasher` is randomly seeded per process).
    public static func hash(_ label: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in label.utf8 {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return h
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
