import Random

/// Inverted dropout whose mask is recomputed, not stored: element i is kept when
/// rng.uniform(counterBase + i) ≥ p. Callers key counterBase by global coordinates (step, layer,
/// site, global sequence index), so masks do not depend on how the batch is split across ranks.
public struct DropoutMask: Sendable {
    public let probability: Float
    public let rng: CounterRNG

    public init(probability: Float, rng: CounterRNG) {
        precondition(probability >= 0 && probability < 1, "dropout probability \(probability) not in [0, 1)")
        self.probability = probability
        self.rng = rng
    }

    /// out = mask ⊙ inp / (1 − p); out may alias inp. Also the backward (the mask is its own adjoint).
    public func apply(_ out: FloatPointer, _ inp: ConstFloatPointer, N: Int, counterBase: UInt64) {
        let keepScale = 1.0 / (1.0 - probability)
        for i in 0..<N {
            let keep = rng.uniform(counterBase &+ UInt64(i)) >= probability
            out[i] = keep ? inp[i] * keepScale : 0
        }
    }
}
