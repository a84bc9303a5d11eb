import Kernels
import Random

/// Where a microbatch sits in the global batch, so dropout masks are keyed by global coordinates:
/// the same token of the same step gets the same mask on every layout.
public struct DropoutContext: Sendable {
    public let mask: DropoutMask
    public let step: Int
    public let firstSequence: Int
    public let globalBatch: Int

    public init(probability: Float, seed: UInt64, step: Int, firstSequence: Int, globalBatch: Int) {
        mask = DropoutMask(probability: probability, rng: CounterRNG(seed: seed, label: "dropout"))
        self.step = step
        self.firstSequence = firstSequence
        self.globalBatch = globalBatch
    }

    /// Counters of site `site`'s first sequence: each (step, site, sequence) owns `elementsPerSequence`
    /// consecutive counters. Sites: see `GPT.dropoutSite`.
    func counterBase(site: Int, sites: Int, elementsPerSequence: Int) -> UInt64 {
        let sequence = (step * sites + site) * globalBatch + firstSequence
        return UInt64(sequence) &* UInt64(elementsPerSequence)
    }

    /// out = the mask of `site` applied to inp: B sequences of `perSequence` elements each, every
    /// sequence keyed by its global index with `stride` ≥ perSequence counters of its own (an
    /// encoder-decoder's sites differ in length; the longest sets the stride, so no two share).
    func apply(_ out: FloatPointer, _ inp: ConstFloatPointer, B: Int, perSequence: Int, site: Int, sites: Int, stride: Int) {
        guard perSequence != stride else {
            return mask.apply(out, inp, N: B * perSequence, counterBase: counterBase(site: site, sites: sites,
                                                                                   elementsPerSequence: stride))
        }
        for b in 0..<B {
            let sequence = (step * sites + site) * globalBatch + firstSequence + b
            mask.apply(out + b * perSequence, inp + b * perSequence, N: perSequence,
                       counterBase: UInt64(sequence) &* UInt64(stride))
        }
    }
}
