#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Checkpoint
import FileSystem
import Foundation

/// The folder a training run writes (metrics, checkpoints, model.h5), made and locked by rank 0
/// before anything is read from it, so that two runs never write one folder.
///
/// The lock is a POSIX record lock (`lockf`, the same as `fcntl`) on `RUN_DIR/tessera.lock`: the
/// kernel drops it when its process ends, however it ends, so a crashed run leaves no lock behind
/// and `--restarts` starts again at once; on a shared filesystem (NFS) the lock manager gives the
/// same answer on every node. The file itself stays, naming the last holder: its host, process and
/// start, which the refusal quotes.
public final class RunDirectory {
    public static let lockName = "tessera.lock"
    public let path: String
    private let descriptor: Int32

    /// Makes `path` and `path/checkpoints` (refusing a file in either place) and takes the lock;
    /// throws a SetupError naming the holder when a live process has it.
    public init(path: String, command: String) throws {
        self.path = path
        try Self.makeFolder(path, what: "run.dir")
        try Self.makeFolder(CheckpointFolder(runDirectory: path).root, what: "run.dir's checkpoints")
        let lockPath = path + "/" + Self.lockName
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o644)
        guard descriptor >= 0 else {
            throw SetupError("cannot open the run lock \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard lockf(descriptor, F_TLOCK, 0) == 0 else {
            let reason = errno
            close(descriptor)
            guard reason == EACCES || reason == EAGAIN else {
                throw SetupError("cannot lock \(lockPath): \(String(cString: strerror(reason)))")
            }
            throw Self.inUse(path)
        }
        self.descriptor = descriptor
        let holder = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName), \(command), since \(Date())\n"
        _ = ftruncate(descriptor, 0)
        _ = holder.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        _ = fsync(descriptor)
    }

    deinit { close(descriptor) }

    /// For a check that must create nothing (`train --check`): throws as `init` would when a live
    /// process holds the lock of an existing run directory; a missing folder or lock file is free.
    public static func checkFree(_ path: String) throws {
        try refuseNonFolder(path, what: "run.dir")
        try refuseNonFolder(CheckpointFolder(runDirectory: path).root, what: "run.dir's checkpoints")
        let lockPath = path + "/" + lockName
        guard FileKind.of(lockPath) == .regular else { return }
        let descriptor = open(lockPath, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        // F_TEST leaves the lock as it is: this process takes nothing.
        if lockf(descriptor, F_TEST, 0) != 0 { throw inUse(path) }
    }

    private static func inUse(_ path: String) -> SetupError {
        let holder = (try? readUTF8File(path + "/" + lockName, limit: 4096))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return SetupError("run.dir '\(path)' is in use by another run (\(holder.isEmpty ? "holder unknown" : holder)); "
            + "wait for it to end or choose another run.dir")
    }

    /// Throws unless `path` is a folder (or a link to one) or missing.
    private static func refuseNonFolder(_ path: String, what: String) throws {
        let kind = FileKind.of(path)
        guard kind.isFolder || kind == .missing else { throw SetupError("\(what) '\(path)' is \(kind.phrase), not a folder") }
    }

    private static func makeFolder(_ path: String, what: String) throws {
        try refuseNonFolder(path, what: what)
        guard FileKind.of(path) == .missing else { return }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SetupError("cannot create \(what) '\(path)': \(describe(error))")
        }
    }
}
