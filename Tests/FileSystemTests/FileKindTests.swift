import FileSystem
import Foundation
import Testing

/// Readers take regular files only, bounded before reading, and names from files stay inside their
/// folder.
struct FileKindTests {
    let folder: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-filekind-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    @Test func kindsAreToldApartWithoutFollowingALinkAtThePath() throws {
        let file = folder + "/file", link = folder + "/link", dangling = folder + "/dangling", fifo = folder + "/fifo"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: folder + "/nothing")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(FileKind.of(file) == .regular)
        #expect(FileKind.of(folder) == .folder)
        #expect(FileKind.of(link) == .linkToRegular)
        #expect(FileKind.of(dangling) == .danglingLink)
        #expect(FileKind.of(fifo) == .special)
        #expect(FileKind.of("/dev/urandom") == .special)
        #expect(FileKind.of(folder + "/nothing") == .missing)
    }

    @Test func aFIFOIsRefusedAtOnceInsteadOfBlocking() throws {
        let fifo = folder + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let error = #expect(throws: FileReadError.self) { try readRegularFile(fifo, limit: 1 << 20) }
        #expect(error?.message.contains("not a regular file") == true)
    }

    @Test func aDeviceAndAFolderAreRefused() {
        #expect(throws: FileReadError.self) { try readRegularFile("/dev/urandom", limit: 1 << 20) }
        let error = #expect(throws: FileReadError.self) { try readRegularFile(folder, limit: 1 << 20) }
        #expect(error?.message.contains("folder") == true)
    }

    @Test func aFileOverTheLimitIsRefusedBeforeItIsRead() throws {
        let file = folder + "/big"
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: file))
        #expect(try readRegularFile(file, limit: 100) == [UInt8](repeating: 7, count: 100))
        let error = #expect(throws: FileReadError.self) { try readRegularFile(file, limit: 99) }
        #expect(error?.message.contains("100 bytes") == true)
    }

    @Test func openingGivesTheDescriptorAndSizeOfARegularFileOnly() throws {
        let file = folder + "/sized"
        try Data(repeating: 1, count: 42).write(to: URL(fileURLWithPath: file))
        let (descriptor, size) = try openRegularFile(file)
        close(descriptor)
        #expect(size == 42)
        let error = #expect(throws: FileReadError.self) { try openRegularFile(folder) }
        #expect(error?.message == "is a folder, not a file")
    }

    @Test func textMustBeUTF8() throws {
        let file = folder + "/latin1"
        try Data([0x63, 0x61, 0x66, 0xE9]).write(to: URL(fileURLWithPath: file))
        let error = #expect(throws: FileReadError.self) { try readUTF8File(file, limit: 100) }
        #expect(error?.message.contains("UTF-8") == true)
    }

    @Test(arguments: ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\0b"])
    func namesThatLeaveTheirFolderAreNotPlain(_ name: String) {
        #expect(!isPlainFileName(name))
    }

    @Test(arguments: ["shard_00000.h5", "shard_00000.bin", "..hidden", "a.b"])
    func plainNames(_ name: String) {
        #expect(isPlainFileName(name))
    }
}
