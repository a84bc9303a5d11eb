// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way, in the order data flows:
// FileSystem (no deps: checks, bounded reads, atomic replacement); SafeTensors → FileSystem; MPI → CMPI; Kernels → CBLAS, CKernels (multiversioned C loops), COneDNN (bf16 matmul); Random (counter-based, no deps); Parallel → MPI, Kernels; Model → Parallel, Kernels; Config → Parallel, Kernels (it translates the TOML into their types);
// Checkpoint → MPI, CHDF5; Interop → SafeTensors, Model, Data (Hugging Face folders); Training → Model, Data, Checkpoint, Interop;
// Planning → Model; Launch → FileSystem (the mpirun launcher's rules); Report → CZlib, FileSystem (run reports: PNG, markdown);
// tessera → Training, Planning, Launch, Report.
let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-openmpi",
                       providers: [.apt(["libhdf5-openmpi-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        .target(name: "MPI", dependencies: ["CMPI"]),
        .target(name: "Random"),
        .target(name: "CKernels"),
        // oneDNN's bf16 matmul behind a C header (libdnnl-dev; no pkg-config file), on GNU OpenMP.
        .target(name: "COneDNN", linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        .target(name: "Kernels", dependencies: ["CBLAS", "CKernels", "COneDNN", "Random"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        // Regular-file checks and bounded reads for every module that opens a user's file, and
        // atomic replacement for every module that writes one.
        .target(name: "FileSystem"),
        // Hugging Face's safetensors format, read (checked before any tensor) and written (atomically).
        .target(name: "SafeTensors", dependencies: ["FileSystem"]),
        .target(name: "Config", dependencies: ["TOMLKit", "FileSystem", "Parallel", "Kernels"]),
        .target(name: "Parallel", dependencies: ["MPI", "Kernels"]),
        .target(name: "Model", dependencies: ["Parallel", "Kernels", "Random"]),
        // SentencePiece's C++ API behind a C header (libsentencepiece-dev).
        .target(name: "CSentencePiece",
                linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("sentencepiece_train")]),
        .target(name: "Data", dependencies: ["Config", "Random", "CKernels", "CSentencePiece", "FileSystem"]),
        .target(name: "Checkpoint", dependencies: ["MPI", "CHDF5", "CKernels", "FileSystem"]),
        // Hugging Face model folders (config.json, safetensors weights, tokenizer files) to and from
        // Tessera's parameters: one table per model family.
        .target(name: "Interop", dependencies: ["SafeTensors", "Model", "Data", "FileSystem"]),
        .target(name: "Training", dependencies: ["Model", "Parallel", "MPI", "Data", "Checkpoint", "Config", "FileSystem", "Interop", "CKernels"]),
        // The cost model behind `tessera plan`: pure arithmetic over the model's and layout's sizes.
        .target(name: "Planning", dependencies: ["Model", "Parallel", "Kernels", "Config"]),
        // `tessera launch`: options, hostfiles, the mpirun command line and restarts, apart from MPI itself.
        .target(name: "Launch", dependencies: ["FileSystem"]),
        // `tessera report`: metrics.jsonl read as a resumed run leaves it, a chart rasterised on a
        // canvas with a bitmap font, written as PNG through zlib, and a markdown summary.
        .target(name: "Report", dependencies: ["CZlib", "FileSystem"]),
        .executableTarget(name: "tessera", dependencies: [
            "Launch", "Training", "Model", "Parallel", "Data", "Checkpoint", "Config", "Kernels", "MPI", "Random", "Planning", "FileSystem",
            "Interop", "Report",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Runs every collective under real mpirun; driven by IntegrationTests.
        .executableTarget(name: "tessera-mpi-check", dependencies: ["MPI", "Parallel"], path: "Tests/MPICheck"),
        // Compares a layout's gathered gradients with one rank's under real mpirun; driven by IntegrationTests.
        .executableTarget(name: "tessera-layout-check", dependencies: ["Training", "Parallel", "MPI"],
                          path: "Tests/LayoutCheck"),
        // Tessera's logits for a model, for benchmarks/interop/check_export.py to compare an export with.
        .executableTarget(name: "tessera-logits", dependencies: ["Training", "SafeTensors"],
                          path: "benchmarks/interop/tessera-logits"),

        .testTarget(name: "MPITests", dependencies: ["MPI"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "Random"]),
        .testTarget(name: "ParallelTests", dependencies: ["Parallel", "Config"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Kernels"]),
        .testTarget(name: "DataTests", dependencies: ["Data"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint"]),
        .testTarget(name: "FileSystemTests", dependencies: ["FileSystem"]),
        .testTarget(name: "LaunchTests", dependencies: ["Launch"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "FileSystem"]),
        .testTarget(name: "InteropTests", dependencies: ["Interop", "SafeTensors", "Model", "Data", "Training", "Checkpoint", "Config"]),
        .target(name: "DashboardReaders", path: "Tests/DashboardReaders"),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Data", "Model", "Config", "Checkpoint", "DashboardReaders"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "CZlib"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "Config", "Model", "Parallel"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Checkpoint", "DashboardReaders"]),
    ]
)
