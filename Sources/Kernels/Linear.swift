import CBLAS

/// out (BT, OC) = inp (BT, C) · weightᵀ + bias, weight (OC, C) row-major as in PyTorch.
/// bias may be nil. `ldo` lets a caller write into a wider row (default OC).
public func linearForward(_ out: FloatPointer, _ inp: ConstFloatPointer,
                          _ weight: ConstFloatPointer, _ bias: ConstFloatPointer?,
                          BT: Int, C: Int, OC: Int) {
    BLAS.warmUp()
    if let bias { fillRows(out, with: bias, BT: BT, OC: OC) }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(BT), Int32(OC), Int32(C),
                1.0, inp, Int32(C), weight, Int32(C), bias == nil ? 0.0 : 1.0, out, Int32(OC))
}

/// dinp (BT, C) = dout · weight (overwritten, or added to when `accumulateInput`);
/// dweight (OC, C) += doutᵀ · inp; dbias (OC) += column sums of dout.
public func linearBackward(_ dinp: FloatPointer?, _ dweight: FloatPointer, _ dbias: FloatPointer?,
                           _ dout: ConstFloatPointer, _ inp: ConstFloatPointer,
                           _ weight: ConstFloatPointer,
                           BT: Int, C: Int, OC: Int, accumulateInput: Bool = false) {
    if let dinp {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(BT), Int32(C), Int32(OC),
                    1.0, dout, Int32(OC), weight, Int32(C), accumulateInput ? 1.0 : 0.0,
                    dinp, Int32(C))
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(OC), Int32(C), Int32(BT),
                1.0, dout, Int32(OC), inp, Int32(C), 1.0, dweight, Int32(C))
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
