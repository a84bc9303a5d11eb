import CKernels

/// A 16-bit wire format for gradients.
public enum HalfFormat: Sendable, CaseIterable {
    /// bfloat16: float's 8-bit exponent (same range), 8 significant bits.
    case bf16
    /// IEEE binary16: 5-bit exponent (max 65504), 11 significant bits.
    case fp16
}

public extension HalfFormat {
    /// The largest finite value; larger magnitudes round to ±inf.
    var largestFinite: Float {
        switch self {
        case .bf16: Float(bitPattern: 0x7F7F_0000)  // 3.3895314e38
        case .fp16: 65504
        }
    }
}

/// The C kernels of one format.
private struct HalfKernels: Sendable {
    let toHalf: @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<UInt16>, Int) -> Void
    let fromHalf: @Sendable (UnsafePointer<UInt16>, UnsafeMutablePointer<Float>, Int) -> Void
    let accumulate: @Sendable (UnsafePointer<UInt16>, UnsafeMutablePointer<Float>, Int) -> Void
    let accumulateAndRound: @Sendable (UnsafePointer<UInt16>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<UInt16>, Int) -> Void

    static let bf16 = HalfKernels(toHalf: tessera_float_to_bf16, fromHalf: tessera_bf16_to_float,
                                  accumulate: tessera_bf16_accumulate, accumulateAndRound: tessera_bf16_accumulate_round)
    static let fp16 = HalfKernels(toHalf: tessera_float_to_fp16, fromHalf: tessera_fp16_to_float,
                                  accumulate: tessera_fp16_accumulate, accumulateAndRound: tessera_fp16_accumulate_round)
}

private extension HalfFormat {
    var kernels: HalfKernels { self == .bf16 ? .bf16 : .fp16 }
}

/// dst[i] = src[i] rounded to `format` (nearest even; overflow → ±inf; NaN stays NaN).
public func convertToHalf(_ format: HalfFormat, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>,
                          count: Int) {
    let kernel = format.kernels.toHalf
    KernelThreads.forEachChunk(count) { kernel(src + $0.lowerBound, dst + $0.lowerBound, $0.count) }
}

/// dst[i] = Float(src[i]) (exact).
public func convertFromHalf(_ format: HalfFormat, _ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>,
                            count: Int) {
    let kernel = format.kernels.fromHalf
    KernelThreads.forEachChunk(count) { kernel(src + $0.lowerBound, dst + $0.lowerBound, $0.count) }
}

/// dst[i] += Float(src[i])
public func accumulateHalf(_ format: HalfFormat, _ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>,
                           count: Int) {
    let kernel = format.kernels.accumulate
    KernelThreads.forEachChunk(count) { kernel(src + $0.lowerBound, dst + $0.lowerBound, $0.count) }
}

/// rounded[i] = half(sum[i] + Float(src[i])), then sum[i] = Float(rounded[i]): the last contribution
/// to a sum, rounded once and handed out (`rounded`) while the owner keeps the same value, in one
/// pass instead of three.
public func accumulateHalfAndRound(_ format: HalfFormat, _ src: UnsafePointer<UInt16>,
                                   into sum: UnsafeMutablePointer<Float>, rounded: UnsafeMutablePointer<UInt16>,
                                   count: Int) {
    let kernel = format.kernels.accumulateAndRound
    KernelThreads.forEachChunk(count) { kernel(src + $0.lowerBound, sum + $0.lowerBound, rounded + $0.lowerBound, $0.count) }
}
