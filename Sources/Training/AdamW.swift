import Kernels
import Model

/// AdamW over a ParameterStore: first and second moments in one allocation each, laid out like
/// the parameters; weight decay only where the parameter's spec says so.
public final class AdamW {
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    private let store: ParameterStore

    public init(store: ParameterStore, beta1: Float, beta2: Float, weightDecay: Float, eps: Float = 1e-8) {
        self.store = store
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        m = .allocate(capacity: max(store.count, 1))
        v = .allocate(capacity: max(store.count, 1))
        m.initialize(repeating: 0, count: max(store.count, 1))
        v.initialize(repeating: 0, count: max(store.count, 1))
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    /// Applies optimizer step `step` (from 1) with learning rate `lr` to every parameter, using the
    /// gradients times `gradScale` (clipping). Leaves the gradients zero for the next step.
    public func update(lr: Float, step: Int, gradScale: Float = 1) {
        for (i, spec) in store.specs.enumerated() {
            let offset = store.offsets[i]
            adamWUpdate(store.values + offset, m + offset, v + offset, store.grads + offset,
                        N: spec.localCount, gradScale: gradScale, lr: lr, beta1: beta1, beta2: beta2, eps: eps,
                        weightDecay: spec.decays ? weightDecay : 0, step: step)
        }
    }
}
