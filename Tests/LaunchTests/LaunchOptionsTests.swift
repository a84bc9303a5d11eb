import Testing
@testable import Launch

@Suite struct LaunchOptionsTests {
    func parse(_ arguments: String...) throws -> LaunchOptions { try LaunchOptions.parse(arguments) }

    func error(_ arguments: String...) -> LaunchError? {
        do { _ = try LaunchOptions.parse(arguments); return nil } catch { return error }
    }

    @Test func optionsEndAtTheSubcommandWhoseArgumentsPassUntouched() throws {
        let options = try parse("-np", "4", "--restarts", "2", "train", "--config", "a b.toml", "-np", "9", "--")
        #expect(options.ranks == 4 && options.restarts == 2)
        #expect(options.command == ["train", "--config", "a b.toml", "-np", "9", "--"])
    }

    @Test func everySpellingOfAnOptionWithItsValue() throws {
        for spelling in [["-np", "3"], ["-n", "3"], ["--np", "3"], ["-np=3"], ["--np=3"], ["-np", "0003"]] {
            #expect(try LaunchOptions.parse(spelling + ["sample"]).ranks == 3, "\(spelling)")
        }
        for spelling in [["--hostfile", "h"], ["-hostfile", "h"], ["--machinefile", "h"], ["--hostfile=h"]] {
            #expect(try LaunchOptions.parse(spelling + ["train"]).hostfile == "h", "\(spelling)")
        }
        for spelling in [["-H", "a:2"], ["--host", "a:2"], ["-host", "a:2"], ["--host=a:2"]] {
            #expect(try LaunchOptions.parse(spelling + ["train"]).hostList == "a:2", "\(spelling)")
        }
        let all = try parse("--net=10.0.0.0/24,eth0", "--tcp-only", "--rsh-agent", "ssh -q", "--oversubscribe",
                            "--node-timeout", "0", "--restart-delay=5", "--program", "/bin/sh", "--", "-c", "true")
        #expect(all.networks == ["10.0.0.0/24", "eth0"] && all.tcpOnly && all.rshAgent == "ssh -q" && all.oversubscribe)
        #expect(all.nodeTimeout == 0 && all.restartDelay == 5 && all.program == "/bin/sh" && all.command == ["-c", "true"])
    }

    /// -np 0, -1, empty, words, a 20-digit number that would wrap 64 bits: one usage error naming -np.
    @Test(arguments: ["0", "-1", "", "two", "1.5", "99999999999999999999", "1000001", "12345678", " 2"])
    func aRankCountOutsideOneToAMillionIsRefused(_ value: String) {
        let refused = error("-np", value, "train")
        #expect(refused == .usage("-np must be an integer from 1 to 1000000, got '\(value)'"))
        #expect(refused?.description.hasSuffix("(see launch/tessera-run --help)") == true)
    }

    @Test func countsOfTheOtherOptions() {
        #expect(error("--restarts", "-1", "train") == .usage("--restarts must be an integer from 0 to 1000000, got '-1'"))
        #expect(error("--restarts=99999999999999999999", "train")?.description.contains("--restarts") == true)
        #expect(error("--node-timeout", "1e3", "train")?.description.contains("--node-timeout") == true)
        #expect(error("--restart-delay", "x", "train")?.description.contains("--restart-delay") == true)
        #expect((try? parse("--restarts", "0000000000000000000007", "train").restarts) == 7)
    }

    @Test func commandLineMistakes() {
        #expect(error("-np", "2") == .usage("no tessera subcommand given (e.g. launch/tessera-run -np 2 train --config FILE)"))
        #expect(error("train", "--config") == nil)  // a subcommand's options are its own business
        #expect(error("-np") == .usage("-np needs a value"))
        #expect(error("--hostfile") == .usage("--hostfile needs a value"))
        #expect(error("--tcp-only=yes", "train") == .usage("--tcp-only takes no value"))
        #expect(error("--hostfile", "h", "-H", "a", "train") == .usage("give either --hostfile or -H, not both"))
        #expect(error("--bind-to", "core", "train")?.description.contains("unknown option '--bind-to'") == true)
    }

    @Test func helpStopsParsing() throws {
        #expect(try parse("-np", "2", "--help").help)
        #expect(try parse("-h").help)
        // After the subcommand, --help is the subcommand's.
        #expect(try !parse("train", "--help").help)
    }

    @Test(arguments: [
        ("10.0.0.0/24", nil), ("10.0.0.0/24,192.168.1.0/16", nil), ("eth0", nil), ("br-1a.2@x", nil),
        ("10.0.0.256/24", "an octet above 255"), ("10.0.0.0/33", "prefix length above 32"),
        ("10.0.0/24", "neither a network"), ("0eth", "neither a network"), ("", "needs a network"),
        ("eth0,", "needs a network"), ("a b", "neither a network"),
    ] as [(String, String?)])
    func networksAreCIDRBlocksOrInterfaceNames(_ net: String, _ problem: String?) {
        let refused = error("--net", net, "train")
        if let problem {
            #expect(refused?.description.contains(problem) == true, "\(net): \(String(describing: refused))")
        } else {
            #expect(refused == nil, "\(net): \(String(describing: refused))")
        }
    }
}
