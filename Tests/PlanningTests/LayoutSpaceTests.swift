import Config
import Planning
import Testing

/// The planner offers exactly the layouts the trainer accepts.
struct LayoutSpaceTests {
    @Test func babyGPTOnTwoRanksHasThirtyFourLayouts() {
        // dp 2: microbatches 1, 2, 3, 6 × fp32/bf16 × ZeRO 0/1 = 16; pp 2: microbatches 1, 2, 3, 4,
        // 6, 12 × two schedules = 12; tp 2: six microbatch counts.
        let layouts = LayoutSpace.validLayouts(of: Fixture.config, ranks: 2)
        #expect(layouts.count == 34)
        #expect(layouts.filter { $0.dp == 2 }.count == 16)
        #expect(layouts.filter { $0.pp == 2 }.count == 12)
        #expect(layouts.filter { $0.tp == 2 }.count == 6)
    }

    @Test func layoutsTheTrainerRefusesAreNotOffered() {
        var config = Fixture.config
        (config.model.nLayer, config.model.nHead, config.train.batchSize) = (2, 2, 6)
        let layouts = LayoutSpace.validLayouts(of: config, ranks: 8)
        #expect(!layouts.contains { $0.tp > 2 }, "tp must divide n_head = 2")
        #expect(!layouts.contains { $0.pp > 2 }, "pp must not exceed n_layer = 2")
        #expect(!layouts.contains { $0.dp == 8 || $0.dp == 4 }, "dp must divide batch_size = 6")
        #expect(layouts.allSatisfy { $0.tp * $0.pp * $0.dp == 8 })
        #expect(LayoutSpace.validLayouts(of: config, ranks: 0).isEmpty)
    }

    @Test func expertParallelDividesDataParallelAndExperts() {
        var config = Fixture.config
        (config.model.nExperts, config.train.batchSize) = (2, 8)
        let layouts = LayoutSpace.validLayouts(of: config, ranks: 4)
        #expect(layouts.contains { $0.ep == 2 })
        #expect(!layouts.contains { $0.ep == 4 }, "ep must divide n_experts = 2")
        #expect(layouts.allSatisfy { $0.dp % $0.ep == 0 })
    }

    @Test func printedOverridesRunTheLayout() throws {
        for layout in LayoutSpace.validLayouts(of: Fixture.config, ranks: 4) {
            let config = try TesseraConfig.parse(toml: "[train]\nbatch_size = 12\n", overrides: layout.overrides)
            #expect(try config.validateLayout(worldSize: 4) == layout.degrees)
            #expect(config.parallel.schedule == layout.schedule && config.precision.gradAllreduce == layout.wire)
            #expect((config.parallel.zero == 1) == layout.zero)
        }
    }
}
