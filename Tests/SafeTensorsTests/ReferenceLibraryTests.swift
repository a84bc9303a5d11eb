import Foundation
import Testing
@testable import SafeTensors

/// Tessera's files against Hugging Face's own `safetensors` Python package, both ways. These tests
/// run only where `python3` imports `safetensors.numpy` (launch/test installs it with pip); elsewhere
/// they are reported as skipped, never as passed.
@Suite(.enabled(if: pythonHasSafeTensors, "python3 cannot import safetensors.numpy (python3 -m pip install safetensors); skipped"))
struct ReferenceLibraryTests {
    /// Prints, as JSON, what the reference library makes of a file: its metadata and each tensor's
    /// dtype, shape and elements as bit patterns (so no float is rounded through text).
    static let describeFile = """
        import json, sys, numpy as np, safetensors
        path = sys.argv[1]
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
        out = {"__metadata__": metadata}
        for name, t in safetensors.deserialize(open(path, "rb").read()):
            raw = np.frombuffer(t["data"], dtype="<u2" if t["dtype"] in ("F16", "BF16") else "<u4")
            out[name] = {"dtype": t["dtype"], "shape": list(t["shape"]), "bits": raw.tolist()}
        print(json.dumps(out))
        """

    @Test func theReferenceLibraryReadsWhatTesseraWrites() throws {
        let values: [Float] = [1, -2.5, .pi, 0x1p-133, 65504, 1.0 / 3]  // 2^-133: a Float subnormal
        try withTemporaryDirectory { folder in
            let path = folder + "/model.safetensors"
            try writeSafeTensors(path: path, tensors: [
                TensorToWrite(name: "a.weight", shape: [2, 3], values: values),
                TensorToWrite(name: "a.half", dtype: .f16, shape: [6], values: values),
                TensorToWrite(name: "a.brain", dtype: .bf16, shape: [3, 2], values: values),
                TensorToWrite(name: "scalar", shape: [], values: [7]),
                TensorToWrite(name: "empty", shape: [0], values: []),
            ], metadata: ["format": "pt", "note": "é \"q\""])
            let result = runCommand(["python3", "-c", Self.describeFile, path])
            try #require(result.status == 0, "\(result.output)")
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
            #expect(seen["__metadata__"] as? [String: String] == ["format": "pt", "note": "é \"q\""])
            func check(_ name: String, _ dtype: String, _ shape: [Int], _ bits: [UInt32]) {
                let tensor = seen[name] as? [String: Any]
                #expect(tensor?["dtype"] as? String == dtype, "\(name)")
                #expect(tensor?["shape"] as? [Int] == shape, "\(name)")
                #expect((tensor?["bits"] as? [NSNumber])?.map(\.uint32Value) == bits, "\(name)")
            }
            check("a.weight", "F32", [2, 3], values.map(\.bitPattern))
            check("a.half", "F16", [6], values.map { UInt32(f16FromFloat($0)) })
            check("a.brain", "BF16", [3, 2], values.map { UInt32(bf16FromFloat($0)) })
            check("scalar", "F32", [], [Float(7).bitPattern])
            check("empty", "F32", [0], [])
        }
    }

    @Test func tesseraReadsWhatTheReferenceLibraryWrites() throws {
        let script = """
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({
                "w": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
                "h": np.array([0.5, -65504, 1 / 3], dtype=np.float16),
                "d": np.array(2.5, dtype=np.float64),
                "ids": np.array([3, 1 << 40, -1], dtype=np.int64),
                "mask": np.array([True, False]),
            }, sys.argv[1], metadata={"format": "np"})
            """
        try withTemporaryDirectory { folder in
            let path = folder + "/model.safetensors"
            let result = runCommand(["python3", "-c", script, path])
            try #require(result.status == 0, "\(result.output)")
            let file = try SafeTensorsFile(path: path)
            #expect(file.metadata == ["format": "np"])
            #expect(file.info("w")?.shape == [2, 3])
            #expect(try file.floats("w") == [0, 0.25, 0.5, 0.75, 1, 1.25])
            #expect(try file.floats("h") == [0.5, -65504, 0.333251953125])
            #expect(file.info("d")?.shape == [])
            #expect(try file.floats("d") == [2.5])
            #expect(try file.integers("ids") == [3, 1 << 40, -1])
            #expect(try file.integers("mask") == [1, 0])
        }
    }
}

/// Whether `python3` on PATH has the reference library and numpy.
let pythonHasSafeTensors = runCommand(["python3", "-c", "import safetensors.numpy"]).status == 0

/// Runs a command, returning its status and its standard output and error together.
func runCommand(_ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return (127, "\(error)") }
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
