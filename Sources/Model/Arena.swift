/// One allocation carved into named buffers, so activations live in a single block that is
/// allocated once and reused every step.
final class Arena {
    private(set) var base: UnsafeMutablePointer<Float>?
    private var sizes: [Int] = []

    /// Reserve `count` floats; returns its index. Call before `allocate()`.
    func reserve(_ count: Int) -> Int {
        precondition(base == nil, "arena already allocated")
        sizes.append(count)
        return sizes.count - 1
    }

    /// Allocates and zero-fills every reservation; returns their pointers in reservation order.
    func allocate() -> [UnsafeMutablePointer<Float>] {
        let total = max(sizes.reduce(0, +), 1)
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: total)
        memory.initialize(repeating: 0, count: total)
        base = memory
        var pointers: [UnsafeMutablePointer<Float>] = []
        var offset = 0
        for size in sizes {
            pointers.append(memory + offset)
            offset += size
        }
        return pointers
    }

    var floatCount: Int { sizes.reduce(0, +) }

    deinit { base?.deallocate() }
}
