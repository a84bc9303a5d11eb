/// `word` written so that a POSIX shell reads it back unchanged, for a command line a user can
/// copy: plain words as they are; printable ASCII with each other character escaped by a
/// backslash (as bash's `printf %q` writes them, `tcp\,self`); anything else (newlines, other
/// control characters, non-ASCII, the empty word) in single quotes.
public func shellQuoted(_ word: String) -> String {
    let plain: (Unicode.Scalar) -> Bool = {
        $0.isASCIILetter || $0.isASCIIDigit || "_./:=@%+-".unicodeScalars.contains($0)
    }
    let scalars = word.unicodeScalars
    if !scalars.isEmpty && scalars.allSatisfy(plain) { return word }
    if !scalars.isEmpty && scalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) {
        var quoted = ""
        for scalar in scalars {
            if !plain(scalar) { quoted.append("\\") }
            quoted.unicodeScalars.append(scalar)
        }
        return quoted
    }
    return "'" + word.replacing("'", with: "'\\''") + "'"
}

/// A command line as a shell line: each word quoted, joined by spaces.
public func shellLine(_ words: [String]) -> String {
    words.map(shellQuoted).joined(separator: " ")
}
