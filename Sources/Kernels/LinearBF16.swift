/// The linear layer with bf16 operands (bf16 compute): as `linearForward` and
/// `linearBackward`, with the saved input and the weight in bf16 and every product accumulated in
/// fp32 by `gemm`. Outputs, bias and gradients stay fp32; the output gradient is rounded to bf16
/// for the two backward products.

/// out (BT, OC) = inp (BT, C) · weightᵀ + bias, weight (OC, C); bias may be nil.
public func linearForward(_ out: FloatPointer, _ inp: ConstBF16Pointer, _ weight: ConstBF16Pointer,
                          _ bias: ConstFloatPointer?, BT: Int, C: Int, OC: Int, gemm: BF16Gemm) {
    if let bias { fillRows(out, with: bias, BT: BT, OC: OC) }
    gemm.multiply(transA: false, transB: true, M: BT, N: OC, K: C, inp, lda: C, weight, ldb: C,
                  out, ldc: OC, accumulate: bias != nil)
}

/// dinp (BT, C) = dout · weight (overwritten, or added to when `accumulateInput`);
/// dweight (OC, C) += doutᵀ · inp; dbias (OC) += column sums of dout.
/// `doutBF16` (BT · OC) receives dout rounded to bf16.
public func linearBackward(_ dinp: FloatPointer?, _ dweight: FloatPointer, _ dbias: FloatPointer?,
                           _ doutBF16: BF16Pointer, _ dout: ConstFloatPointer, _ inp: ConstBF16Pointer,
                           _ weight: ConstBF16Pointer, BT: Int, C: Int, OC: Int, accumulateInput: Bool = false,
                           gemm: BF16Gemm) {
    convertToHalf(.bf16, dout, doutBF16, count: BT * OC)
    if let dinp {
        gemm.multiply(transA: false, transB: false, M: BT, N: C, K: OC, doutBF16, lda: OC, weight, ldb: C,
                      dinp, ldc: C, accumulate: accumulateInput)
    }
    gemm.multiply(transA: true, transB: false, M: OC, N: C, K: BT, doutBF16, lda: OC, inp, ldb: C,
                  dweight, ldc: C, accumulate: true)
    if let dbias { addColumnSums(dbias, dout, BT: BT, OC: OC) }
}
