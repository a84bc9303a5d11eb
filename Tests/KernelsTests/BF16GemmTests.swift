@testable import Kernels
import Testing

/// bf16 products against exact (Double) products, for every transpose the linear layers use, with
/// leading dimensions wider than the rows and with accumulation into what C held.
///
/// Two bounds per element, with S = Σ_k |a_ik · b_kj|: against the products of the bf16-rounded
/// inputs, fp32 accumulation only (≤ 1e-5 · S); against the fp32 inputs, the input rounding
/// (each input moves ≤ 2^-9 relative, a product ≤ 2^-8 + 2^-18) plus that.
@Suite struct BF16GemmTests {
    let M = 13, N = 11, K = 37

    struct Case: CustomTestStringConvertible, Sendable {
        let transA: Bool, transB: Bool, accumulate: Bool
        var testDescription: String { "\(transA ? "T" : "N")\(transB ? "T" : "N")\(accumulate ? "+=" : "=")" }
    }

    static let cases = [false, true].flatMap { a in
        [false, true].flatMap { b in [false, true].map { Case(transA: a, transB: b, accumulate: $0) } }
    }

    /// Engines this CPU can run: widening everywhere, oneDNN where it has bf16 in hardware.
    static var engines: [BF16Gemm.Engine] { OneDNNMatmuls.hasNativeBF16 ? [.widening, .oneDNN] : [.widening] }

    /// A stored (rows, columns) matrix with leading dimension columns + 3, gaps filled with junk.
    func matrix(rows: Int, columns: Int, rng: inout TestRNG) -> (values: [Float], ld: Int) {
        let ld = columns + 3
        return ((0..<(rows * ld)).map { $0 % ld < columns ? rng.uniform(-2...2) : 1e30 }, ld)
    }

    /// C (M, N) in Double and S, from op(a) · op(b) as the case stores them.
    func reference(_ c: Case, a: [Float], lda: Int, b: [Float], ldb: Int, start: [Float], ldc: Int)
        -> (value: [Double], magnitude: [Double]) {
        var value = [Double](repeating: 0, count: M * ldc), magnitude = value
        for i in 0..<M {
            for j in 0..<N {
                var sum = c.accumulate ? Double(start[i * ldc + j]) : 0, size = 0.0
                for k in 0..<K {
                    let x = Double(c.transA ? a[k * lda + i] : a[i * lda + k])
                    let y = Double(c.transB ? b[j * ldb + k] : b[k * ldb + j])
                    sum += x * y
                    size += abs(x * y)
                }
                value[i * ldc + j] = sum
                magnitude[i * ldc + j] = size
            }
        }
        return (value, magnitude)
    }

    static func rounded(_ xs: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { convertToHalf(.bf16, src.baseAddress!, $0.baseAddress!, count: xs.count) }
        }
        return out
    }

    @Test(arguments: engines, cases)
    func productsAreTheRoundedInputsAccumulatedInFp32(engine: BF16Gemm.Engine, c: Case) {
        var rng = TestRNG(seed: 11)
        let (a, lda) = matrix(rows: c.transA ? K : M, columns: c.transA ? M : K, rng: &rng)
        let (b, ldb) = matrix(rows: c.transB ? N : K, columns: c.transB ? K : N, rng: &rng)
        let ldc = N + 2
        let start = (0..<(M * ldc)).map { _ in rng.uniform(-1...1) }
        let (aBF16, bBF16) = (Self.rounded(a), Self.rounded(b))
        let widen = { (h: [UInt16]) in h.map { Float(bitPattern: UInt32($0) << 16) } }
        let exactOfRounded = reference(c, a: widen(aBF16), lda: lda, b: widen(bBF16), ldb: ldb, start: start, ldc: ldc)
        let exactOfInputs = reference(c, a: a, lda: lda, b: b, ldb: ldb, start: start, ldc: ldc)
        var out = start
        let gemm = BF16Gemm(engine: engine)
        out.withUnsafeMutableBufferPointer { out in
            gemm.multiply(transA: c.transA, transB: c.transB, M: M, N: N, K: K, aBF16, lda: lda, bBF16, ldb: ldb,
                          out.baseAddress!, ldc: ldc, accumulate: c.accumulate)
        }
        for i in 0..<M {
            for j in 0..<N {
                let at = i * ldc + j, size = exactOfInputs.magnitude[at]
                let result = Double(out[at])
                #expect(abs(result - exactOfRounded.value[at]) <= 1e-5 * size, "(\(i), \(j))")
                #expect(abs(result - exactOfInputs.value[at]) <= (0x1p-8 + 0x1p-18 + 1e-5) * size, "(\(i), \(j))")
            }
            for j in N..<ldc { #expect(out[i * ldc + j] == start[i * ldc + j], "wrote outside C at (\(i), \(j))") }
        }
    }

    /// The C glue's strides, transposes and accumulation through oneDNN, checked on any CPU with
    /// fp32 inputs (bf16 ones need AVX512_BF16): only the element type differs in bf16.
    @Test(arguments: cases)
    func oneDNNGlueMultipliesEveryLayout(c: Case) {
        var rng = TestRNG(seed: 12)
        let (a, lda) = matrix(rows: c.transA ? K : M, columns: c.transA ? M : K, rng: &rng)
        let (b, ldb) = matrix(rows: c.transB ? N : K, columns: c.transB ? K : N, rng: &rng)
        let ldc = N + 2
        let start = (0..<(M * ldc)).map { _ in rng.uniform(-1...1) }
        let exact = reference(c, a: a, lda: lda, b: b, ldb: ldb, start: start, ldc: ldc)
        var out = start
        let shape = OneDNNMatmuls.Shape(transA: c.transA, transB: c.transB, M: M, N: N, K: K, lda: lda, ldb: ldb,
                                        ldc: ldc, accumulate: c.accumulate)
        let ran = out.withUnsafeMutableBufferPointer { out in
            OneDNNMatmuls(inputs: .fp32).run(shape, a: a, b: b, c: out.baseAddress!, threads: 1)
        }
        #expect(ran, "oneDNN has no fp32 matmul here")
        for i in 0..<M {
            for j in 0..<N {
                #expect(abs(Double(out[i * ldc + j]) - exact.value[i * ldc + j]) <= 1e-5 * exact.magnitude[i * ldc + j])
            }
        }
    }
}
