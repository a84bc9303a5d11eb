import FileSystem

/// Reads a config file as UTF-8 text, telling a missing file from an unreadable one.
enum ConfigFile {
    /// Configs are a few kilobytes; anything past this is not one.
    static let sizeLimit = 1 << 24

    static func read(_ path: String) throws -> String {
        let bytes: [UInt8]
        do {
            bytes = try readRegularFile(path, limit: sizeLimit)
        } catch {
            if FileKind.of(path) == .missing { throw ConfigError.fileNotFound(path: path) }
            throw ConfigError.unreadableFile(path: path, reason: error.message)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError.unreadableFile(path: path, reason: "not valid UTF-8")
        }
        return text
    }
}
