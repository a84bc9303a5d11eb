import Foundation
import Testing

/// `tessera plan` lists valid layouts ranked by predicted tokens/s, and refuses bad input with exit 2.
@Suite(.serialized)
struct PlanTests {
    static let config = packageRoot.appendingPathComponent("configs/shakespeare-char.toml").path
    static let data = "data.path=" + packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path

    static func plan(_ arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
        runCommand([Tessera.executable.path, "plan", "--config", config, "--set", data] + arguments, timeout: 120)
    }

    /// (layout label, predicted tokens/s) of every printed row.
    static func rows(_ stdout: String) -> [(layout: String, tokensPerSecond: Double)] {
        stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count == 16, Int(fields[0]) != nil, let rate = Double(fields[10]) else { return nil }
            return (fields[1...8].joined(separator: " "), rate)
        }
    }

    @Test func listsValidLayoutsSortedByPredictedThroughput() throws {
        let dir = Tessera.temporaryDirectory("plan")
        let csv = dir.appendingPathComponent("plan.csv").path
        // n_head 2: tp 4 would not divide it, so no layout may use it.
        let run = Self.plan(["--ranks", "4", "--set", "model.n_head=2", "--top", "100", "--csv", csv])
        #expect(run.status == 0, "\(run.stderr)")
        let rows = Self.rows(run.stdout)
        let ranked = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.count > 10 && rows.count == ranked.count, "\(run.stdout)")
        #expect(run.stdout.contains("\(rows.count) valid layouts"))
        for row in rows {
            let degrees = row.layout.split(separator: " ").prefix(3).map { Int($0.drop { !$0.isNumber })! }
            #expect(degrees.reduce(1, *) == 4, "dp · tp · pp of \(row.layout)")
            #expect(degrees[1] <= 2, "tp must divide n_head = 2: \(row.layout)")
        }
        #expect(zip(rows, rows.dropFirst()).allSatisfy { $0.tokensPerSecond >= $1.tokensPerSecond }, "\(run.stdout)")
        // The flags printed for the best layout run it.
        let best = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("best: ") })
        let label = try #require(rows.first?.layout).split(separator: " ")
        #expect(best.contains("parallel.tp=\(label[1].dropFirst(2))") && best.contains("parallel.pp=\(label[2].dropFirst(2))"))
        #expect(best.contains("parallel.microbatches=\(label[4].dropFirst(1))"))
    }

    @Test(arguments: [
        (["--ranks", "0"], "--ranks"),
        (["--ranks", "7"], "no valid layout"),
        (["--ranks", "2", "--network", "fast"], "--network"),
        (["--ranks", "2", "--memory-limit", "0.0001"], "no layout fits"),
        (["--ranks", "2", "--rates", "/nonexistent/rates.csv"], "/nonexistent/rates.csv"),
        (["--ranks", "2", "--set", "model.n_layr=2"], "model.n_layr"),
    ])
    func badInputExitsTwoWithOneErrorLine(arguments: [String], mentions: String) {
        let run = Self.plan(arguments)
        let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(run.status == 2, "exit \(run.status): \(run.stderr)")
        #expect(errors.count == 1 && errors[0].contains(mentions), "\(run.stderr)")
    }
}
