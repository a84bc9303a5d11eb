/// out (N, C) = (inp − mean) · rstd · weight + bias, per row; saves mean and rstd (N) for backward.
public func layerNormForward(_ out: FloatPointer, _ mean: FloatPointer, _ rstd: FloatPointer,
                             _ inp: ConstFloatPointer, _ weight: ConstFloatPointer,
                             _ bias: ConstFloatPointer, N: Int, C: Int, eps: Float = 1e-5) {
    for n in 0..<N {
        let x = inp + n * C
        let m = sum(x, C) / Float(C)
        let s = 1.0 / (sumOfSquaredDeviations(x, C, from: m) / Float(C) + eps).squareRoot()
        let o = out + n * C
        for c in 0..<C { o[c] = (x[c] - m) * s * weight[c] + bias[c] }
        mean[n] = m
        rstd[n] = s
    }
}

/// dinp (N, C) += input gradient (adds into the residual stream's gradient);
/// dweight, dbias (C) += parameter gradients.
public func layerNormBackward(_ dinp: FloatPointer, _ dweight: FloatPointer, _ dbias: FloatPointer,
                              _ dout: ConstFloatPointer, _ inp: ConstFloatPointer,
                              _ weight: ConstFloatPointer, _ mean: ConstFloatPointer,
                              _ rstd: ConstFloatPointer, N: Int, C: Int) {
    for n in 0..<N {
        let d = dout + n * C, x = inp + n * C, dx = dinp + n * C
        let m = mean[n], s = rstd[n]
        // Two reductions: mean of dnorm and mean of dnorm · norm, where dnorm = dout · weight.
        let (sumD, sumDN) = normGradientSums(d, weight, x, C, mean: m, rstd: s)
        let meanD = sumD / Float(C), meanDN = sumDN / Float(C)
        for c in 0..<C {
            let norm = (x[c] - m) * s
            dbias[c] += d[c]
            dweight[c] += norm * d[c]
            dx[c] += (d[c] * weight[c] - meanD - norm * meanDN) * s
        }
    }
}
