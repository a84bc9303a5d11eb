import FileSystem
import Foundation

/// Where checkpoints live: `RUN_DIR/checkpoints/step_00000500/` folders, each complete once its
/// `manifest.json` exists, and `RUN_DIR/checkpoints/latest`, a one-line file naming the newest
/// complete folder, replaced atomically.
///
/// The complete folders are the truth and `latest` a pointer kept beside them: a run continues from
/// the newest complete folder even when `latest` is missing, damaged or a step behind (a crash
/// between the manifest and `latest`), and says so, since starting over would overwrite checkpoints.
/// Tessera writes no symbolic links inside `checkpoints/`; one found there is refused, so reading a
/// checkpoint never leaves the folder the user named.
public struct CheckpointFolder: Sendable {
    public let root: String

    public init(runDirectory: String) {
        root = runDirectory + "/checkpoints"
    }

    /// Folder names carry eight digits, which sort in step order only up to this step.
    public static let largestStep = 99_999_999
    public static func name(step: Int) -> String { String(format: "step_%08d", step) }
    public func path(step: Int) -> String { root + "/" + Self.name(step: step) }
    public static let manifestName = "manifest.json"
    public static func shardName(rank: Int) -> String { String(format: "shard_%05d.h5", rank) }

    /// The step a folder name stands for: `step_` and exactly eight digits.
    static func step(named name: String) -> Int? {
        guard name.hasPrefix("step_"), name.utf8.count == 13 else { return nil }
        let digits = name.dropFirst(5)
        guard digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(digits)
    }

    /// Every `step_NNNNNNNN` entry, ascending by step, and whether it is complete. An entry that is
    /// a link or not a folder is refused.
    public func folders() throws -> [(step: Int, complete: Bool)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        return try names.compactMap { name -> (Int, Bool)? in
            guard let step = Self.step(named: name) else { return nil }
            let path = root + "/" + name
            guard FileKind.of(path) == .folder else {
                throw CheckpointError.invalid(path, "is \(FileKind.of(path).phrase), not a checkpoint folder")
            }
            return (step, FileKind.of(path + "/" + Self.manifestName) == .regular)
        }.sorted { $0.0 < $1.0 }
    }

    /// The steps of the complete folders, ascending.
    public func completeSteps() throws -> [Int] { try folders().filter(\.complete).map(\.step) }

    /// The folder `latest` names, when it is a one-line file naming a complete folder; nil otherwise.
    func latestNamed() -> String? {
        let path = root + "/latest"
        guard FileKind.of(path) == .regular, let bytes = try? readRegularFile(path, limit: 256),
              let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let step = Self.step(named: name), FileKind.of(self.path(step: step) + "/" + Self.manifestName) == .regular
        else { return nil }
        return self.path(step: step)
    }

    /// The checkpoint a run directory continues from: its newest complete folder, and a note when
    /// `latest` does not name that folder (missing, damaged, or left behind by a crash). Nil when
    /// there is no complete checkpoint, with `latest` absent; a `latest` left without any complete
    /// folder is refused, since its checkpoints were removed.
    public func newest() throws -> (folder: String, note: String?)? {
        let latestPath = root + "/latest"
        if FileKind.of(latestPath) == .folder {
            // A folder cannot be replaced by the next save's `latest`: refused before any work.
            throw CheckpointError.invalid(latestPath, "is a folder, where Tessera keeps a one-line file; remove it")
        }
        guard let step = try completeSteps().last else {
            guard FileKind.of(latestPath) == .missing else {
                throw CheckpointError.invalid(latestPath, "exists but no complete checkpoint folder is left beside it; "
                    + "remove \(root) to start this run over")
            }
            return nil
        }
        let folder = path(step: step), named = latestNamed()
        guard named != folder else { return (folder, nil) }
        let why = switch FileKind.of(latestPath) {
        case .missing: "is missing"
        case .regular: named.map { "names \(($0 as NSString).lastPathComponent)" } ?? "does not name a complete checkpoint"
        case let kind: "is \(kind.phrase)"
        }
        return (folder, "\(latestPath) \(why); the newest complete checkpoint is \(Self.name(step: step))")
    }

    /// Points `latest` at `step`'s folder, atomically.
    public func setLatest(step: Int) throws {
        try replaceAtomically(root + "/latest") { temporary in
            try (Self.name(step: step) + "\n").write(toFile: temporary, atomically: false, encoding: .utf8)
        }
    }

    /// Deletes all but the `keep` newest complete checkpoints, and every incomplete folder older
    /// than the newest complete one (left by a crash mid-save).
    public func prune(keep: Int) throws {
        let all = try folders()
        let complete = all.filter(\.complete).map(\.step)
        guard let newest = complete.last else { return }
        let kept = Set(complete.suffix(max(keep, 1)))
        for (step, _) in all where !kept.contains(step) && step < newest {
            try FileManager.default.removeItem(atPath: path(step: step))
        }
    }

    /// The checkpoint folder `path` names: itself when it holds a manifest, else the newest
    /// complete checkpoint of a run directory.
    public static func resolve(_ path: String) throws -> String {
        guard FileKind.of(path).isFolder else {
            throw CheckpointError.invalid(path, FileKind.of(path) == .missing ? "does not exist" : "is not a folder")
        }
        if FileKind.of(path + "/" + manifestName) != .missing { return path }
        if let (folder, _) = try CheckpointFolder(runDirectory: path).newest() { return folder }
        throw CheckpointError.invalid(path, "is neither a checkpoint folder nor a run directory with a complete checkpoint")
    }

    /// The largest manifest read: a million ranks' records fit well below it.
    static let manifestLimit = 1 << 28

    /// Reads and checks the manifest of a checkpoint folder.
    public static func manifest(in folder: String) throws -> CheckpointManifest {
        let path = folder + "/" + manifestName
        switch FileKind.of(path) {
        case .regular: break
        case .missing: throw CheckpointError.invalid(folder, "has no \(manifestName) (not a complete checkpoint)")
        case let kind: throw CheckpointError.invalid(path, "is \(kind.phrase), not a manifest file")
        }
        do {
            return try CheckpointManifest.decode(Data(try readRegularFile(path, limit: manifestLimit)), path: path)
        } catch let error as FileReadError {
            throw CheckpointError.invalid(path, error.message)
        }
    }

    /// Writes a checkpoint folder's manifest atomically.
    public static func write(_ manifest: CheckpointManifest, in folder: String) throws {
        let data = try manifest.encoded()
        try replaceAtomically(folder + "/" + manifestName) { temporary in
            try data.write(to: URL(fileURLWithPath: temporary))
        }
    }
}
