// Row reductions in 8-lane SIMD: a Float sum may not be reordered by the compiler, so a plain
// loop runs one element at a time. Lane partial results change the summation order slightly.

@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

/// max of x[0..<n].
@inline(__always)
func maximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= n {
        lanes = pointwiseMax(lanes, load8(x, i))
        i += 8
    }
    var m = lanes.max()
    while i < n {
        m = x[i] > m ? x[i] : m
        i += 1
    }
    return m
}

/// Σ exp(x[i] − shift) over x[0..<n].
@inline(__always)
func sumOfExponentials(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    let shifts = SIMD8<Float>(repeating: shift)
    var i = 0
    while i + 8 <= n {
        lanes += fastExp(load8(x, i) - shifts)
        i += 8
    }
    var s = lanes.sum()
    while i < n {
        s += fastExp(x[i] - shift)
        i += 1
    }
    return s
}

/// Σ x[i]² over x[0..<n], lanes in Float, returned in Double.
@inline(__always)
func sumOfSquaresChunk(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var lanes = SIMD8<Float>(repeating: 0)
    var total: Double = 0
    var i = 0
    while i + 8 <= n {
        let v = load8(x, i)
        lanes += v * v
        i += 8
        if i & 4095 == 0 {  // spill to Double every 4096 elements to bound Float error
            total += Double(lanes.sum())
            lanes = SIMD8(repeating: 0)
        }
    }
    total += Double(lanes.sum())
    while i < n {
        total += Double(x[i] * x[i])
        i += 1
    }
    return total
}
