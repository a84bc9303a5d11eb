/// What the launcher knows about the machine and environment it starts from, gathered by
/// `LocalMachine` (or made up by a test).
public struct LaunchContext: Sendable {
    /// Cores this process may use, as OpenMPI counts them (cores, not hardware threads).
    public var localCores: Int
    public var isRoot: Bool
    /// The environment mpirun will start with (after `MPIEnvironmentDefaults` were applied).
    public var environment: [String: String]

    public init(localCores: Int, isRoot: Bool, environment: [String: String]) {
        self.localCores = localCores
        self.isRoot = isRoot
        self.environment = environment
    }

    /// TESSERA_MPIRUN_ARGS: the user's own mpirun flags, split on whitespace.
    var userArguments: [String] {
        (environment["TESSERA_MPIRUN_ARGS"] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            .map(String.init)
    }
}

/// The mpirun command line of a job, decided from the options, the hosts and the context: a pure
/// function, so every rule below is unit-tested without MPI.
public struct MPIRunCommand: Equatable, Sendable {
    public var arguments: [String]
    /// Ranks started: nil when mpirun fills every slot itself (hosts with unknown slot counts).
    public var ranks: Int?

    /// Variables of the launcher's own that are not forwarded to the ranks.
    static let launcherVariables: Set<String> = [
        "TESSERA_BIN", "TESSERA_SKIP_INSTALL", "TESSERA_SCRATCH_PATH", "TESSERA_MPIRUN_ARGS", "TESSERA_NETNS_DIR",
    ]

    /// - Parameters:
    ///   - hosts: the hostfile's or -H's hosts, already checked; nil for this machine alone.
    ///   - hostfile: the hostfile's absolute path, when hosts came from one.
    ///   - rshAgent: --rsh-agent, resolved to an absolute path where it named one.
    ///   - program: the executable every rank runs, by absolute path; `command` are its arguments.
    public init(options: LaunchOptions, hosts: HostSet?, hostfile: String?, rshAgent: String?,
                context: LaunchContext, program: String) throws(LaunchError) {
        let user = context.userArguments
        let userBinds = user.contains { $0 == "--bind-to" || $0 == "-bind-to" || $0.hasPrefix("--bind-to=") }
        let userOversubscribes = user.contains { $0 == "--oversubscribe" || $0 == "-oversubscribe" }
        let userKeepalive = user.contains { $0.hasPrefix("oob_tcp_keepalive_") }
            || context.environment.keys.contains { $0.hasPrefix("OMPI_MCA_oob_tcp_keepalive_") }
        let environmentOversubscribes = ["1", "true", "yes"].contains(context.environment["OMPI_MCA_rmaps_base_oversubscribe"] ?? "")
        let oversubscribeAllowed = options.oversubscribe || userOversubscribes || environmentOversubscribes

        var ranks = options.ranks
        var oversubscribed: Bool
        if let hosts {
            // Slots left to OpenMPI count as this machine's cores: a guess, so never a refusal.
            let known = hosts.knownSlots
            if ranks == nil, let known, known > 0 { ranks = known }
            if let n = ranks {
                if let most = hosts.maxSlots, n > most {
                    throw .input("-np \(n) exceeds the \(most) max_slots of \(hosts.source) (OpenMPI never oversubscribes past max_slots)")
                }
                if let known, n > known, !oversubscribeAllowed {
                    throw .input("-np \(n) exceeds the \(known) slots of \(hosts.source); give fewer ranks, more slots, or --oversubscribe")
                }
            }
            oversubscribed = ranks != nil && oversubscribeAllowed
        } else {
            let n = ranks ?? 1
            ranks = n
            oversubscribed = n > context.localCores || oversubscribeAllowed
        }
        self.ranks = ranks

        // --quiet drops mpirun's banner about non-zero exits, so bad input shows tessera's one line.
        var a = ["mpirun", "--quiet"]
        if context.isRoot { a.append("--allow-run-as-root") }
        if let ranks { a += ["-np", "\(ranks)"] }
        if let hostfile { a += ["--hostfile", hostfile] } else if let list = options.hostList { a += ["-H", list] }
        if oversubscribed && !userOversubscribes { a.append("--oversubscribe") }
        // Each rank also runs a gradient-communication thread; a waiting rank yields its core to compute.
        a += ["--mca", "mpi_yield_when_idle", "1"]
        if !userBinds { a += ["--bind-to", "none"] }
        if let rshAgent { a += ["--mca", "plm_rsh_agent", rshAgent] }
        if options.tcpOnly { a += ["--mca", "btl", "tcp,self"] }
        if !options.networks.isEmpty {
            let list = options.networks.joined(separator: ",")
            a += ["--mca", "btl_tcp_if_include", list, "--mca", "oob_tcp_if_include", list]
        }
        if hosts != nil, !userKeepalive, let keepalive = Self.keepalive(nodeTimeout: options.nodeTimeout ?? 30) {
            a += ["--mca", "oob_tcp_keepalive_time", "\(keepalive.idle)", "--mca", "oob_tcp_keepalive_intvl",
                  "\(keepalive.interval)", "--mca", "oob_tcp_keepalive_probes", "\(keepalive.probes)"]
        }
        // The environment tessera reads, on every node (a remote daemon starts with ssh's environment).
        for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE"] {
            if let value = context.environment[name] { a += ["-x", "\(name)=\(value)"] }
        }
        for name in context.environment.keys.sorted() where name.hasPrefix("TESSERA_") && !Self.launcherVariables.contains(name) {
            a += ["-x", name]
        }
        a += user
        a.append(program)
        a += options.command
        arguments = a
    }

    /// OpenMPI's daemon keepalives for a node silent for about `nodeTimeout` seconds: idle time
    /// before the first probe, then three probes; nil for 0 (OpenMPI's own defaults).
    static func keepalive(nodeTimeout: Int) -> (idle: Int, interval: Int, probes: Int)? {
        guard nodeTimeout > 0 else { return nil }
        let interval = (nodeTimeout + 5) / 6
        return (max(1, nodeTimeout - 3 * interval), interval, 3)
    }
}
