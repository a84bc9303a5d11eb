import Testing
@testable import Launch

@Suite struct EnvironmentDefaultsTests {
    let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]
    let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]

    @Test func genericKernelsGiveWayToWhatTheFlagsAllow() {
        #expect(EnvironmentDefaults.blasCoreChoice(chosen: "Prescott", cpuFlags: avx2) == "Haswell")
        #expect(EnvironmentDefaults.blasCoreChoice(chosen: "Nehalem", cpuFlags: avx512) == "SkylakeX")
        #expect(EnvironmentDefaults.blasCoreChoice(chosen: "Core2", cpuFlags: ["sse4_2"]) == nil)
        #expect(EnvironmentDefaults.blasCoreChoice(chosen: "Zen", cpuFlags: avx512) == nil)
        #expect(EnvironmentDefaults.blasCoreChoice(chosen: "Prescott", cpuFlags: avx512.subtracting(["avx512cd"])) == "Haswell")
    }

    @Test func onlyWhatTheUserLeftUnsetIsAdded() {
        let bare = EnvironmentDefaults.additions(to: [:], sharedMemoryBytes: 64 << 20, blasCore: "Prescott", cpuFlags: avx2)
        #expect(bare.map(\.name) == ["OMPI_MCA_btl_vader_single_copy_mechanism", "OMPI_MCA_btl_vader_backing_directory",
                                     "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
        #expect(bare.map(\.value) == ["none", "/tmp", "Haswell", "1", "1"])
        let set = ["OMPI_MCA_btl_vader_single_copy_mechanism": "cma", "OPENBLAS_CORETYPE": "Zen",
                   "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"]
        #expect(EnvironmentDefaults.additions(to: set, sharedMemoryBytes: 8 << 30, blasCore: "Prescott", cpuFlags: avx2).isEmpty)
        #expect(EnvironmentDefaults.additions(to: set, sharedMemoryBytes: nil, blasCore: "Haswell", cpuFlags: avx2).map(\.name)
            == ["OMPI_MCA_btl_vader_backing_directory"])
    }

    @Test func allowedCPULists() {
        #expect(LocalMachine.cpuList("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11])
        #expect(LocalMachine.cpuList("\t5\n".trimmingNewline) == [5])
        #expect(LocalMachine.cpuList("3-1") == nil)
        #expect(LocalMachine.cpuList("x") == nil)
        #expect(LocalMachine.cores() >= 1)
    }
}
