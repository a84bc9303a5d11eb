import Config
import Model
import Parallel
@testable import Planning
import Testing

/// The cost model's parts against their closed forms.
struct CostModelTests {
    func model(ranks: Int, cores: Int, perParameter: Double = 0, link: AlphaBeta = AlphaBeta(alpha: 0, beta: 0)) -> CostModel {
        CostModel(dims: Fixture.dims, batchSize: 12, rates: Fixture.rates(perParameter: perParameter),
                  cluster: Fixture.cluster(ranks: ranks, cores: cores, link: link))
    }

    @Test(arguments: [(2, 1), (2, 3), (4, 1), (4, 3), (4, 12)])
    func bubbleIsPipelineStagesMinusOneOverMicrobatchesPlusStagesMinusOne(pp: Int, m: Int) throws {
        // Free links, a free optimizer and a core per rank: the step is the pipeline alone, and
        // the slowest stage idles for all but its m microbatches' forward and backward.
        let layout = try Fixture.layout(ranks: pp, pp: pp, microbatches: m)
        let costs = model(ranks: pp, cores: pp)
        let p = costs.predict(layout)
        let slowest = (0..<pp).map { costs.computeSeconds(StageWork(dims: Fixture.dims, layout: layout, stage: $0), layout) }.max()!
        let bubble = Double(pp - 1) / Double(m + pp - 1)
        #expect(abs(1 - Double(m) * slowest / p.stepSeconds - bubble) < 1e-12)
        #expect(abs(p.bubbleShare - bubble) < 1e-12)
        #expect(p.communicationShare == 0)
    }

    @Test func tensorParallelCommunicationScalesWithTheMicrobatchAndLayers() throws {
        let costs = model(ranks: 2, cores: 2, link: AlphaBeta(alpha: 0, beta: 1))
        func communication(microbatches: Int) throws -> Double {
            let layout = try Fixture.layout(ranks: 2, tp: 2, microbatches: microbatches)
            return costs.layerCommunication(StageWork(dims: Fixture.dims, layout: layout, stage: 0), layout, costs.cluster)
        }
        // (4 per block + 2 for the embedding) all-reduces of B·T·C floats, each moving half the
        // buffer over 2 ranks, plus the head's (B·T) and (2, B·T) row statistics.
        let B = 12, T = 64, C = 128
        #expect(try communication(microbatches: 1) == Double((4 * 4 + 2) * B * T * C * 4 + 3 * B * T * 4))
        #expect(try communication(microbatches: 1) == 2 * communication(microbatches: 2))
    }

    /// tp 2's products run at their own measured rate; a degree not measured takes the nearest
    /// measured one below it.
    @Test func tensorParallelProductsRunAtTheirOwnRate() throws {
        let whole = model(ranks: 4, cores: 4)
        let narrow = CostModel(dims: Fixture.dims, batchSize: 12, rates: Fixture.rates(narrow: [2: 0.25e11]),
                               cluster: Fixture.cluster(ranks: 4, cores: 4, link: AlphaBeta(alpha: 0, beta: 0)))
        for tp in [2, 4] {
            let layout = try Fixture.layout(ranks: 4, tp: tp)
            let stage = StageWork(dims: Fixture.dims, layout: layout, stage: 0)
            let slower = narrow.computeSeconds(stage, layout) - whole.computeSeconds(stage, layout)
            #expect(abs(slower - 3 * stage.forwardGemmFlops * (1 / 0.25e11 - 1 / 1e11)) < 1e-12, "tp \(tp)")
        }
        let single = try Fixture.layout(ranks: 4)
        let stage = StageWork(dims: Fixture.dims, layout: single, stage: 0)
        #expect(narrow.computeSeconds(stage, single) == whole.computeSeconds(stage, single))
    }

    /// One expert taking every token costs a block the dense MLP's products and the router's,
    /// whatever the MLP part: SwiGLU's first linear has 2H rows, GELU's H.
    @Test(arguments: [nil, DecoderParts(norm: .rmsNorm, normEps: 1e-5, position: .rotary(theta: 10_000), kvHeads: 2,
                                        mlp: .swiglu, ffnHidden: 344, bias: false, tiedEmbeddings: false)],
          [1, 2])
    func oneExpertCostsTheDenseMLPAndTheRouter(parts: DecoderParts?, tp: Int) {
        let (L, C, T, B) = (2, 128, 64, 3)
        let dense = GPTDimensions(nLayer: L, nHead: 4, nEmbd: C, blockSize: T, vocabSize: 65, parts: parts)
        let moe = GPTDimensions(nLayer: L, nHead: 4, nEmbd: C, blockSize: T, vocabSize: 65,
                                experts: ExpertSettings(count: 1, topK: 1, capacityFactor: 1, auxLossCoefficient: 0),
                                parts: parts)
        let partition = GPTPartition(layers: 0..<L, hasEmbedding: true, hasHead: true, tpSize: tp)
        let router = Double(L) * 2 * Double(B * T * C)
        let difference = moe.forwardGemmFlops(partition: partition, B: B) - dense.forwardGemmFlops(partition: partition, B: B)
        #expect(abs(difference - router) <= 1e-12 * router, "\(difference) vs the router's \(router)")
    }

    @Test func dataParallelGradientBytesHalveWithSixteenBitWire() throws {
        let costs = model(ranks: 4, cores: 4, link: AlphaBeta(alpha: 0, beta: 1))
        func sync(_ wire: WireType) throws -> Double {
            let layout = try Fixture.layout(ranks: 4, wire: wire)
            return costs.gradientSync(StageWork(dims: Fixture.dims, layout: layout, stage: 0), layout, costs.cluster).busy
        }
        #expect(try sync(.bf16) == sync(.fp32) / 2)
    }

    @Test func zeroOneDividesOptimizerStateByDataParallelRanks() throws {
        let costs = model(ranks: 4, cores: 4)
        let plain = costs.predict(try Fixture.layout(ranks: 4)), sharded = costs.predict(try Fixture.layout(ranks: 4, zero: true))
        let parameters = Double(Fixture.dims.parameterSpecs().reduce(0) { $0 + $1.globalCount })
        // AdamW keeps two fp32 moments per parameter it updates: all of them, or a quarter.
        #expect(abs((plain.memoryBytes - sharded.memoryBytes) - 2 * 4 * parameters * 3 / 4) < 1)
    }

    @Test func activationMemoryFollowsTheSchedule() throws {
        let costs = model(ranks: 2, cores: 2)
        let oneFOneB = costs.predict(try Fixture.layout(ranks: 2, pp: 2, microbatches: 6))
        let gpipe = costs.predict(try Fixture.layout(ranks: 2, pp: 2, microbatches: 6, schedule: .gpipe))
        // GPipe keeps all 6 microbatches on a stage, 1F1B at most 2.
        #expect(gpipe.memoryBytes > oneFOneB.memoryBytes)
        #expect(gpipe.stepSeconds == oneFOneB.stepSeconds)
    }

    /// bf16 compute: the model's own bf16 activation sizes, plus the weights' bf16 copy and the
    /// fp32 working copies of the saved tensors.
    @Test func bf16ComputeHoldsItsActivationsAndAWeightCopy() throws {
        let layout = try Fixture.layout(ranks: 2, pp: 2, microbatches: 2)
        let fp32 = model(ranks: 2, cores: 2)
        let bf16 = CostModel(dims: Fixture.dims, batchSize: 12, rates: fp32.rates, cluster: fp32.cluster, compute: .bf16)
        let slots = [0, 1].map { PipelinePlan(schedule: layout.schedule, stage: $0, stages: 2, microbatches: 2).activationSlots }
        for stage in 0..<2 {
            let (f, b) = (StageWork(dims: Fixture.dims, layout: layout, stage: stage),
                          StageWork(dims: Fixture.dims, layout: layout, stage: stage, compute: .bf16))
            #expect(b.activationFloats < f.activationFloats)
            let saved = 4 * Double(slots[stage] * (f.activationFloats - b.activationFloats))
            let copy = 2 * Double(f.denseParameters + f.expertParameters)
            let working = 4 * Double(b.workspaceFloats - f.workspaceFloats)
            #expect(working > 0)
            #expect(fp32.memoryBytes(layout, f, stage: stage) - bf16.memoryBytes(layout, b, stage: stage)
                    == saved - copy - working)
        }
    }

    @Test func ranksBeyondCoresTimeShare() throws {
        let layout = try Fixture.layout(ranks: 4)
        let own = model(ranks: 4, cores: 4).predict(layout), shared = model(ranks: 4, cores: 2).predict(layout)
        #expect(abs(shared.stepSeconds - 2 * own.stepSeconds) < 1e-12)
        // A pipeline's idle stages leave their cores to the others: one microbatch over four
        // stages keeps one stage busy at a time, so two cores are as good as four.
        let pipeline = try Fixture.layout(ranks: 4, pp: 4)
        #expect(abs(model(ranks: 4, cores: 2).predict(pipeline).stepSeconds - model(ranks: 4, cores: 4).predict(pipeline).stepSeconds) < 1e-12)
    }

    @Test func slowerLinksNeverSpeedAStepUp() throws {
        let fast = model(ranks: 4, cores: 4, link: AlphaBeta(alpha: 1e-6, beta: 1e-10))
        let slow = model(ranks: 4, cores: 4, link: AlphaBeta(alpha: 1e-5, beta: 1e-9))
        for layout in LayoutSpace.validLayouts(of: Fixture.config, ranks: 4) {
            #expect(slow.predict(layout).stepSeconds >= fast.predict(layout).stepSeconds, "\(layout.label)")
        }
    }
}
