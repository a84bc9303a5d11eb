/// A launcher input that cannot be run: one `error:` line, exit 2, before anything starts.
/// `usage` is a mistake on the command line (the message points at `--help`); `input` is a file,
/// host or size that the command line names correctly but that is wrong.
public enum LaunchError: Error, Equatable, Sendable, CustomStringConvertible {
    case usage(String)
    case input(String)

    public var description: String {
        switch self {
        case .usage(let message): "\(message) (see launch/tessera-run --help)"
        case .input(let message): message
        }
    }
}

/// The command line of `launch/tessera-run` / `tessera launch`: its own options, then the command
/// every rank runs (a tessera subcommand and its arguments). Parsing checks each value's form;
/// what needs the file system or the network (hostfile, hosts, agent) is checked by `LaunchPlan`.
public struct LaunchOptions: Equatable, Sendable {
    /// -np: ranks to start; nil: one without hosts, else every slot the hosts have.
    public var ranks: Int?
    public var hostfile: String?
    /// -H host:slots,...
    public var hostList: String?
    /// --net: networks (CIDR) or interface names, comma-separated.
    public var networks: [String] = []
    public var tcpOnly = false
    public var rshAgent: String?
    public var oversubscribe = false
    /// --node-timeout in seconds; nil: the default (30) where hosts are named.
    public var nodeTimeout: Int?
    public var restarts = 0
    public var restartDelay = 0
    /// --program: run this on every rank instead of tessera itself.
    public var program: String?
    public var help = false
    /// What every rank runs: a tessera subcommand and its arguments (or --program's arguments).
    public var command: [String] = []

    public init() {}

    /// The largest rank count, slot count, restart count and number of seconds accepted: seven
    /// digits at most, so no later arithmetic can overflow.
    public static let largestCount = 1_000_000

    public static func parse(_ arguments: [String]) throws(LaunchError) -> LaunchOptions {
        var options = LaunchOptions()
        var rest = arguments[...]
        // Values as given, checked once all options are read (as the help lists them).
        var ranks: String?, restarts: String?, nodeTimeout: String?, restartDelay: String?, networks: String?
        while let argument = rest.first {
            let (name, inline) = Self.split(argument)
            func value() throws(LaunchError) -> String {
                if let inline { rest.removeFirst(); return inline }
                guard rest.count >= 2 else { throw .usage("\(argument) needs a value") }
                let value = rest[rest.index(after: rest.startIndex)]
                rest.removeFirst(2)
                return value
            }
            func flag() throws(LaunchError) {
                guard inline == nil else { throw .usage("\(name) takes no value") }
                rest.removeFirst()
            }
            switch name {
            case "-h", "--help": options.help = true; return options
            case "-np", "-n", "--np": ranks = try value()
            case "--hostfile", "-hostfile", "--machinefile", "-machinefile": options.hostfile = try value()
            case "-H", "--host", "-host": options.hostList = try value()
            case "--net": networks = try value()
            case "--tcp-only": try flag(); options.tcpOnly = true
            case "--rsh-agent": options.rshAgent = try value()
            case "--oversubscribe": try flag(); options.oversubscribe = true
            case "--node-timeout": nodeTimeout = try value()
            case "--restart-delay": restartDelay = try value()
            case "--restarts": restarts = try value()
            case "--program": options.program = try value()
            case "--": rest.removeFirst(); options.command = Array(rest); rest = []
            case _ where argument.hasPrefix("-"):
                throw .usage("unknown option '\(argument)' (pass mpirun flags through TESSERA_MPIRUN_ARGS; "
                    + "put tessera's own options after the subcommand)")
            default: options.command = Array(rest); rest = []
            }
        }
        guard !options.command.isEmpty else {
            throw .usage("no tessera subcommand given (e.g. launch/tessera-run -np 2 train --config FILE)")
        }
        if let ranks {
            options.ranks = try Self.count(ranks, from: 1, "-np must be an integer from 1 to \(largestCount), got '\(ranks)'")
        }
        if let restarts {
            options.restarts = try Self.count(restarts, from: 0,
                                              "--restarts must be an integer from 0 to \(largestCount), got '\(restarts)'")
        }
        if let nodeTimeout {
            options.nodeTimeout = try Self.count(nodeTimeout, from: 0,
                "--node-timeout must be a whole number of seconds up to \(largestCount), got '\(nodeTimeout)'")
        }
        if let restartDelay {
            options.restartDelay = try Self.count(restartDelay, from: 0,
                "--restart-delay must be a whole number of seconds up to \(largestCount), got '\(restartDelay)'")
        }
        if options.hostfile != nil && options.hostList != nil {
            throw .usage("give either --hostfile or -H, not both")
        }
        if let networks { options.networks = try Self.networks(networks) }
        return options
    }

    /// `--name=value` as (--name, value); anything else as (argument, nil). Single-dash options
    /// take their value as the next argument only (`-np=4` aside, which mpirun users type).
    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--") || argument.hasPrefix("-np="),
              let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    /// A whole number from `low` to `largestCount` written in at most seven digits (leading zeros
    /// aside), or the usage error `message`.
    static func count(_ text: String, from low: Int, _ message: String) throws(LaunchError) -> Int {
        guard let value = parseCount(text), value >= low, value <= largestCount else { throw .usage(message) }
        return value
    }

    /// The value of a count of at most seven significant digits, or nil.
    static func parseCount(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        let digits = text.drop { $0 == "0" }
        guard digits.count <= 7 else { return nil }
        return Int(digits) ?? 0
    }

    /// --net's comma-separated networks (a.b.c.d/len) and interface names.
    static func networks(_ text: String) throws(LaunchError) -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, !items.contains("") else { throw .usage("--net needs a network such as 10.0.0.0/24") }
        for item in items {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
            func number(_ s: Substring) -> Int? {
                s.count >= 1 && s.count <= 3 && s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) ? Int(s) : nil
            }
            if parts.count == 2, octets.count == 4, octets.allSatisfy({ number($0) != nil }),
               parts[1].count <= 2, let length = number(parts[1]) {
                guard octets.allSatisfy({ number($0)! <= 255 }) else {
                    throw .usage("--net: '\(item)' is not a network (an octet above 255)")
                }
                guard length <= 32 else { throw .usage("--net: '\(item)' is not a network (prefix length above 32)") }
            } else if !isInterfaceName(item) {
                throw .usage("--net: '\(item)' is neither a network in CIDR form (e.g. 10.0.0.0/24) nor an interface name")
            }
        }
        return items
    }

    private static func isInterfaceName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || "_.@-".unicodeScalars.contains($0) }
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
