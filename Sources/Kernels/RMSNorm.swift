/// out (N, C) = inp · rstd · weight, per row, with rstd = 1 / sqrt(mean(inp²) + eps); saves rstd (N)
/// for backward. No mean is subtracted and there is no bias. As Hugging Face's LlamaRMSNorm: fp32
/// throughout, the weight applied after normalising; eps = 1e-6 is its default (Llama 2 configs
/// set rms_norm_eps = 1e-5).
public func rmsNormForward(_ out: FloatPointer, _ rstd: FloatPointer, _ inp: ConstFloatPointer,
                           _ weight: ConstFloatPointer, N: Int, C: Int, eps: Float = 1e-6) {
    for n in 0..<N {
        let x = inp + n * C
        let s = 1.0 / (dot(x, x, C) / Float(C) + eps).squareRoot()
        let o = out + n * C
        for c in 0..<C { o[c] = (x[c] * s) * weight[c] }
        rstd[n] = s
    }
}

/// dinp (N, C) += input gradient (adds into the residual stream's gradient, as layerNormBackward
/// does); dweight (C) += weight gradient.
public func rmsNormBackward(_ dinp: FloatPointer, _ dweight: FloatPointer, _ dout: ConstFloatPointer,
                            _ inp: ConstFloatPointer, _ weight: ConstFloatPointer, _ rstd: ConstFloatPointer,
                            N: Int, C: Int) {
    for n in 0..<N {
        let d = dout + n * C, x = inp + n * C, dx = dinp + n * C
        let s = rstd[n]
        // With norm = x · rstd and dnorm = dout · weight, ∂rstd/∂x = −rstd³ · x / C gives
        // dx = (dnorm − norm · mean(dnorm · norm)) · rstd: one reduction per row.
        let meanDN = dot(d, weight, x, C) * s / Float(C)
        for c in 0..<C {
            let norm = x[c] * s
            dweight[c] += norm * d[c]
            dx[c] += (d[c] * weight[c] - norm * meanDN) * s
        }
    }
}
