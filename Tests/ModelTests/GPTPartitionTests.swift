import Model
import Testing

/// How a GPT is cut across tensor and pipeline ranks: every element of every parameter lands on
/// exactly one tensor shard of its stage, padding on none, and a model cut into stages computes
/// the whole model's gradients.
@Suite struct GPTPartitionTests {
    static let dims = GPTDimensions(nLayer: 3, nHead: 4, nEmbd: 8, blockSize: 4, vocabSize: 11)

    @Test(arguments: [1, 2, 4])
    func tensorShardsCoverEveryElementOnce(tp: Int) {
        let whole = Self.dims.parameterSpecs()
        var hits = Dictionary(uniqueKeysWithValues: whole.map { ($0.name, [Int](repeating: 0, count: $0.globalCount)) })
        var localTotal = 0
        for rank in 0..<tp {
            let partition = GPTPartition(layers: 0..<3, hasEmbedding: true, hasHead: true, tpRank: rank, tpSize: tp)
            for spec in partition.parameterSpecs(Self.dims) {
                localTotal += spec.localCount
                // Replicated tensors are counted on rank 0 only.
                guard spec.shards > 1 || rank == 0 else { continue }
                spec.forEachGlobalIndex { _, global in hits[spec.name]![global] += 1 }
            }
        }
        for spec in whole {
            #expect(hits[spec.name]!.allSatisfy { $0 == 1 }, "\(spec.name) on tp \(tp)")
        }
        // Vocabulary 11 padded to a multiple of tp: wte carries exactly the padding rows extra.
        let padded = (11 + tp - 1) / tp * tp
        let replicated = whole.filter { !$0.name.hasPrefix("wte") && !Self.isSplit($0.name) }
            .reduce(0) { $0 + $1.globalCount }
        let split = whole.filter { Self.isSplit($0.name) }.reduce(0) { $0 + $1.globalCount }
        #expect(localTotal == tp * replicated + split + padded * Self.dims.nEmbd)
    }

    static func isSplit(_ name: String) -> Bool {
        ["attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_fc.bias",
         "mlp.c_proj.weight"].contains { name.hasSuffix($0) }
    }

    /// The QKV weight is cut per part: shard k holds heads k·NH/tp… of q, of k and of v alike.
    @Test func qkvShardsTakeTheSameHeadsOfEachPart() {
        let partition = GPTPartition(layers: 0..<1, hasEmbedding: false, hasHead: false, tpRank: 1, tpSize: 2)
        let qkv = partition.parameterSpecs(Self.dims).first { $0.name == "h.0.attn.c_attn.weight" }!
        #expect(qkv.localShape == [12, 8])
        var rows: [Int] = []
        qkv.forEachGlobalIndex { local, global in if local % 8 == 0 { rows.append(global / 8) } }
        #expect(rows == [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23])
    }

    /// GPT-2's experts keep their names, order and shapes: c_fc (H, C) and its bias, c_proj (C, H)
    /// and its bias, after the block's dense parameters and router.
    @Test func gpt2ExpertsAreTheDenseGELUMLPWithBiases() {
        let dims = GPTDimensions(nLayer: 1, nHead: 4, nEmbd: 8, blockSize: 4, vocabSize: 11,
                                 experts: ExpertSettings(count: 2, topK: 1, capacityFactor: 1, auxLossCoefficient: 0))
        let specs = dims.parameterSpecs()
        let first = specs.firstIndex { $0.name == "h.0.mlp.router.weight" }! + 1
        let experts = specs[first..<(first + 8)].map { "\($0.name) \($0.globalShape) \($0.parts) \($0.splitDim)" }
        #expect(experts == (0..<2).flatMap { e in
            ["h.0.mlp.experts.\(e).c_fc.weight [32, 8] 1 0", "h.0.mlp.experts.\(e).c_fc.bias [32] 1 0",
             "h.0.mlp.experts.\(e).c_proj.weight [8, 32] 1 1", "h.0.mlp.experts.\(e).c_proj.bias [8] 1 0"]
        })
        #expect(specs[first + 8].name == "ln_f.weight")
    }

    /// A SwiGLU expert is cut like the dense SwiGLU MLP: tensor rank r holds rows [gate_r | up_r] of
    /// c_fc and columns r of c_proj; without biases it has none.
    @Test(arguments: [1, 2])
    func swigluExpertsAreCutLikeTheDenseMLP(tpRank: Int) {
        let parts = DecoderParts(norm: .rmsNorm, normEps: 1e-5, position: .rotary(theta: 100), kvHeads: 2,
                                 mlp: .swiglu, ffnHidden: 12, bias: false, tiedEmbeddings: false)
        let dense = GPTDimensions(nLayer: 1, nHead: 4, nEmbd: 8, blockSize: 4, vocabSize: 11, parts: parts)
        let moe = GPTDimensions(nLayer: 1, nHead: 4, nEmbd: 8, blockSize: 4, vocabSize: 11,
                                experts: ExpertSettings(count: 2, topK: 1, capacityFactor: 1, auxLossCoefficient: 0),
                                parts: parts)
        let partition = GPTPartition(layers: 0..<1, hasEmbedding: true, hasHead: true, tpRank: tpRank - 1, tpSize: 2)
        let denseSpecs = partition.parameterSpecs(dense), moeSpecs = partition.parameterSpecs(moe)
        #expect(moeSpecs.filter { $0.name.contains(".experts.") }.map(\.name)
            == ["h.0.mlp.experts.0.c_fc.weight", "h.0.mlp.experts.0.c_proj.weight",
                "h.0.mlp.experts.1.c_fc.weight", "h.0.mlp.experts.1.c_proj.weight"])
        func globalIndices(_ specs: [ParameterSpec], _ name: String) -> (shape: [Int], indices: [Int]) {
            let spec = specs.first { $0.name == name }!
            var indices: [Int] = []
            spec.forEachGlobalIndex { _, global in indices.append(global) }
            return (spec.localShape, indices)
        }
        for (leaf, expertLeaf) in [(BlockLeaf.fcWeight, ExpertLeaf.fcWeight), (.fcProjWeight, .projWeight)] {
            let expected = globalIndices(denseSpecs, GPTParameterName.block(0, leaf))
            for e in 0..<2 {
                let actual = globalIndices(moeSpecs, GPTParameterName.expert(0, e, expertLeaf))
                #expect(actual.shape == expected.shape && actual.indices == expected.indices, "\(expertLeaf) of expert \(e)")
            }
        }
        #expect(globalIndices(moeSpecs, "h.0.mlp.experts.0.c_fc.weight").shape == [12, 8])
    }

    @Test func stagesHoldTheirLayersAndTheTiedEmbedding() {
        let first = GPTPartition(layers: 0..<2, hasEmbedding: true, hasHead: false)
        let last = GPTPartition(layers: 2..<3, hasEmbedding: false, hasHead: true)
        let firstNames = first.parameterSpecs(Self.dims).map(\.name)
        let lastNames = last.parameterSpecs(Self.dims).map(\.name)
        #expect(firstNames.first == "wte" && firstNames[1] == "wpe" && firstNames.last == "h.1.mlp.c_proj.bias")
        #expect(lastNames.first == "wte" && lastNames[1] == "h.2.ln_1.weight" && lastNames.last == "ln_f.bias")
        #expect(Set(firstNames).intersection(lastNames) == ["wte"])
    }

    /// Two stages in one process, the residual stream and its gradient copied between them by hand
    /// (what the pipeline's send and receive do), give the whole model's loss and gradients.
    @Test func twoStagesComputeTheWholeModelsGradients() throws {
        let B = 2, T = Self.dims.blockSize, C = Self.dims.nEmbd
        let tokens = (0..<(B * T)).map { Int32($0 * 7 % 11) }, targets = (0..<(B * T)).map { Int32($0 * 5 % 11) }
        let whole = GPT(dims: Self.dims, seed: 3)
        let first = GPT(dims: Self.dims, partition: GPTPartition(layers: 0..<2, hasEmbedding: true, hasHead: false), seed: 3)
        let last = GPT(dims: Self.dims, partition: GPTPartition(layers: 2..<3, hasEmbedding: false, hasHead: true), seed: 3)
        let (wholeActs, firstActs, lastActs) = (whole.makeActivations(batch: B), first.makeActivations(batch: B),
                                                last.makeActivations(batch: B))
        var expected = 0.0, actual = 0.0
        try tokens.withUnsafeBufferPointer { tok in
            try targets.withUnsafeBufferPointer { tgt in
                let (tok, tgt) = (tok.baseAddress!, tgt.baseAddress!)
                expected = try whole.forward(wholeActs, tokens: tok, targets: tgt)
                try whole.backward(wholeActs, tokens: tok, targets: tgt, dloss: 0.1)

                #expect(try first.forward(firstActs, tokens: tok, targets: tgt) == 0)
                last.stageInput(lastActs).update(from: first.stageOutput(firstActs), count: B * T * C)
                actual = try last.forward(lastActs, tokens: tok, targets: tgt)
                try last.backward(lastActs, tokens: tok, targets: tgt, dloss: 0.1)
                first.residualGradient(batch: B).update(from: last.residualGradient(batch: B), count: B * T * C)
                try first.backward(firstActs, tokens: tok, targets: tgt, dloss: 0.1)
            }
        }
        #expect(actual == expected)
        for spec in whole.store.specs {
            let reference = whole.store.grad(spec.name)
            // The tied embedding's gradient is the sum of both stages' parts.
            let stages = [first, last].filter { $0.store.contains(spec.name) }
            for i in 0..<spec.localCount {
                let sum = stages.reduce(Float(0)) { $0 + $1.store.grad(spec.name)[i] }
                if abs(sum - reference[i]) > 1e-6 * max(1, abs(reference[i])) {
                    Issue.record("\(spec.name)[\(i)]: stages \(sum), whole \(reference[i])")
                    break
                }
            }
        }
    }
}
