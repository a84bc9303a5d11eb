import CBLAS

/// Causal multi-head self-attention.
/// qkv (B, T, 3·NH·HS): per token [q | k | v], head h at columns h·HS..<(h+1)·HS of each third.
/// out (B, T, NH·HS); att (B, NH, T, T) saves the softmax probabilities for backward (zero above
/// the diagonal). Heads are whatever this rank holds, so a tensor-parallel slice works unchanged.
public func attentionForward(_ out: FloatPointer, _ att: FloatPointer, _ qkv: ConstFloatPointer,
                             B: Int, T: Int, NH: Int, HS: Int) {
    let C = NH * HS, C3 = 3 * C
    let scale = 1.0 / Float(HS).squareRoot()
    for b in 0..<B {
        for h in 0..<NH {
            let q = qkv + b * T * C3 + h * HS, k = q + C, v = q + 2 * C
            let p = att + (b * NH + h) * T * T
            // Scores for the full square: the masked half is overwritten below. Cheaper than T
            // small GEMV calls for the sizes this trainer runs.
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(HS),
                        scale, q, Int32(C3), k, Int32(C3), 0.0, p, Int32(T))
            for t in 0..<T {
                causalSoftmaxRow(p + t * T, valid: t + 1, width: T)
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(HS), Int32(T),
                        1.0, p, Int32(T), v, Int32(C3), 0.0, out + b * T * C + h * HS, Int32(C))
        }
    }
}

@inline(__always)
private func causalSoftmaxRow(_ row: FloatPointer, valid: Int, width: Int) {
    let sum = exponentiateInPlace(row, valid, shift: maximum(row, valid))
    let inverse = 1.0 / sum
    for j in 0..<valid { row[j] *= inverse }
    for j in valid..<width { row[j] = 0 }
}

/// dqkv (B, T, 3C) = gradient of attention (overwritten). `scratch` holds T·T floats.
public func attentionBackward(_ dqkv: FloatPointer, _ scratch: FloatPointer,
                              _ dout: ConstFloatPointer, _ att: ConstFloatPointer,
                              _ qkv: ConstFloatPointer, B: Int, T: Int, NH: Int, HS: Int) {
    let C = NH * HS, C3 = 3 * C
    let scale = 1.0 / Float(HS).squareRoot()
    for b in 0..<B {
        for h in 0..<NH {
            let q = qkv + b * T * C3 + h * HS, k = q + C, v = q + 2 * C
            let dq = dqkv + b * T * C3 + h * HS, dk = dq + C, dv = dq + 2 * C
            let p = att + (b * NH + h) * T * T
            let dy = dout + b * T * C + h * HS
            // dP = dY · Vᵀ and dV = Pᵀ · dY.
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(HS),
                        1.0, dy, Int32(C), v, Int32(C3), 0.0, scratch, Int32(T))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(HS), Int32(T),
                        1.0, p, Int32(T), dy, Int32(C), 0.0, dv, Int32(C3))
            // Softmax backward in place: dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale.
            for t in 0..<T {
                let pr = p + t * T, dr = scratch + t * T
                let rowDot = dot(pr, dr, t + 1)
                for j in 0...t { dr[j] = pr[j] * (dr[j] - rowDot) * scale }
                for j in (t + 1)..<T { dr[j] = 0 }
            }
            // dQ = dS · K and dK = dSᵀ · Q.
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(HS), Int32(T),
                        1.0, scratch, Int32(T), k, Int32(C3), 0.0, dq, Int32(C3))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(HS), Int32(T),
                        1.0, scratch, Int32(T), q, Int32(C3), 0.0, dk, Int32(C3))
        }
    }
}
