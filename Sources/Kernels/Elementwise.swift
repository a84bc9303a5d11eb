/// out = a + b (N).
public func residualForward(_ out: FloatPointer, _ a: ConstFloatPointer, _ b: ConstFloatPointer,
                            N: Int) {
    for i in 0..<N { out[i] = a[i] + b[i] }
}

private let geluScale: Float = 0.797_884_56  // sqrt(2 / π)

/// out = GELU(inp) with the tanh approximation (GPT-2's), N elements.
public func geluForward(_ out: FloatPointer, _ inp: ConstFloatPointer, N: Int) {
    KernelThreads.forEachChunk(N) { range in
        for i in range {
            let x = inp[i]
            let cube = 0.044715 * x * x * x
            out[i] = 0.5 * x * (1.0 + fastTanh(geluScale * (x + cube)))
        }
    }
}

/// dinp = GELU'(inp) · dout (overwrites). Keep dinp and dout apart: aliasing stops vectorisation.
public func geluBackward(_ dinp: FloatPointer, _ dout: ConstFloatPointer, _ inp: ConstFloatPointer,
                         N: Int) {
    KernelThreads.forEachChunk(N) { range in
        for i in range {
            let x = inp[i]
            let cube = 0.044715 * x * x * x
            let u = geluScale * (x + cube)
            let th = fastTanh(u)
            let sech2 = 1.0 - th * th
            let grad = 0.5 * (1.0 + th) + 0.5 * x * sech2 * geluScale * (1.0 + 3.0 * 0.044715 * x * x)
            dinp[i] = grad * dout[i]
        }
    }
}
