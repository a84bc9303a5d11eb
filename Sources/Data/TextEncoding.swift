extension Tokenizer {
    /// The ids of a text file's bytes, `path` naming the file in errors: the bytes themselves for
    /// the byte tokenizer; for char and SentencePiece the bytes must be UTF-8 (SentencePiece
    /// encodes them without making a String first).
    func encode(fileBytes bytes: [UInt8], path: String) throws -> [Int32] {
        let tokenizer = (self as? DocumentTokenizer)?.base ?? self
        if tokenizer.kind == .byte { return bytes.map { Int32($0) } }
        if let offset = UTF8Check.firstInvalidOffset(bytes) { throw DataError.notUTF8(path: path, byteOffset: offset) }
        if let pieces = tokenizer as? SentencePieceTokenizer {
            return try bytes.withUnsafeBytes { try pieces.encode(utf8: $0) }
        }
        return try tokenizer.encode(String(decoding: bytes, as: UTF8.self))
    }
}
