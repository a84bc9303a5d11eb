import Testing
@testable import Launch

@Suite struct MPIRunCommandTests {
    let plain = LaunchContext(localCores: 2, isRoot: false,
                              environment: ["OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/bin"])

    func command(_ arguments: [String], hosts: HostSet? = nil, hostfile: String? = nil, agent: String? = nil,
                 context: LaunchContext? = nil) throws -> MPIRunCommand {
        try MPIRunCommand(options: LaunchOptions.parse(arguments), hosts: hosts, hostfile: hostfile, rshAgent: agent,
                          context: context ?? plain, program: "/opt/t/tessera")
    }

    /// The whole command line for one rank on this machine, in order.
    @Test func oneRankHere() throws {
        #expect(try command(["train", "--config", "c.toml"]).arguments == [
            "mpirun", "--quiet", "-np", "1", "--mca", "mpi_yield_when_idle", "1", "--bind-to", "none",
            "-x", "OPENBLAS_NUM_THREADS=1", "-x", "OMP_NUM_THREADS=1", "/opt/t/tessera", "train", "--config", "c.toml",
        ])
    }

    @Test func rootAndOversubscriptionBeyondTheLocalCores() throws {
        var root = plain
        root.isRoot = true
        let three = try command(["-np", "3", "train"], context: root).arguments
        #expect(three.starts(with: ["mpirun", "--quiet", "--allow-run-as-root", "-np", "3", "--oversubscribe"]))
        #expect(try !command(["-np", "2", "train"]).arguments.contains("--oversubscribe"))
        #expect(try command(["-np", "2", "--oversubscribe", "train"]).arguments.contains("--oversubscribe"))
        var environment = plain
        environment.environment["OMPI_MCA_rmaps_base_oversubscribe"] = "true"
        #expect(try command(["train"], context: environment).arguments.contains("--oversubscribe"))
    }

    @Test func ranksAgainstTheSlotsOfTheHosts() throws {
        let list = try HostSet.parseList("a:2,b:2")
        let all = try command(["-H", "a:2,b:2", "train"], hosts: list)
        #expect(all.ranks == 4 && all.arguments.contains("-H") && !all.arguments.contains("--oversubscribe"))
        #expect(throws: LaunchError.input("-np 5 exceeds the 4 slots of -H a:2,b:2; give fewer ranks, more slots, or --oversubscribe")) {
            try command(["-np", "5", "-H", "a:2,b:2", "train"], hosts: list)
        }
        #expect(try command(["-np", "5", "--oversubscribe", "-H", "a:2,b:2", "train"], hosts: list).arguments.contains("--oversubscribe"))
        let capped = try HostSet.parseHostfile("a slots=2 max_slots=3\nb slots=1 max_slots=1\n", path: "/h")
        #expect(throws: LaunchError.input("-np 5 exceeds the 4 max_slots of hostfile /h (OpenMPI never oversubscribes past max_slots)")) {
            try command(["-np", "5", "--oversubscribe", "--hostfile", "/h", "train"], hosts: capped, hostfile: "/h")
        }
        // Slots left to OpenMPI: no -np unless given, and no refusal (the count is the far host's).
        let open = try HostSet.parseHostfile("a\nb slots=1\n", path: "/h")
        let unknown = try command(["--hostfile", "/h", "train"], hosts: open, hostfile: "/h")
        #expect(unknown.ranks == nil && !unknown.arguments.contains("-np"))
        #expect(unknown.arguments.contains("--hostfile") && unknown.arguments.contains("/h"))
        #expect(try command(["-np", "64", "--hostfile", "/h", "train"], hosts: open, hostfile: "/h").ranks == 64)
    }

    @Test func networkOptionsAndNodeTimeout() throws {
        let hosts = try HostSet.parseList("a,b")
        let a = try command(["-H", "a,b", "--net", "10.0.0.0/24", "--tcp-only", "train"], hosts: hosts,
                            agent: "/x/netns-agent -v").arguments
        for expected in [["--mca", "plm_rsh_agent", "/x/netns-agent -v"], ["--mca", "btl", "tcp,self"],
                         ["--mca", "btl_tcp_if_include", "10.0.0.0/24"], ["--mca", "oob_tcp_if_include", "10.0.0.0/24"],
                         ["--mca", "oob_tcp_keepalive_time", "15", "--mca", "oob_tcp_keepalive_intvl", "5",
                          "--mca", "oob_tcp_keepalive_probes", "3"]] {
            #expect(a.contains(expected), "\(expected) in \(a)")
        }
        #expect(MPIRunCommand.keepalive(nodeTimeout: 1)! == (1, 1, 3))
        #expect(MPIRunCommand.keepalive(nodeTimeout: 600)! == (300, 100, 3))
        #expect(MPIRunCommand.keepalive(nodeTimeout: 0) == nil)
        #expect(try !command(["-H", "a,b", "--node-timeout", "0", "train"], hosts: hosts).arguments.contains("oob_tcp_keepalive_time"))
        // One machine: no keepalives.
        #expect(try !command(["train"]).arguments.contains("oob_tcp_keepalive_time"))
        var own = plain
        own.environment["OMPI_MCA_oob_tcp_keepalive_time"] = "9"
        #expect(try !command(["-H", "a,b", "train"], hosts: hosts, context: own).arguments.contains("oob_tcp_keepalive_time"))
    }

    @Test func theUsersFlagsComeLastAndReplaceTheDefaultsTheyCover() throws {
        var context = plain
        context.environment["TESSERA_MPIRUN_ARGS"] = "  --bind-to core\t--oversubscribe --mca btl_tcp_links 2 "
        let a = try command(["-np", "4", "train"], context: context).arguments
        #expect(!a.contains("none") && a.filter { $0 == "--oversubscribe" }.count == 1)
        #expect(Array(a.suffix(9)) == ["--bind-to", "core", "--oversubscribe", "--mca", "btl_tcp_links", "2",
                                      "/opt/t/tessera", "train"].suffix(9) || a.contains("btl_tcp_links"))
        #expect(a.firstIndex(of: "btl_tcp_links")! < a.firstIndex(of: "/opt/t/tessera")!)
    }

    @Test func tesseraVariablesAreForwardedButNotTheLaunchersOwn() throws {
        var context = plain
        context.environment.merge(["TESSERA_WATCHDOG_SECONDS": "5", "TESSERA_BIN": "/b", "TESSERA_SKIP_INSTALL": "1",
                                   "TESSERA_A": "x", "OPENBLAS_CORETYPE": "Haswell", "TESSERA_NETNS_DIR": "/n"]) { $1 }
        let a = try command(["train"], context: context).arguments
        let forwarded = a.indices.filter { a[$0] == "-x" }.map { a[$0 + 1] }
        #expect(forwarded == ["OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "OPENBLAS_CORETYPE=Haswell",
                              "TESSERA_A", "TESSERA_WATCHDOG_SECONDS"])
    }

    /// Paths with spaces and shell metacharacters stay single arguments: mpirun gets an argument
    /// vector, never a shell line.
    @Test func argumentsWithSpacesAndMetacharactersStayWhole() throws {
        let odd = "/tmp/a b/$(touch x);'\"*.toml"
        let c = try MPIRunCommand(options: LaunchOptions.parse(["train", "--config", odd]), hosts: nil,
                                  hostfile: "/h f/hosts", rshAgent: nil, context: plain, program: "/o p/tessera")
        #expect(c.arguments.suffix(4) == ["/o p/tessera", "train", "--config", odd])
    }
}
