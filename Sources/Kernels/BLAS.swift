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
}
