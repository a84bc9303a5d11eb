import Kernels
import Model

/// AdamW over a ParameterStore, or over the part of it this rank owns (ZeRO-1): first and second
/// moments exist only for the owned elements, packed in owned order; weight decay only where the
/// parameter's spec says so.
public final class AdamW {
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    private let store: ParameterStore
    /// Runs of owned elements that share a spec: (flat range, moment offset, decays).
    private let runs: [(range: Range<Int>, moments: Int, decays: Bool)]
    /// Elements whose moments this rank keeps.
    public let ownedCount: Int

    /// `owned`: flat ranges of the store this rank updates, sorted and disjoint (default: all).
    public init(store: ParameterStore, owned: [Range<Int>]? = nil, beta1: Float, beta2: Float, weightDecay: Float,
                eps: Float = 1e-8) {
        self.store = store
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        var runs: [(range: Range<Int>, moments: Int, decays: Bool)] = []
        var total = 0
        for range in owned ?? [0..<store.count] {
            for (i, spec) in store.specs.enumerated() {
                let piece = range.clamped(to: store.range(of: i))
                guard !piece.isEmpty else { continue }
                runs.append((piece, total, spec.decays))
                total += piece.count
            }
        }
        self.runs = runs
        ownedCount = total
        m = .allocate(capacity: max(total, 1))
        v = .allocate(capacity: max(total, 1))
        m.initialize(repeating: 0, count: max(total, 1))
        v.initialize(repeating: 0, count: max(total, 1))
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    /// The owned runs inside the store range `range` (one parameter's), with where their moments
    /// start in `m` and `v`.
    public func ownedRuns(in range: Range<Int>) -> [(range: Range<Int>, moments: Int)] {
        runs.filter { range.contains($0.range.lowerBound) }.map { ($0.range, $0.moments) }
    }

    /// Bytes of optimizer state (both moments) on this rank.
    public var stateBytes: Int { 2 * ownedCount * MemoryLayout<Float>.stride }

    /// Applies optimizer step `step` (from 1) with learning rate `lr` to every owned parameter,
    /// using the gradients times `gradScale` (clipping, loss scale). Leaves those gradients zero for
    /// the next step.
    public func update(lr: Float, step: Int, gradScale: Float = 1) {
        for run in runs {
            adamWUpdate(store.values + run.range.lowerBound, m + run.moments, v + run.moments,
                        store.grads + run.range.lowerBound, N: run.range.count, gradScale: gradScale, lr: lr,
                        beta1: beta1, beta2: beta2, eps: eps, weightDecay: run.decays ? weightDecay : 0, step: step)
        }
    }
}
