import Foundation
import Testing
@testable import Checkpoint

/// `h5dump`, if it is on PATH: the reference reader that needs no Tessera code.
private let h5dump: String? = ProcessInfo.processInfo.environment["PATH"]?
    .split(separator: ":").map { "\($0)/h5dump" }
    .first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite struct ModelFileH5DumpTests {
    @Test(.enabled(if: h5dump != nil, "h5dump is not on PATH"))
    func h5dumpSeesEveryDatasetWithItsShape() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/model.h5"
            try ModelFileTests.writeModel(to: path)
            let header = try run(h5dump!, ["-H", path])
            for (name, shape) in ModelFileTests.shapes {
                let dims = shape.map(String.init).joined(separator: ", ")
                #expect(header.contains("""
                    DATASET "\(name)" {
                          DATATYPE  H5T_IEEE_F32LE
                          DATASPACE  SIMPLE { ( \(dims) ) / ( \(dims) ) }
                    """), "\(name) \(shape) not in:\n\(header)")
            }
            #expect(header.contains("ATTRIBUTE \"config\""))
            #expect(header.contains("CSET H5T_CSET_UTF8"))
        }
    }

    /// Runs a tool to completion and returns its standard output; throws on a non-zero exit.
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool) \(arguments) exited \(process.terminationStatus)")
        return String(decoding: data, as: UTF8.self)
    }
}
