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

/// dst[i] = src[i] rounded to `format` (nearest even; overflow → ±inf; NaN stays NaN).
public func convertToHalf(_ format: HalfFormat, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>,
                          count: Int) {
    KernelThreads.forEachChunk(count) { range in
        switch format {
        case .bf16: tessera_float_to_bf16(src + range.lowerBound, dst + range.lowerBound, range.count)
        case .fp16: tessera_float_to_fp16(src + range.lowerBound, dst + range.lowerBound, range.count)
        }
    }
}

/// dst[i] = Float(src[i]) (exact).
public func convertFromHalf(_ format: HalfFormat, _ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>,
                            count: Int) {
    KernelThreads.forEachChunk(count) { range in
        switch format {
        case .bf16: tessera_bf16_to_float(src + range.lowerBound, dst + range.lowerBound, range.count)
        case .fp16: tessera_fp16_to_float(src + range.lowerBound, dst + range.lowerBound, range.count)
        }
    }
}

/// dst[i] += Float(src[i])
public func accumulateHalf(_ format: HalfFormat, _ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>,
                           count: Int) {
    KernelThreads.forEachChunk(count) { range in
        switch format {
        case .bf16: tessera_bf16_accumulate(src + range.lowerBound, dst + range.lowerBound, range.count)
        case .fp16: tessera_fp16_accumulate(src + range.lowerBound, dst + range.lowerBound, range.count)
        }
    }
}

/// rounded[i] = half(sum[i] + Float(src[i])), then sum[i] = Float(rounded[i]): the last contribution
/// to a sum, rounded once and handed out (`rounded`) while the owner keeps the same value, in one
/// pass instead of three.
public func accumulateHalfAndRound(_ format: HalfFormat, _ src: UnsafePointer<UInt16>,
                                   into sum: UnsafeMutablePointer<Float>, rounded: UnsafeMutablePointer<UInt16>,
                                   count: Int) {
    KernelThreads.forEachChunk(count) { range in
        let (s, d, r) = (src + range.lowerBound, sum + range.lowerBound, rounded + range.lowerBound)
        switch format {
        case .bf16: tessera_bf16_accumulate_round(s, d, r, range.count)
        case .fp16: tessera_fp16_accumulate_round(s, d, r, range.count)
        }
    }
}
