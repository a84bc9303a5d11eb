import Testing
@testable import Launch

@Suite struct HostsTests {
    func hostfile(_ text: String) throws(LaunchError) -> HostSet { try HostSet.parseHostfile(text, path: "/h") }

    func refusal(_ text: String) -> String? {
        do { _ = try hostfile(text); return nil } catch { return error.description }
    }

    @Test func hostfileLinesWithCommentsBlanksAndCarriageReturns() throws {
        let hosts = try hostfile("""
            # cluster
            node1 slots=4 max_slots=8\r
              node2   slots=2   # two GPUs' worth

            user@node3 max-slots=3
            fe80::1 cpu=1
            node5
            """)
        #expect(hosts.entries.map(\.name) == ["node1", "node2", "user@node3", "fe80::1", "node5"])
        #expect(hosts.entries.map(\.slots) == [4, 2, 3, 1, nil])
        #expect(hosts.entries.map(\.maxSlots) == [8, nil, 3, nil, nil])
        #expect(hosts.entries[2].address == "node3" && hosts.entries[2].origin == "hostfile /h line 5")
        #expect(hosts.knownSlots == nil && hosts.maxSlots == nil)
        let counted = try hostfile("a slots=2 max_slots=2\nb count=3 max_slots=5\n")
        #expect(counted.knownSlots == 5 && counted.maxSlots == 7 && counted.source == "hostfile /h")
    }

    @Test(arguments: [
        ("a slots=2\nb slotz=3\n", "line 2: unknown key \"slotz\": \"b slotz=3\""),
        ("a slots=x\n", "line 1: \"slots=x\" is not key=number"),
        ("a slots=\n", "\"slots=\" is not key=number"),
        ("a slots=12345678\n", "is not key=number (up to 7 digits)"),
        ("a slots=99999999999999999999\n", "line 1"),
        ("a slots=4 max_slots=2\n", "max_slots below slots"),
        ("-a slots=1\n", "bad host name"),
        ("a=b\n", "bad host name"),
        ("a;rm slots=1\n", "bad host name"),
        ("# nothing\n\n", "hostfile /h names no host"),
        ("", "names no host"),
        ("a slots=1=2\n", "is not key=number"),
    ])
    func badHostfileLinesAreNamedByNumber(_ text: String, _ expected: String) {
        let message = refusal(text)
        #expect(message?.contains(expected) == true, "\(String(describing: message))")
        #expect(message?.contains("\n") == false)
    }

    @Test func hostLists() throws {
        let hosts = try HostSet.parseList("h1:1,h2,user@h3:0002")
        #expect(hosts.entries.map(\.name) == ["h1", "h2", "user@h3"] && hosts.entries.map(\.slots) == [1, 1, 2])
        #expect(hosts.knownSlots == 4 && hosts.maxSlots == nil && hosts.source == "-H h1:1,h2,user@h3:0002")
    }

    @Test(arguments: [
        ("a:2,,b", "has an empty entry"), ("a,", "has an empty entry"), ("", "needs a host list"),
        ("a:0", "slots must be an integer from 1"), ("a:-1", "slots must be"), ("a:x", "slots must be"),
        ("a:99999999999999999999", "slots must be"), ("a:", "slots must be"), (":2", "'' is not a host name"),
        ("a b:2", "'a b' is not a host name"), ("a$(x):1", "is not a host name"), ("@a", "is not a host name"),
    ])
    func badHostListEntries(_ list: String, _ expected: String) {
        do {
            _ = try HostSet.parseList(list)
            Issue.record("accepted \(list)")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
        }
    }
}
