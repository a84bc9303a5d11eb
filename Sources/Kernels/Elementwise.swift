import CKernels

/// out = a + b (N).
public func residualForward(_ out: FloatPointer, _ a: ConstFloatPointer, _ b: ConstFloatPointer,
                            N: Int) {
    for i in 0..<N { out[i] = a[i] + b[i] }
}

/// out = GELU(inp) with the tanh approximation (GPT-2's), N elements.
public func geluForward(_ out: FloatPointer, _ inp: ConstFloatPointer, N: Int) {
    KernelThreads.forEachChunk(N) { range in
        tessera_gelu_forward(out + range.lowerBound, inp + range.lowerBound, range.count)
    }
}

/// dinp = GELU'(inp) · dout (overwrites); dinp must not alias dout or inp.
public func geluBackward(_ dinp: FloatPointer, _ dout: ConstFloatPointer, _ inp: ConstFloatPointer,
                         N: Int) {
    KernelThreads.forEachChunk(N) { range in
        tessera_gelu_backward(dinp + range.lowerBound, dout + range.lowerBound, inp + range.lowerBound,
                              range.count)
    }
}
