/// Finds where bytes stop being UTF-8, for an error that points at the offending byte.
enum UTF8Check {
    static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// A text file's bytes checked as UTF-8 (the first bad byte named with its line) and without a
    /// byte order mark, as spreadsheets and some editors write: the body a reader parses.
    static func textBody(_ bytes: [UInt8], path: String) throws(DataError) -> [UInt8] {
        if let offset = firstInvalidOffset(bytes) {
            let line = 1 + bytes[..<offset].count { $0 == 0x0A }
            throw .badInput(path: path, location: "line \(line)", reason: "not valid UTF-8 (byte \(offset) of the file)")
        }
        return bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
    }
}
