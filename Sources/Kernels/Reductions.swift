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
        let v = load8(x, i)
        lanes.replace(with: v, where: v .> lanes)  // stdlib's pointwiseMax is not inlined
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

/// x[i] ← exp(x[i] − shift) over x[0..<n]; returns their sum.
@inline(__always)
func exponentiateInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    let shifts = SIMD8<Float>(repeating: shift)
    var i = 0
    while i + 8 <= n {
        let e = fastExp(load8(x, i) - shifts)
        UnsafeMutableRawPointer(x + i).storeBytes(of: e, as: SIMD8<Float>.self)
        lanes += e
        i += 8
    }
    var s = lanes.sum()
    while i < n {
        let e = fastExp(x[i] - shift)
        x[i] = e
        s += e
        i += 1
    }
    return s
}

/// Σ a[i]·b[i] over 0..<n.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        lanes += load8(a, i) * load8(b, i)
        i += 8
    }
    var s = lanes.sum()
    while i < n {
        s += a[i] * b[i]
        i += 1
    }
    return s
}

/// Σ x[i] over 0..<n.
@inline(__always)
func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        lanes += load8(x, i)
        i += 8
    }
    var s = lanes.sum()
    while i < n {
        s += x[i]
        i += 1
    }
    return s
}

/// Σ (x[i] − mean)² over 0..<n.
@inline(__always)
func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, _ n: Int, from mean: Float) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    let means = SIMD8<Float>(repeating: mean)
    var i = 0
    while i + 8 <= n {
        let d = load8(x, i) - means
        lanes += d * d
        i += 8
    }
    var s = lanes.sum()
    while i < n {
        let d = x[i] - mean
        s += d * d
        i += 1
    }
    return s
}

/// LayerNorm backward's two row sums: Σ dout·w and Σ dout·w·(x − mean)·rstd.
@inline(__always)
func normGradientSums(_ dout: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                      _ n: Int, mean: Float, rstd: Float) -> (Float, Float) {
    var lanesD = SIMD8<Float>(repeating: 0), lanesDN = SIMD8<Float>(repeating: 0)
    let means = SIMD8<Float>(repeating: mean), rstds = SIMD8<Float>(repeating: rstd)
    var i = 0
    while i + 8 <= n {
        let dnorm = load8(dout, i) * load8(weight, i)
        lanesD += dnorm
        lanesDN += dnorm * (load8(x, i) - means) * rstds
        i += 8
    }
    var sumD = lanesD.sum(), sumDN = lanesDN.sum()
    while i < n {
        let dnorm = dout[i] * weight[i]
        sumD += dnorm
        sumDN += dnorm * (x[i] - mean) * rstd
        i += 1
    }
    return (sumD, sumDN)
}

/// Σ a[i]·b[i]·c[i] over 0..<n.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ n: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        lanes += load8(a, i) * load8(b, i) * load8(c, i)
        i += 8
    }
    var s = lanes.sum()
    while i < n {
        s += a[i] * b[i] * c[i]
        i += 1
    }
    return s
}
