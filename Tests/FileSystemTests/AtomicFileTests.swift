import FileSystem
import Foundation
import Testing

/// Replacing a file when a run killed mid-write left its temporary file behind.
struct AtomicFileTests {
    @Test func aStaleTemporaryFileDoesNotStopALinkReplacement() throws {
        try withTemporaryDirectory { folder in
            let source = folder + "/saved", target = folder + "/model.h5"
            try Data("new".utf8).write(to: URL(fileURLWithPath: source))
            try Data("old".utf8).write(to: URL(fileURLWithPath: target))
            try Data("half-written".utf8).write(to: URL(fileURLWithPath: target + ".tmp"))
            try replaceByLink(target, to: source)
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "new")
            #expect(!FileManager.default.fileExists(atPath: target + ".tmp"))
        }
    }

    @Test func aStaleTemporaryFileIsReplacedByTheNewContents() throws {
        try withTemporaryDirectory { folder in
            let target = folder + "/latest"
            try Data("half-written and longer".utf8).write(to: URL(fileURLWithPath: target + ".tmp"))
            try replaceAtomically(target) { temporary in
                let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
                #expect(fd >= 0, "the stale temporary file was still there")
                if fd >= 0 {
                    _ = "step_2".withCString { write(fd, $0, 6) }
                    close(fd)
                }
            }
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "step_2")
        }
    }
}
