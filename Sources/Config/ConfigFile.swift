import Foundation

/// Reads a config file as UTF-8 text, telling a missing file from an unreadable one.
enum ConfigFile {
    static func read(_ path: String) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw ConfigError.fileNotFound(path: path)
        }
        guard !isFolder.boolValue else {
            throw ConfigError.unreadableFile(path: path, reason: "it is a folder")
        }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw ConfigError.unreadableFile(path: path, reason: "permission denied or I/O error")
        }
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw ConfigError.unreadableFile(path: path, reason: "not valid UTF-8")
        }
        return text
    }
}
