import Planning
import Testing

/// Alpha-beta costs: the ring formulas, the least-squares fit and network specs.
struct CommunicationTests {
    let link = LinkCosts(uniform: AlphaBeta(alpha: 1e-6, beta: 1e-9))

    @Test func ringAllReduceMovesTwiceTheBufferTimesNMinusOneOverN() {
        #expect(link.seconds(.allReduce, bytes: 1e6, ranks: 1) == 0)
        let two = link.seconds(.allReduce, bytes: 1e6, ranks: 2), eight = link.seconds(.allReduce, bytes: 1e6, ranks: 8)
        #expect(abs(two - (2e-6 + 1e-3)) < 1e-12)
        #expect(abs(eight - (14e-6 + 1.75e-3)) < 1e-12)
        // Reduce-scatter plus all-gather is one all-reduce.
        let halves = link.seconds(.reduceScatter, bytes: 1e6, ranks: 8) + link.seconds(.allGather, bytes: 1e6, ranks: 8)
        #expect(abs(halves - eight) < 1e-12)
        #expect(abs(link.seconds(.p2p, bytes: 1e6, ranks: 2) - (1e-6 + 1e-3)) < 1e-12)
    }

    @Test func fitRecoversAlphaAndBeta() throws {
        let points = [1e3, 1e4, 1e5, 1e6, 1e7].map { bytes in (steps: 2.0, bytes: bytes, seconds: 2 * 3e-6 + bytes * 2e-10) }
        let fit = try #require(AlphaBeta.fit(points))
        #expect(abs(fit.alpha - 3e-6) < 1e-12)
        #expect(abs(fit.beta - 2e-10) < 1e-16)
    }

    @Test func fitPinsANegativeLatencyAtZero() throws {
        // Time falling below proportional at small sizes would give a negative alpha.
        let points = [(steps: 1.0, bytes: 1e3, seconds: 0.5e-6), (1.0, 1e6, 1e-3), (1.0, 1e7, 1e-2)]
        let fit = try #require(AlphaBeta.fit(points))
        #expect(fit.alpha == 0 && fit.beta > 0)
    }

    @Test func networkSpecsParse() throws {
        let link = try AlphaBeta(spec: "100gbps:2us")
        #expect(abs(link.alpha - 2e-6) < 1e-15 && abs(1 / link.beta - 12.5e9) < 1)
        #expect(abs(1 / (try AlphaBeta(spec: "10GB/s:500ns")).beta - 1e10) < 1)
        for bad in ["100gbps", "fast:2us", "100gbps:2", "-1gbps:2us", "100gbps:2us:3"] {
            #expect(throws: PlanError.self, "\(bad)") { try AlphaBeta(spec: bad) }
        }
    }

    @Test func benchCommCSVFitsEachCollective() throws {
        let rows = [1024, 65536, 4_194_304].flatMap { bytes in
            ["p2p,2,\(bytes),\(5 + Double(bytes) * 1e-4)", "allreduce,4,\(bytes),\(6 * 2 + Double(bytes) * 1.5 * 2e-4)"]
        }
        guard case .communication(let fits) = try RatesFile.parse(([RatesFile.commHeader] + rows).joined(separator: "\n"),
                                                                   path: "comm.csv") else { Issue.record("not read as comm"); return }
        let p2p = try #require(fits[.p2p]), allReduce = try #require(fits[.allReduce])
        #expect(abs(p2p.alpha - 5e-6) < 1e-9 && abs(p2p.beta - 1e-10) < 1e-14)
        #expect(abs(allReduce.alpha - 2e-6) < 1e-9 && abs(allReduce.beta - 2e-10) < 1e-14)
        #expect(throws: PlanError.self) { try RatesFile.parse("collective,ranks,bytes,time_us\nring,2,1,1\n", path: "x") }
        #expect(throws: PlanError.self) { try RatesFile.parse("a,b\n1,2\n", path: "x") }
    }

    /// bench step's rows come back with the tensor-parallel sgemm rates of their last field.
    @Test func stepRatesRoundTrip() throws {
        let row = "4,256,17.3,29.7,1.7,48.7,27.3,0.822,1.2,34.2,1000,800,"
        let text = [RatesFile.stepHeader, row + RatesFile.narrowRatesField([2: 14.1e9, 4: 8.3e9]), row].joined(separator: "\n")
        guard case .steps(let steps) = try RatesFile.parse(text, path: "x") else { Issue.record("not steps"); return }
        let narrow = steps[0].narrowGemmFlopsPerSecond
        #expect(narrow.keys.sorted() == [2, 4] && abs(narrow[2]! - 14.1e9) < 1 && abs(narrow[4]! - 8.3e9) < 1)
        #expect(steps[1].narrowGemmFlopsPerSecond.isEmpty)
        #expect(abs(steps[0].gemmFlopsPerSecond - 34.2e9) < 1 && steps[0].tokens == 256)
        for bad in ["2:x", "1:5.0", "2-5.0", "2:inf"] {
            #expect(throws: PlanError.self) { try RatesFile.parse(RatesFile.stepHeader + "\n" + row + bad, path: "x") }
        }
    }

    /// Counts a rates file gives become integers only when they fit: before, 1e300 tokens or an
    /// infinite parameter count trapped the conversion (SIGILL), and 2^63 ranks overflowed.
    @Test(arguments: ["4,1e300,17.3,29.7,1.7,48.7,27.3,0.822,1.2,34.2,1000,800,",
                      "4,256,17.3,29.7,1.7,48.7,27.3,0.822,1.2,34.2,1000,inf,",
                      "4,256,nan,29.7,1.7,48.7,27.3,0.822,1.2,34.2,1000,800,"])
    func hostileStepRowsAreRefused(_ row: String) {
        #expect(throws: PlanError.self) { try RatesFile.parse(RatesFile.stepHeader + "\n" + row, path: "x") }
    }

    @Test(arguments: ["allreduce,9223372036854775807,1024,5", "allreduce,4,inf,5", "p2p,2,1024,-1"])
    func hostileCommunicationRowsAreRefused(_ row: String) {
        #expect(throws: PlanError.self) { try RatesFile.parse(RatesFile.commHeader + "\n" + row, path: "x") }
    }
}
