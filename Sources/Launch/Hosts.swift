/// One host of a hostfile or `-H` list, as OpenMPI reads it.
public struct HostEntry: Equatable, Sendable {
    /// As written, perhaps `user@host`.
    public var name: String
    /// nil: not given (OpenMPI then uses the host's core count, unknown here).
    public var slots: Int?
    public var maxSlots: Int?
    /// Where it was written, for messages: "hostfile F line 3" or "-H".
    public var origin: String

    /// The name to resolve: without `user@`.
    public var address: String { name.split(separator: "@", maxSplits: 1).last.map(String.init) ?? name }
}

/// The hosts a job may use, from `--hostfile F` or `-H host:slots,...`.
public struct HostSet: Equatable, Sendable {
    public var entries: [HostEntry]
    /// How messages name it: "hostfile F" or "-H LIST".
    public var source: String

    /// The hostfile grammar OpenMPI accepts, one host a line: `host [slots=N] [max_slots=N]`
    /// (also `cpu=`/`count=` for slots and `max-slots=`), `#` comments, blank lines. Numbers have
    /// at most seven digits; `max_slots` below `slots` is refused, as OpenMPI refuses it.
    public static func parseHostfile(_ text: String, path: String) throws(LaunchError) -> HostSet {
        var entries: [HostEntry] = []
        // "\r\n" is one Character in Swift: a line from Windows ends there too.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            var line = rawLine
            let shown = line.trimmingSpaces
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let host = fields.first else { continue }
            func bad(_ why: String) -> LaunchError {
                .input("hostfile \(path) line \(lineNumber): \(why): \"\(shown)\" is not `host [slots=N] [max_slots=N]`")
            }
            guard !host.contains("="), isHostName(host, allowingColon: true) else { throw bad("bad host name") }
            var entry = HostEntry(name: String(host), origin: "hostfile \(path) line \(lineNumber)")
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=", omittingEmptySubsequences: false)
                guard pair.count == 2, !pair[1].isEmpty, pair[1].count <= 7,
                      pair[1].allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(pair[1]) else {
                    throw bad("\"\(field)\" is not key=number (up to 7 digits)")
                }
                switch pair[0] {
                case "slots", "cpu", "count": entry.slots = number
                case "max_slots", "max-slots": entry.maxSlots = number
                default: throw bad("unknown key \"\(pair[0])\"")
                }
            }
            if let slots = entry.slots, let most = entry.maxSlots, most < slots { throw bad("max_slots below slots") }
            if entry.slots == nil { entry.slots = entry.maxSlots }
            entries.append(entry)
        }
        guard !entries.isEmpty else { throw .input("hostfile \(path) names no host") }
        return HostSet(entries: entries, source: "hostfile \(path)")
    }

    /// `-H host:slots,host,...`: slots default to 1, at most seven digits.
    public static func parseList(_ list: String) throws(LaunchError) -> HostSet {
        guard !list.isEmpty else { throw .usage("-H needs a host list such as node1:2,node2:2") }
        var entries: [HostEntry] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw .usage("-H '\(list)' has an empty entry") }
            var name = item, slots = 1
            if let colon = item.lastIndex(of: ":") {
                name = item[..<colon]
                let count = String(item[item.index(after: colon)...])
                guard let n = LaunchOptions.parseCount(count), n >= 1, n <= LaunchOptions.largestCount else {
                    throw .usage("-H entry '\(item)': slots must be an integer from 1 to \(LaunchOptions.largestCount) (host:slots)")
                }
                slots = n
            }
            guard isHostName(name, allowingColon: false) else {
                throw .usage("-H entry '\(item)': '\(name)' is not a host name")
            }
            entries.append(HostEntry(name: String(name), slots: slots, origin: "-H"))
        }
        return HostSet(entries: entries, source: "-H \(list)")
    }

    /// The sum of slots, or nil when some host leaves its slots to OpenMPI (its core count).
    public var knownSlots: Int? {
        entries.reduce(0 as Int?) { total, entry in total.flatMap { t in entry.slots.map { t + $0 } } }
    }

    /// The sum of max_slots when every host has one (OpenMPI never places more ranks), else nil.
    public var maxSlots: Int? {
        entries.reduce(0 as Int?) { total, entry in total.flatMap { t in entry.maxSlots.map { t + $0 } } }
    }

    /// `[user@]name` with user and name of letters, digits, `._-` (a hostfile also allows `:`,
    /// for IPv6 addresses); the name does not start with `.`, `-` or `:`.
    static func isHostName<S: StringProtocol>(_ text: S, allowingColon: Bool) -> Bool {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        func plain(_ c: Unicode.Scalar) -> Bool { c.isASCIILetter || c.isASCIIDigit || "._-".unicodeScalars.contains(c) }
        if parts.count == 2, parts[0].isEmpty || !parts[0].unicodeScalars.allSatisfy(plain) { return false }
        let name = parts[parts.count - 1].unicodeScalars
        guard let first = name.first, first.isASCIILetter || first.isASCIIDigit || first == "_" else { return false }
        return name.allSatisfy { plain($0) || (allowingColon && $0 == ":") }
    }
}

extension Substring {
    /// Without leading and trailing blanks and tabs.
    var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return self[startIndex..<startIndex]
        }
        return self[start...end]
    }
}
