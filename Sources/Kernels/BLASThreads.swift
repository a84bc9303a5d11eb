import CBLAS

/// OpenBLAS's thread count for this process (OPENBLAS_NUM_THREADS sets it at start-up).
public enum BLASThreads {
    public static var count: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }
}
