import Foundation

/// Axis ticks at round numbers (1, 2 or 5 × 10^k apart) and their labels.
public enum Ticks {
    /// About `count` round values covering [lo, hi], and the range they span, which the axis
    /// takes so the first and last tick sit on its ends; `tight`: the ticks inside [lo, hi] and
    /// the range [lo, hi] itself (the step axis, which ends at the last step). A flat range is
    /// widened around its value.
    public static func nice(_ lo: Double, _ hi: Double, count: Int = 5, tight: Bool = false) -> (ticks: [Double], lo: Double, hi: Double) {
        var (lo, hi) = (lo, hi)
        if hi - lo <= abs(hi) * 1e-9 {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
        }
        let step = spacing((hi - lo) / Double(max(1, count - 1)))
        let first = (lo / step).rounded(tight ? .up : .down), last = (hi / step).rounded(tight ? .down : .up)
        let ticks = stride(from: first, through: last, by: 1).map { $0 * step }
        return tight ? (ticks, lo, hi) : (ticks, first * step, last * step)
    }

    /// The round spacing at or above `raw`.
    static func spacing(_ raw: Double) -> Double {
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * magnitude >= raw * (1 - 1e-9) { return factor * magnitude }
        return 10 * magnitude
    }

    /// `value` with as many decimals as ticks `step` apart need: "0.25", "1500", "12k" (thousands
    /// from 10,000 on), "3e-4" (below 0.01, where decimals would run long).
    public static func label(_ value: Double, step: Double) -> String {
        if abs(value) < step * 1e-6 { return "0" }
        if abs(value) >= 10_000 {
            let thousands = step >= 1000 ? Ticks.label(value / 1000, step: step / 1000) : String(format: "%.0f", value / 1000)
            return thousands + "k"
        }
        if abs(value) < 0.01 {
            let exponent = Int((log10(abs(value))).rounded(.down))
            let mantissa = value / pow(10, Double(exponent))
            return String(format: "%.\(min(decimals(step / pow(10, Double(exponent))), 3))f", mantissa) + "e\(exponent)"
        }
        return String(format: "%.\(decimals(step))f", value)
    }

    /// The fewest decimals (up to 6) that write multiples of `step` exactly: 0.25 → 2, 500 → 0.
    static func decimals(_ step: Double) -> Int {
        (0...6).first { d in
            let scaled = step * pow(10, Double(d))
            return abs(scaled - scaled.rounded()) <= 1e-6 * max(1, scaled)
        } ?? 6
    }
}
