import Config
import Parallel
import Testing

/// The rank arithmetic of the dp × pp × tp grid, checked against the worked example in Layout's
/// documentation and against its own inverse.
struct LayoutTests {
    static func degrees(world: Int, tp: Int, pp: Int, ep: Int = 1, experts: Int = 0) throws -> ParallelDegrees {
        var config = TesseraConfig()
        config.parallel.tp = tp
        config.parallel.pp = pp
        config.parallel.ep = ep
        config.model.nExperts = experts
        config.train.batchSize = 8
        return try config.validateLayout(worldSize: world)
    }

    @Test func eightRanksMatchTheWorkedExample() throws {
        let d = try Self.degrees(world: 8, tp: 2, pp: 2)
        #expect(d.dp == 2)
        // rank → (pp, dp, tp), tp fastest, then dp, then pp.
        let expected = [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]
        for (rank, coordinates) in expected.enumerated() {
            let layout = Layout(degrees: d, rank: rank)
            #expect((layout.ppIndex, layout.dpIndex, layout.tpIndex) == coordinates, "rank \(rank)")
            #expect(layout.rank(pp: coordinates.0, dp: coordinates.1, tp: coordinates.2) == rank)
        }
        // The groups of the example: ranks sharing every coordinate but one.
        func group(of rank: Int, varying: KeyPath<Layout, Int>) -> [Int] {
            let me = Layout(degrees: d, rank: rank)
            return (0..<8).filter { other in
                let them = Layout(degrees: d, rank: other)
                return [\Layout.ppIndex, \Layout.dpIndex, \Layout.tpIndex]
                    .filter { $0 != varying }.allSatisfy { them[keyPath: $0] == me[keyPath: $0] }
            }
        }
        #expect(group(of: 2, varying: \.tpIndex) == [2, 3])
        #expect(group(of: 1, varying: \.dpIndex) == [1, 3])
        #expect(group(of: 6, varying: \.ppIndex) == [2, 6])
        #expect(Layout(degrees: d, rank: 0).isFirstStage && Layout(degrees: d, rank: 7).isLastStage)
    }

    @Test func replicasSplitTheGlobalBatchIntoContiguousSlices() throws {
        let d = try Self.degrees(world: 4, tp: 1, pp: 1)
        let slices = (0..<4).map { Layout(degrees: d, rank: $0).replicaSequences }
        #expect(slices == [0..<2, 2..<4, 4..<6, 6..<8])
    }

    @Test func expertGroupsAreCarvedOutOfDataParallelism() throws {
        let d = try Self.degrees(world: 4, tp: 1, pp: 1, ep: 2, experts: 4)
        let layouts = (0..<4).map { Layout(degrees: d, rank: $0) }
        #expect(layouts.map(\.epIndex) == [0, 1, 0, 1])
        #expect(layouts.map(\.epGroupIndex) == [0, 0, 1, 1])
    }

    @Test(arguments: [(12, 4), (7, 3), (4, 4), (5, 2), (2, 1)])
    func stagesTakeLayersAsEvenlyAsPossible(layers: Int, stages: Int) {
        let ranges = (0..<stages).map { Layout.stageLayers(stage: $0, stages: stages, layers: layers) }
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == layers)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        let sizes = ranges.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1 && sizes.min()! >= 1, "\(sizes)")
        #expect(sizes == sizes.sorted(by: >), "earlier stages take the remainder: \(sizes)")
    }
}
