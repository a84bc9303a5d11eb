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

/// SwiGLU, the gated activation of LLaMA's MLP, on the fused output of its gate and up projections.
/// gateup (N, 2H): per token [gate (H) | up (H)], so one linear of OC = 2H computes both (its weight
/// rows are gate_proj's, then up_proj's; a tensor-parallel slice must hold matching halves of each,
/// gate then up, on every rank). out (N, H) = silu(gate) · up, silu(x) = x · sigmoid(x).
public func swigluForward(_ out: FloatPointer, _ gateup: ConstFloatPointer, N: Int, H: Int) {
    KernelThreads.forEachChunk(N, cost: 2 * H) { rows in
        tessera_swiglu_forward(out + rows.lowerBound * H, gateup + rows.lowerBound * 2 * H, rows.count, H)
    }
}

/// dgateup (N, 2H) = [dout · up · silu'(gate) | dout · silu(gate)] (overwrites); dgateup must not
/// alias dout or gateup.
public func swigluBackward(_ dgateup: FloatPointer, _ dout: ConstFloatPointer, _ gateup: ConstFloatPointer,
                           N: Int, H: Int) {
    KernelThreads.forEachChunk(N, cost: 2 * H) { rows in
        tessera_swiglu_backward(dgateup + rows.lowerBound * 2 * H, dout + rows.lowerBound * H,
                                gateup + rows.lowerBound * 2 * H, rows.count, H)
    }
}

/// GeGLU, T5 v1.1's gated feed-forward (Hugging Face's `T5DenseGatedActDense` with
/// `feed_forward_proj = "gated-gelu"`, which sets `dense_act_fn = "gelu_new"`: GELU's tanh
/// approximation, the same as `geluForward`). gateup (N, 2H): per token [gate (H) | up (H)], the
/// outputs of wi_0 then wi_1, laid out as SwiGLU's. out (N, H) = gelu(gate) · up.
public func gegluForward(_ out: FloatPointer, _ gateup: ConstFloatPointer, N: Int, H: Int) {
    KernelThreads.forEachChunk(N, cost: 2 * H) { rows in
        tessera_geglu_forward(out + rows.lowerBound * H, gateup + rows.lowerBound * 2 * H, rows.count, H)
    }
}

/// dgateup (N, 2H) = [dout · up · gelu'(gate) | dout · gelu(gate)] (overwrites); dgateup must not
/// alias dout or gateup.
public func gegluBackward(_ dgateup: FloatPointer, _ dout: ConstFloatPointer, _ gateup: ConstFloatPointer,
                          N: Int, H: Int) {
    KernelThreads.forEachChunk(N, cost: 2 * H) { rows in
        tessera_geglu_backward(dgateup + rows.lowerBound * 2 * H, dout + rows.lowerBound * H,
                               gateup + rows.lowerBound * 2 * H, rows.count, H)
    }
}
