import Model
import Testing

/// The planner sizes activations without allocating them; the count must be what the model allocates.
struct ActivationSizeTests {
    static let experts = ExpertSettings(count: 4, topK: 2, capacityFactor: 1.25, auxLossCoefficient: 0.01)
    /// SwiGLU without biases, whose experts' first linear is twice as wide as their activation.
    static let swiglu = DecoderParts(norm: .rmsNorm, normEps: 1e-5, position: .rotary(theta: 100), kvHeads: 1,
                                     mlp: .swiglu, ffnHidden: 12, bias: false, tiedEmbeddings: false)

    @Test(arguments: [(nil, nil), (experts, nil), (nil, swiglu), (experts, swiglu)] as [(ExpertSettings?, DecoderParts?)])
    func floatCountIsWhatTheModelAllocates(experts: ExpertSettings?, parts: DecoderParts?) {
        let dims = GPTDimensions(nLayer: 3, nHead: 2, nEmbd: 8, blockSize: 5, vocabSize: 11, experts: experts,
                                 parts: parts)
        // Whole model, and a last stage (head, no embedding) of one layer.
        for partition in [GPTPartition.whole(dims), GPTPartition(layers: 2..<3, hasEmbedding: false, hasHead: true),
                          GPTPartition(layers: 0..<2, hasEmbedding: true, hasHead: false)] {
            let model = GPT(dims: dims, partition: partition, seed: 1)
            for B in [1, 3] {
                #expect(model.makeActivations(batch: B).byteCount
                    == 4 * GPTActivations.floatCount(dims: dims, partition: partition, B: B, T: dims.blockSize))
            }
        }
    }
}
