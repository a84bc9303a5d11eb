import CBLAS

/// The OpenBLAS this process runs on: its thread count (OPENBLAS_NUM_THREADS sets it at start-up)
/// and the kernel family it picked for this CPU, which decides GEMM speed several times over.
public enum BLAS {
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// OpenBLAS's name for its kernels here ("SkylakeX", "Haswell", ...); "Prescott" means it did
    /// not recognise the CPU and fell back to SSE3 kernels (see launch/lib.sh).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// c (M, N) = alpha · op(a) · op(b) + beta · c, row-major (op(a) = aᵀ of a stored (K, M) when
    /// `transA`; likewise b): every fp32 product of the kernels goes through here, so that the
    /// process's first one is preceded by the warm-up below.
    static func sgemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float,
                      _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float,
                      _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = warmedUp
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(M), Int32(N), Int32(K), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y (M) = alpha · a · x + beta · y, a (M, N) row-major: a single row's product, which sgemm
    /// runs several times slower (it packs the whole matrix for one row).
    static func sgemv(M: Int, N: Int, alpha: Float, _ a: UnsafePointer<Float>, lda: Int, _ x: UnsafePointer<Float>,
                      beta: Float, _ y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(M), Int32(N), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }

    /// One 512³ sgemm before the process's first product. OpenBLAS 0.3.21 (Zen kernels, this VM)
    /// runs narrow products slowly for the life of the process until it has run a wide one (N ≥
    /// about 336): 768×256×128 at 12 GFLOP/s against 33 after it, 768×128×512 at 10 against 34 (one
    /// thread), 15-20% slower on two threads. A process whose products are all narrow, such as a
    /// tensor-parallel rank of a small model, stayed slow: the baby GPT on tp 2 ran at half dp 2's
    /// speed.
    private static let warmedUp: Void = {
        let n = 512
        let a = UnsafeMutablePointer<Float>.allocate(capacity: 3 * n * n)
        defer { a.deallocate() }
        a.initialize(repeating: 0.5, count: 3 * n * n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(n), Int32(n),
                    1.0, a, Int32(n), a + n * n, Int32(n), 0.0, a + 2 * n * n, Int32(n))
    }()
}
