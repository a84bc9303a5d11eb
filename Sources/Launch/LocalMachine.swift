#if canImport(Glibc)
import Glibc
#endif
import FileSystem

/// Facts about the machine the launcher runs on, read from /proc and /sys.
public enum LocalMachine {
    /// Cores this process may run on, as OpenMPI counts them: distinct (package, core) pairs among
    /// the CPUs of `Cpus_allowed_list`; the number of allowed CPUs where the topology is unreadable.
    public static func cores() -> Int {
        let status = (try? readUTF8File("/proc/self/status", limit: 1 << 20)) ?? ""
        let allowed = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
            .flatMap { cpuList(String($0.dropFirst("Cpus_allowed_list:".count))) } ?? []
        guard !allowed.isEmpty else { return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
        var cores = Set<String>()
        for cpu in allowed {
            let topology = "/sys/devices/system/cpu/cpu\(cpu)/topology/"
            guard let core = try? readUTF8File(topology + "core_id", limit: 64),
                  let package = try? readUTF8File(topology + "physical_package_id", limit: 64) else { return allowed.count }
            cores.insert(package.trimmingNewline + "," + core.trimmingNewline)
        }
        return cores.count
    }

    /// The CPUs of a list such as "0-3,8,10-11"; nil when it is not one.
    static func cpuList(_ text: String) -> [Int]? {
        var cpus: [Int] = []
        for item in text.split(separator: ",") {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
                .map { Int($0.filter { $0 != " " && $0 != "\t" }) }
            guard bounds.count <= 2, let low = bounds.first ?? nil, let high = bounds.last ?? nil, low <= high,
                  high - low < 1 << 16 else { return nil }
            cpus += Array(low...high)
        }
        return cpus
    }

    /// The size of /dev/shm in bytes, or nil.
    public static func sharedMemoryBytes() -> Int? {
        var info = statvfs()
        guard statvfs("/dev/shm", &info) == 0 else { return nil }
        return Int(info.f_blocks) * Int(info.f_frsize)
    }

    /// The first CPU's feature flags (/proc/cpuinfo `flags`).
    public static func cpuFlags() -> Set<String> {
        let info = (try? readUTF8File("/proc/cpuinfo", limit: 1 << 24)) ?? ""
        guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Whether `name` resolves to an address here (DNS, /etc/hosts: what ssh would use).
    public static func resolves(_ name: String) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0 else { return false }
        freeaddrinfo(result)
        return true
    }

    /// `name` looked up on PATH as a shell would: its path, or nil.
    public static func which(_ name: String, path: String?) -> String? {
        for folder in (path ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = (folder.isEmpty ? "." : String(folder)) + "/" + name
            if FileKind.of(candidate).isFile, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// `path` with its folder resolved to an absolute physical path (links in the folder followed,
    /// the file's own name kept), as `cd "$(dirname P)" && pwd -P` gives; nil when the folder is missing.
    public static func absolute(_ path: String) -> String? {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let resolved = realpath(folder, nil) else { return nil }
        defer { free(resolved) }
        let base = String(cString: resolved)
        return (base == "/" ? "" : base) + "/" + name
    }

    /// This executable's absolute path (/proc/self/exe).
    public static func executablePath() -> String? {
        guard let resolved = realpath("/proc/self/exe", nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension String {
    var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
