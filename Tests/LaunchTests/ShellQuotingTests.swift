import Foundation
import Testing
@testable import Launch

@Suite struct ShellQuotingTests {
    @Test func plainWordsStayAndOthersAreEscaped() {
        #expect(shellQuoted("/usr/bin/mpirun") == "/usr/bin/mpirun")
        #expect(shellQuoted("OMP_NUM_THREADS=1") == "OMP_NUM_THREADS=1")
        #expect(shellQuoted("tcp,self") == "tcp\\,self")
        #expect(shellQuoted("a b") == "a\\ b")
        #expect(shellQuoted("") == "''")
        #expect(shellQuoted("line\nbreak") == "'line\nbreak'")
        #expect(shellQuoted("it's\n") == "'it'\\''s\n'")
    }

    /// The shown line, read back by /bin/sh, gives the very same words.
    @Test func aShellReadsTheLineBackAsTheSameWords() throws {
        let words = ["mpirun", "-H", "h1:1,h2:2", "/tmp/a b/tessera", "$(touch /tmp/x)", "`id`", "a;b&c|d", "'\"",
                     "*", "~", "#x", "tab\there", "new\nline", "", "é ü", "\\", "!x", "{a,b}", "$HOME", "--set=x=\"1\""]
        let script = "for a in \"$@\"; do printf '%s\\0' \"$a\"; done"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "eval \"set -- $1\"; " + script, "sh", shellLine(words)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let back = data.split(separator: 0, omittingEmptySubsequences: false).dropLast()
            .map { String(decoding: $0, as: UTF8.self) }
        #expect(process.terminationStatus == 0)
        #expect(back == words)
    }
}
