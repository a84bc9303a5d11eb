public typealias BF16Pointer = UnsafeMutablePointer<UInt16>
public typealias ConstBF16Pointer = UnsafePointer<UInt16>

/// Matrix products of bf16 matrices, accumulated and returned in fp32: the arithmetic of
/// bf16 compute. Where the CPU has AVX512_BF16 (or AMX), oneDNN multiplies the bf16
/// values directly, about twice OpenBLAS's fp32 rate; elsewhere both operands are widened to fp32
/// (exact) and OpenBLAS's sgemm multiplies them: the same products, at sgemm's rate less the
/// widening. One instance per model; not for concurrent use (it keeps scratch and primitives).
public final class BF16Gemm {
    public enum Engine: String, Sendable, CaseIterable {
        case oneDNN = "oneDNN bf16"
        case widening = "bf16 widened to fp32 + OpenBLAS sgemm"
    }

    /// oneDNN where it runs bf16 in hardware here, else widening.
    public static var bestEngine: Engine { OneDNNMatmuls.hasNativeBF16 ? .oneDNN : .widening }

    public let engine: Engine
    private let oneDNN = OneDNNMatmuls(inputs: .bf16)
    /// fp32 copies of the operands for the widening engine (and shapes oneDNN cannot run), grown
    /// to the largest product seen.
    private let panelA = ScratchBuffer<Float>(), panelB = ScratchBuffer<Float>()

    public init(engine: Engine = BF16Gemm.bestEngine) { self.engine = engine }

    /// c (M, N) = op(a) · op(b), or c += op(a) · op(b) when `accumulate`; row-major, op(a) = a
    /// (M, K) with leading dimension lda, or aᵀ of a stored (K, M) when `transA`; likewise b (K, N).
    public func multiply(transA: Bool, transB: Bool, M: Int, N: Int, K: Int,
                         _ a: ConstBF16Pointer, lda: Int, _ b: ConstBF16Pointer, ldb: Int,
                         _ c: FloatPointer, ldc: Int, accumulate: Bool) {
        let shape = OneDNNMatmuls.Shape(transA: transA, transB: transB, M: M, N: N, K: K, lda: lda, ldb: ldb,
                                        ldc: ldc, accumulate: accumulate)
        if engine == .oneDNN && oneDNN.run(shape, a: a, b: b, c: c, threads: BLAS.threads) { return }
        let wideA = widen(a, rows: transA ? K : M, columns: transA ? M : K, ld: lda, into: panelA)
        let wideB = widen(b, rows: transB ? N : K, columns: transB ? K : N, ld: ldb, into: panelB)
        BLAS.sgemm(transA: transA, transB: transB, M: M, N: N, K: K,
                   alpha: 1.0, wideA, lda: lda, wideB, ldb: ldb, beta: accumulate ? 1.0 : 0.0, c, ldc: ldc)
    }

    /// The stored (rows, columns) matrix with leading dimension ld in fp32 at the same leading
    /// dimension (the gaps between rows come along, unused); valid until `panel`'s next use.
    private func widen(_ source: ConstBF16Pointer, rows: Int, columns: Int, ld: Int,
                       into panel: ScratchBuffer<Float>) -> ConstFloatPointer {
        let count = (rows - 1) * ld + columns
        let wide = panel.take(count)
        convertFromHalf(.bf16, source, wide, count: count)
        return UnsafePointer(wide)
    }
}
