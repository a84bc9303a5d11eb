/// out (BT, OC) = inp (BT, C) · weightᵀ + bias, weight (OC, C) row-major as in PyTorch.
/// bias may be nil. One row (a token's decoding step) is a matrix-vector product: it reads each
/// weight once, at memory speed.
public func linearForward(_ out: FloatPointer, _ inp: ConstFloatPointer,
                          _ weight: ConstFloatPointer, _ bias: ConstFloatPointer?,
                          BT: Int, C: Int, OC: Int) {
    if let bias { fillRows(out, with: bias, BT: BT, OC: OC) }
    if BT == 1 {
        BLAS.sgemv(M: OC, N: C, alpha: 1.0, weight, lda: C, inp, beta: bias == nil ? 0.0 : 1.0, out)
        return
    }
    BLAS.sgemm(transA: false, transB: true, M: BT, N: OC, K: C,
               alpha: 1.0, inp, lda: C, weight, ldb: C, beta: bias == nil ? 0.0 : 1.0, out, ldc: OC)
}

/// dinp (BT, C) = dout · weight (overwritten, or added to when `accumulateInput`);
/// dweight (OC, C) += doutᵀ · inp; dbias (OC) += column sums of dout.
public func linearBackward(_ dinp: FloatPointer?, _ dweight: FloatPointer, _ dbias: FloatPointer?,
                           _ dout: ConstFloatPointer, _ inp: ConstFloatPointer,
                           _ weight: ConstFloatPointer,
                           BT: Int, C: Int, OC: Int, accumulateInput: Bool = false) {
    if let dinp {
        BLAS.sgemm(transA: false, transB: false, M: BT, N: C, K: OC,
                   alpha: 1.0, dout, lda: OC, weight, ldb: C, beta: accumulateInput ? 1.0 : 0.0, dinp, ldc: C)
    }
    BLAS.sgemm(transA: true, transB: false, M: OC, N: C, K: BT,
               alpha: 1.0, dout, lda: OC, inp, ldb: C, beta: 1.0, dweight, ldc: C)
    if let dbias { addColumnSums(dbias, dout, BT: BT, OC: OC) }
}

/// Every row of out (BT, OC) = bias (OC): the start a GEMM then adds to.
func fillRows(_ out: FloatPointer, with bias: ConstFloatPointer, BT: Int, OC: Int) {
    for r in 0..<BT {
        (out + r * OC).update(from: bias, count: OC)
    }
}

/// dbias (OC) += column sums of dout (BT, OC).
func addColumnSums(_ dbias: FloatPointer, _ dout: ConstFloatPointer, BT: Int, OC: Int) {
    for r in 0..<BT {
        let row = dout + r * OC
        for o in 0..<OC {
            dbias[o] += row[o]
        }
    }
}
