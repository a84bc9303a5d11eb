import Foundation

/// Where checkpoints live: `RUN_DIR/checkpoints/step_00000500/` folders, each complete once its
/// `manifest.json` exists, and `RUN_DIR/checkpoints/latest`, a one-line file naming the newest
/// complete folder, replaced atomically.
public struct CheckpointFolder: Sendable {
    public let root: String

    public init(runDirectory: String) {
        root = runDirectory + "/checkpoints"
    }

    public static func name(step: Int) -> String { String(format: "step_%08d", step) }
    public func path(step: Int) -> String { root + "/" + Self.name(step: step) }
    public static let manifestName = "manifest.json"
    public static func shardName(rank: Int) -> String { String(format: "shard_%05d.h5", rank) }

    /// The folder `latest` names, when there is one.
    public func latest() throws -> String? {
        let path = root + "/latest"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let name = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, !name.contains("/") else {
            throw CheckpointError.corrupt(path, "does not name a checkpoint folder")
        }
        return root + "/" + name
    }

    /// Points `latest` at `step`'s folder, atomically.
    public func setLatest(step: Int) throws {
        try replaceAtomically(root + "/latest") { temporary in
            try (Self.name(step: step) + "\n").write(toFile: temporary, atomically: false, encoding: .utf8)
        }
    }

    /// Deletes all but the `keep` newest complete checkpoints, never the one `latest` names, and
    /// every incomplete folder older than the newest complete one (left by a crash mid-save).
    public func prune(keep: Int) throws {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: root))?.filter { $0.hasPrefix("step_") }.sorted() ?? []
        let complete = names.filter { fm.fileExists(atPath: root + "/" + $0 + "/" + Self.manifestName) }
        let latestName = (try latest()).map { ($0 as NSString).lastPathComponent }
        let kept = Set(complete.suffix(max(keep, 1))).union(latestName.map { [$0] } ?? [])
        guard let newest = complete.last else { return }
        for name in names where !kept.contains(name) && name < newest {
            try fm.removeItem(atPath: root + "/" + name)
        }
    }

    /// The checkpoint folder `path` names: itself when it holds a manifest, else the checkpoint
    /// `latest` names when `path` is a run directory.
    public static func resolve(_ path: String) throws -> String {
        if FileManager.default.fileExists(atPath: path + "/" + manifestName) { return path }
        if let latest = try CheckpointFolder(runDirectory: path).latest() { return latest }
        throw CheckpointError.invalid(path, "is neither a checkpoint folder nor a run directory with checkpoints/latest")
    }

    /// Reads and checks the manifest of a checkpoint folder.
    public static func manifest(in folder: String) throws -> CheckpointManifest {
        let path = folder + "/" + manifestName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError.invalid(folder, "has no \(manifestName) (not a complete checkpoint)")
        }
        return try CheckpointManifest.decode(data, path: path)
    }

    /// Writes a checkpoint folder's manifest atomically.
    public static func write(_ manifest: CheckpointManifest, in folder: String) throws {
        let data = try manifest.encoded()
        try replaceAtomically(folder + "/" + manifestName) { temporary in
            try data.write(to: URL(fileURLWithPath: temporary))
        }
    }
}
