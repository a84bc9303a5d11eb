import Kernels
import Testing

// Finite-difference gradient checks shared by the kernel tests.
//
// A kernel's output y = f(x) is reduced to the scalar L(x) = Σ_i w_i · y_i with fixed random weights
// w, so every output element matters and ∂L/∂y = w is exactly the `dout` a backward receives. L is
// summed in Double; what is left is the Float forward's rounding (~1e-7 of each output), which a
// central difference divides by the step. So the step is large, h = 0.05, and the h² error that a
// large step brings is cancelled by Richardson extrapolation over h and h/2. Measured worst errors
// with this: ≤ 4.4e-3 (cross-attention's key/value gradient, on elements of 2.7e-4 to 3.7e-4; cross entropy
// and GELU 3.5e-3, where outputs are largest against their gradients; attention over four heads
// 3.2e-3), ≤ 1e-3 elsewhere. Metric: |a − n| / max(|a| + |n|, 1e-3),
// relative where the gradient is large and an absolute 1e-5 near zero; tolerance 1e-2.

/// SplitMix64: deterministic test inputs that do not depend on the code under test.
struct TestRNG {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform(_ range: ClosedRange<Float>) -> Float {
        let u = Float(next() >> 40) * (1.0 / 16_777_216.0)
        return range.lowerBound + u * (range.upperBound - range.lowerBound)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// A heap buffer with a stable pointer, as the kernels take; freed when the last reference goes.
final class Buffer<Element> {
    let count: Int
    let pointer: UnsafeMutablePointer<Element>

    init(_ values: [Element]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        _ = UnsafeMutableBufferPointer(start: pointer, count: count).initialize(from: values)
    }

    init(count: Int, repeating value: Element) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: value, count: count)
    }

    deinit { pointer.deallocate() }

    var const: UnsafePointer<Element> { UnsafePointer(pointer) }
    var values: [Element] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    subscript(i: Int) -> Element {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}

typealias Tensor = Buffer<Float>

extension Buffer where Element == Float {
    convenience init(count: Int) { self.init(count: count, repeating: 0) }

    convenience init(count: Int, in range: ClosedRange<Float>, rng: inout TestRNG) {
        self.init((0..<count).map { _ in rng.uniform(range) })
    }

    func fill(_ value: Float) { pointer.update(repeating: value, count: count) }
}

/// Σ_i w_i · y_i in Double: the loss whose gradient with respect to y is w.
func weightedSum(_ y: UnsafePointer<Float>, _ w: Tensor) -> Double {
    var sum: Double = 0
    for i in 0..<w.count { sum += Double(w[i]) * Double(y[i]) }
    return sum
}

/// ∂L/∂x[i] for each i in `indices` (all when nil) by central differences
/// D(h) = (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h, Richardson-extrapolated: (4·D(h/2) − D(h)) / 3 cancels
/// D's h² error term, so h can be large enough that Float rounding in L stays small. The divisor is
/// the step actually taken in Float; x is restored exactly.
func numericalGradient(of x: UnsafeMutablePointer<Float>, count: Int, indices: [Int]? = nil,
                       h: Float, loss: () -> Double) -> [Double] {
    func difference(_ i: Int, _ step: Float) -> Double {
        let original = x[i]
        let up = original + step, down = original - step
        x[i] = up
        let lossUp = loss()
        x[i] = down
        let lossDown = loss()
        x[i] = original
        return (lossUp - lossDown) / (Double(up) - Double(down))
    }
    return (indices ?? Array(0..<count)).map { i in
        (4 * difference(i, h / 2) - difference(i, h)) / 3
    }
}

/// |a − n| / max(|a| + |n|, floor).
func relativeError(_ a: Double, _ n: Double, floor: Double = 1e-3) -> Double {
    abs(a - n) / max(abs(a) + abs(n), floor)
}

/// The element where analytic and numerical gradients disagree most.
struct GradientMismatch: CustomStringConvertible {
    let index: Int, analytic: Double, numeric: Double, error: Double

    init(analytic: [Double], numeric: [Double], indices: [Int]) {
        var worst = (index: -1, a: 0.0, n: 0.0, e: -1.0)
        for (k, i) in indices.enumerated() {
            let e = relativeError(analytic[k], numeric[k])
            if e > worst.e { worst = (i, analytic[k], numeric[k], e) }
        }
        (index, self.analytic, self.numeric, error) = worst
    }

    var description: String {
        "element \(index): analytic \(analytic), numeric \(numeric), relative error \(error)"
    }
}

/// Checks the backward's gradient `analytic` of x against central differences of `loss`, element by
/// element (or at `indices`), and that the check is not vacuous (some gradient is clearly nonzero).
func expectGradient(_ name: String, of x: Tensor, analytic: Tensor, indices: [Int]? = nil,
                    h: Float = 0.05, tolerance: Double = 1e-2,
                    sourceLocation: SourceLocation = #_sourceLocation, loss: () -> Double) {
    precondition(x.count == analytic.count, "\(name): \(x.count) inputs, \(analytic.count) gradients")
    let checked = indices ?? Array(0..<x.count)
    let numeric = numericalGradient(of: x.pointer, count: x.count, indices: checked, h: h, loss: loss)
    let worst = GradientMismatch(analytic: checked.map { Double(analytic[$0]) }, numeric: numeric,
                                 indices: checked)
    #expect(worst.error <= tolerance, "\(name): \(worst)", sourceLocation: sourceLocation)
    #expect(numeric.contains { abs($0) > 1e-3 }, "\(name): every gradient is ~0, the check proves nothing",
            sourceLocation: sourceLocation)
}

/// Largest |a − b| over two equally long sequences.
func maxAbsDifference<A: Collection<Float>, B: Collection<Float>>(_ a: A, _ b: B) -> Float {
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count) differ")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
