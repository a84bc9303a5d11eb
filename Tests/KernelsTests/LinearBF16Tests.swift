import Kernels
import Testing

/// The bf16 linear layer against the fp32 one on the same values: forward output and the three
/// gradients differ only by bf16 rounding of the products' inputs, so each element stays within
/// 2^-8 (+ fp32 accumulation) of S = Σ |x · y| over its products; biases are fp32 and exact.
@Suite struct LinearBF16Tests {
    let BT = 24, C = 20, OC = 28

    static func rounded(_ x: Tensor) -> Buffer<UInt16> {
        let out = Buffer<UInt16>(count: x.count, repeating: 0)
        convertToHalf(.bf16, x.const, out.pointer, count: x.count)
        return out
    }

    /// |bf16 − fp32| ≤ bound · S elementwise, S the sums of |products| behind each element.
    func expectClose(_ name: String, _ bf16: Tensor, _ fp32: Tensor, magnitudes: [Float]) {
        let bound: Float = 0x1p-8 + 1e-5
        let worst = (0..<fp32.count).map { abs(bf16[$0] - fp32[$0]) / max(magnitudes[$0], 1e-30) }.max()!
        #expect(worst <= bound, "\(name): worst error \(worst) of S, bound \(bound)")
        #expect(bf16.values != fp32.values, "\(name): bf16 gave exactly the fp32 values")
    }

    @Test func forwardAndBackwardMatchFp32WithinTheRoundingBound() {
        var rng = TestRNG(seed: 21)
        let inp = Tensor(count: BT * C, in: -1...1, rng: &rng), weight = Tensor(count: OC * C, in: -1...1, rng: &rng)
        let bias = Tensor(count: OC, in: -1...1, rng: &rng), dout = Tensor(count: BT * OC, in: -1...1, rng: &rng)
        let (inpBF16, weightBF16) = (Self.rounded(inp), Self.rounded(weight))
        let gemm = BF16Gemm(), doutBF16 = Buffer<UInt16>(count: BT * OC, repeating: 0)
        let abs = { (x: Tensor) in x.values.map { Swift.abs($0) } }
        let (aInp, aWeight, aDout) = (abs(inp), abs(weight), abs(dout))
        func sums(_ rows: Int, _ columns: Int, _ inner: Int, _ x: (Int, Int) -> Float, _ y: (Int, Int) -> Float) -> [Float] {
            (0..<(rows * columns)).map { at in (0..<inner).reduce(0) { $0 + x(at / columns, $1) * y($1, at % columns) } }
        }

        let out = (fp32: Tensor(count: BT * OC), bf16: Tensor(count: BT * OC))
        linearForward(out.fp32.pointer, inp.const, weight.const, bias.const, BT: BT, C: C, OC: OC)
        linearForward(out.bf16.pointer, inpBF16.const, weightBF16.const, bias.const, BT: BT, C: C, OC: OC, gemm: gemm)
        expectClose("out", out.bf16, out.fp32, magnitudes: sums(BT, OC, C, { aInp[$0 * C + $1] }, { aWeight[$1 * C + $0] }))

        let fp32 = (dinp: Tensor(count: BT * C), dweight: Tensor(count: OC * C, repeating: 0.5), dbias: Tensor(count: OC))
        let bf16 = (dinp: Tensor(count: BT * C), dweight: Tensor(count: OC * C, repeating: 0.5), dbias: Tensor(count: OC))
        linearBackward(fp32.dinp.pointer, fp32.dweight.pointer, fp32.dbias.pointer, dout.const, inp.const, weight.const,
                       BT: BT, C: C, OC: OC)
        linearBackward(bf16.dinp.pointer, bf16.dweight.pointer, bf16.dbias.pointer, doutBF16.pointer, dout.const,
                       inpBF16.const, weightBF16.const, BT: BT, C: C, OC: OC, gemm: gemm)
        expectClose("dinp", bf16.dinp, fp32.dinp, magnitudes: sums(BT, C, OC, { aDout[$0 * OC + $1] }, { aWeight[$0 * C + $1] }))
        // dweight started at 0.5: += is exact in both, so the bound is the products' alone.
        expectClose("dweight", bf16.dweight, fp32.dweight,
                    magnitudes: sums(OC, C, BT, { aDout[$1 * OC + $0] }, { aInp[$0 * C + $1] }))
        #expect(bf16.dbias.values == fp32.dbias.values, "dbias sums the fp32 output gradient")
    }

    @Test func inputGradientIsAddedOnlyWhenAsked() {
        var rng = TestRNG(seed: 22)
        let inp = Self.rounded(Tensor(count: BT * C, in: -1...1, rng: &rng))
        let weight = Self.rounded(Tensor(count: OC * C, in: -1...1, rng: &rng))
        let dout = Tensor(count: BT * OC, in: -1...1, rng: &rng)
        let gemm = BF16Gemm(), doutBF16 = Buffer<UInt16>(count: BT * OC, repeating: 0)
        let once = Tensor(count: BT * C, repeating: 7), twice = Tensor(count: BT * C)
        let dweight = Tensor(count: OC * C)
        linearBackward(once.pointer, dweight.pointer, nil, doutBF16.pointer, dout.const, inp.const, weight.const,
                       BT: BT, C: C, OC: OC, gemm: gemm)
        for _ in 0..<2 {
            linearBackward(twice.pointer, dweight.pointer, nil, doutBF16.pointer, dout.const, inp.const, weight.const,
                           BT: BT, C: C, OC: OC, accumulateInput: true, gemm: gemm)
        }
        #expect(maxAbsDifference(twice.values, once.values.map { 2 * $0 }) < 1e-5)
    }
}
