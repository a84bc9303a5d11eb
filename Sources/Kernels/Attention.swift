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
            BLAS.sgemm(transA: false, transB: true, M: T, N: T, K: HS,
                       alpha: scale, q, lda: C3, k, ldb: C3, beta: 0.0, p, ldc: T)
            for t in 0..<T {
                causalSoftmaxRow(p + t * T, valid: t + 1, width: T)
            }
            BLAS.sgemm(transA: false, transB: false, M: T, N: HS, K: T,
                       alpha: 1.0, p, lda: T, v, ldb: C3, beta: 0.0, out + b * T * C + h * HS, ldc: C)
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
            BLAS.sgemm(transA: false, transB: true, M: T, N: T, K: HS,
                       alpha: 1.0, dy, lda: C, v, ldb: C3, beta: 0.0, scratch, ldc: T)
            BLAS.sgemm(transA: true, transB: false, M: T, N: HS, K: T,
                       alpha: 1.0, p, lda: T, dy, ldb: C, beta: 0.0, dv, ldc: C3)
            // Softmax backward in place: dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale.
            for t in 0..<T {
                let pr = p + t * T, dr = scratch + t * T
                let rowDot = dot(pr, dr, t + 1)
                for j in 0...t { dr[j] = pr[j] * (dr[j] - rowDot) * scale }
                for j in (t + 1)..<T { dr[j] = 0 }
            }
            // dQ = dS · K and dK = dSᵀ · Q.
            BLAS.sgemm(transA: false, transB: false, M: T, N: HS, K: T,
                       alpha: 1.0, scratch, lda: T, k, ldb: C3, beta: 0.0, dq, ldc: C3)
            BLAS.sgemm(transA: true, transB: false, M: T, N: HS, K: T,
                       alpha: 1.0, scratch, lda: T, q, ldb: C3, beta: 0.0, dk, ldc: C3)
        }
    }
}
