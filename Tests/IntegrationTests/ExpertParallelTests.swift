import Foundation
import Testing

/// Mixture of experts on every layout against one rank: routing, dropping and the balancing loss
/// are per sequence, so the loss curve, the dropped fraction and the expert loads are the same
/// whatever the data, expert, tensor or pipeline split.
@Suite(.serialized)
struct ExpertParallelTests {
    static let experts = ["model.n_experts=4", "model.top_k=2"]

    struct Layout: CustomTestStringConvertible, Sendable {
        let ranks: Int
        let overrides: [String]
        var testDescription: String { "\(ranks) ranks: " + overrides.joined(separator: " ") }
    }

    static let layouts = [
        Layout(ranks: 2, overrides: []),                                      // dp 2, ep 1
        Layout(ranks: 2, overrides: ["parallel.ep=2"]),
        Layout(ranks: 4, overrides: ["parallel.ep=4"]),
        Layout(ranks: 4, overrides: ["parallel.tp=2", "parallel.ep=2"]),
        Layout(ranks: 4, overrides: ["parallel.pp=2", "parallel.ep=2", "parallel.microbatches=2"]),
    ]

    /// capacity_factor 2 = n_experts / top_k: every pick fits, nothing is dropped.
    @Test(arguments: layouts)
    func withoutDropsTheCurveIsTheSingleRankOne(_ layout: Layout) {
        let settings = Self.experts + ["model.capacity_factor=2.0"]
        let reference = Tessera.train(np: 1, overrides: settings, label: "moe-ref")
        #expect(reference.rows(key: "dropped_fraction").values.allSatisfy { $0 == 0 })
        let run = Tessera.train(np: layout.ranks, overrides: settings + layout.overrides, label: "moe")
        expectSameCurve(run, as: reference, tolerance: 3e-4)
    }

    /// capacity_factor 1: picks are dropped, identically on every layout.
    @Test(arguments: layouts)
    func withDropsTheCurveAndTheDroppedFractionAreTheSingleRankOnes(_ layout: Layout) {
        let settings = Self.experts + ["model.capacity_factor=1.0"]
        let reference = Tessera.train(np: 1, overrides: settings, label: "moe-drop-ref")
        let dropped = reference.rows(key: "dropped_fraction")
        #expect(dropped.values.contains { $0 > 0 }, "capacity 1.0 must drop picks: \(dropped)")
        let run = Tessera.train(np: layout.ranks, overrides: settings + layout.overrides, label: "moe-drop")
        expectSameCurve(run, as: reference, tolerance: 3e-4)
        for key in ["dropped_fraction", "expert_load_min", "expert_load_max"] {
            #expect(run.rows(key: key) == reference.rows(key: key), "\(key) differs from one rank")
        }
        let aux = run.rows(key: "aux_loss"), expected = reference.rows(key: "aux_loss")
        #expect(aux.count == 12 && aux.allSatisfy { abs($0.value - expected[$0.key]!) <= 1e-4 * expected[$0.key]! })
    }

    /// One step's gradients with experts split over two ranks, gathered, against one rank's.
    @Test(arguments: [
        Layout(ranks: 2, overrides: ["parallel.ep=2"]),
        Layout(ranks: 4, overrides: ["parallel.ep=2", "parallel.tp=2"]),
    ])
    func expertGradientsMatchOneRank(_ layout: Layout) throws {
        let config = Tessera.temporaryDirectory("moe-grad").appendingPathComponent("empty.toml")
        try Data().write(to: config)
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        let result = runMPI(np: layout.ranks, executable: builtExecutable(named: "tessera-layout-check"),
                            arguments: [config.path, "data.path=\(data)", "model.capacity_factor=1.0"]
                                + Tessera.tinyModel + Self.experts + layout.overrides,
                            timeout: 120)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let error = result.stdout.split(separator: "\n").first { $0.hasPrefix("layout-check:") }
            .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        #expect(error != nil && error! <= 1e-5, "\(result.stdout)")
    }
}
