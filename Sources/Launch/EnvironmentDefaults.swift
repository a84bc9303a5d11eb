/// The variables the launcher adds to the job's environment where the user has not set them,
/// in the order they are shown on the launch line. A pure function of what it is given.
public enum EnvironmentDefaults {
    /// - Parameters:
    ///   - sharedMemoryBytes: the size of /dev/shm (nil when unknown).
    ///   - blasCore: the OpenBLAS kernel family chosen for this CPU, and the CPU's feature flags.
    public static func additions(to environment: [String: String], sharedMemoryBytes: Int?,
                                 blasCore: String, cpuFlags: Set<String>) -> [(name: String, value: String)] {
        var added: [(String, String)] = []
        // OpenMPI's shared-memory transport in containers: no cross-memory attach (ptrace is
        // usually denied), and its backing files in /tmp where /dev/shm is small (docker: 64 MiB).
        // launch/lib.sh's tessera_mpi_env applies the same two rules for launch/test and Slurm.
        if environment["OMPI_MCA_btl_vader_single_copy_mechanism"] == nil {
            added.append(("OMPI_MCA_btl_vader_single_copy_mechanism", "none"))
        }
        if environment["OMPI_MCA_btl_vader_backing_directory"] == nil,
           (sharedMemoryBytes ?? 0) < 512 << 20 {
            added.append(("OMPI_MCA_btl_vader_backing_directory", "/tmp"))
        }
        if environment["OPENBLAS_CORETYPE"] == nil, let core = blasCoreChoice(chosen: blasCore, cpuFlags: cpuFlags) {
            added.append(("OPENBLAS_CORETYPE", core))
        }
        // One BLAS/OpenMP thread per rank: ranks already fill the cores.
        for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"] where environment[name] == nil {
            added.append((name, "1"))
        }
        return added
    }

    /// OpenBLAS 0.3.21 picks its kernels from the CPU model number; on a CPU it does not know (a
    /// virtual machine's generic "Intel Xeon Processor", for one) it falls back to Prescott's SSE3
    /// kernels, 4-5x slower at sgemm. Then the kernels the feature flags allow: SkylakeX with the
    /// AVX-512 foundation, BW, VL, DQ and CD; Haswell with AVX2 and FMA; else nil (keep its choice).
    public static func blasCoreChoice(chosen: String, cpuFlags: Set<String>) -> String? {
        guard ["Prescott", "Core2", "Nehalem"].contains(chosen) else { return nil }
        if cpuFlags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }
}
