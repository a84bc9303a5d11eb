import Testing

/// The determinism rule across layouts: the same config on any number of data-parallel ranks
/// gives the single-rank loss curve, up to floating-point summation order.
@Suite(.serialized)
struct DataParallelTests {
    @Test func twoAndFourRanksReproduceTheSingleRankLossCurve() {
        let single = Tessera.train(np: 1, label: "dp1")
        #expect(single.status == 0, "single rank failed: \(single.stderr)")
        // The curve must move, or equality would prove nothing.
        let first = single.losses[1] ?? 0, last = single.losses[12] ?? 0
        #expect(first - last > 0.3, "loss went \(first) → \(last)")
        expectSameCurve(Tessera.train(np: 2, label: "dp2"), as: single)
        expectSameCurve(Tessera.train(np: 4, label: "dp4"), as: single)
    }

    @Test func microbatchesAccumulateToTheSameCurve() {
        let single = Tessera.train(np: 1, label: "mb1")
        expectSameCurve(Tessera.train(np: 2, overrides: ["parallel.microbatches=2"], label: "mb2"), as: single)
    }

    @Test func dropoutIsIndependentOfTheLayout() {
        let single = Tessera.train(np: 1, overrides: ["model.dropout=0.1"], label: "drop1")
        let reference = Tessera.train(np: 1, label: "drop0")
        // Dropout must change the curve (it is really applied) ...
        #expect(single.losses[12] != reference.losses[12])
        // ... and yet not depend on how the batch is split.
        expectSameCurve(Tessera.train(np: 2, overrides: ["model.dropout=0.1"], label: "drop2"), as: single)
    }
}
