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

    /// Sites: 0 the embedding, then 1 + 2·layer (attention branch) and 2 + 2·layer (MLP branch).
    func counterBase(site: Int, sites: Int, elementsPerSequence: Int) -> UInt64 {
        let sequence = (step * sites + site) * globalBatch + firstSequence
        return UInt64(sequence) &* UInt64(elementsPerSequence)
    }
}
