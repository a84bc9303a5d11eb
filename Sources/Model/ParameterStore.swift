import Random

/// All of one rank's parameters in one allocation, with their gradients in a second allocation of
/// the same layout. Views are pointers at fixed offsets, valid for the store's lifetime.
public final class ParameterStore: @unchecked Sendable {
    public let specs: [ParameterSpec]
    /// Start of each parameter in the flat buffers, in `specs` order.
    public let offsets: [Int]
    public let count: Int
    public let values: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    private let indexByName: [String: Int]

    public init(specs: [ParameterSpec]) {
        self.specs = specs
        var offsets: [Int] = []
        var total = 0
        for spec in specs {
            offsets.append(total)
            total += spec.localCount
        }
        self.offsets = offsets
        self.count = total
        values = .allocate(capacity: max(total, 1))
        grads = .allocate(capacity: max(total, 1))
        values.initialize(repeating: 0, count: max(total, 1))
        grads.initialize(repeating: 0, count: max(total, 1))
        indexByName = Dictionary(uniqueKeysWithValues: specs.enumerated().map { ($1.name, $0) })
    }

    deinit {
        values.deallocate()
        grads.deallocate()
    }

    public func contains(_ name: String) -> Bool { indexByName[name] != nil }

    public func index(of name: String) -> Int {
        guard let i = indexByName[name] else { preconditionFailure("no parameter named \(name)") }
        return i
    }

    public func value(_ name: String) -> UnsafeMutablePointer<Float> { values + offsets[index(of: name)] }
    public func grad(_ name: String) -> UnsafeMutablePointer<Float> { grads + offsets[index(of: name)] }

    /// Flat range of parameter `i` in `values`/`grads`.
    public func range(of i: Int) -> Range<Int> { offsets[i]..<(offsets[i] + specs[i].localCount) }

    /// Draws every parameter from a generator keyed by (seed, name, global element index), so the
    /// same model comes out on every layout.
    public func initialize(seed: UInt64) {
        for (i, spec) in specs.enumerated() {
            let base = values + offsets[i]
            switch spec.initializer {
            case .zeros:
                base.update(repeating: 0, count: spec.localCount)
            case .ones:
                base.update(repeating: 1, count: spec.localCount)
            case .normal(let std):
                let rng = CounterRNG(seed: seed, label: spec.name)
                spec.forEachGlobalIndex { local, global in
                    base[local] = std * rng.normal(UInt64(global))
                }
            }
        }
    }

    public func zeroGrads() {
        grads.update(repeating: 0, count: count)
    }
}
