/// Scratch memory that grows to the largest request and is then reused, so that steady-state
/// steps allocate nothing; contents do not survive a call that grows it.
public final class ScratchBuffer<Element> {
    private var buffer: UnsafeMutablePointer<Element>?
    /// Elements held: the largest request so far.
    public private(set) var capacity = 0

    public init() {}

    /// Room for at least `count` elements, uninitialized.
    public func take(_ count: Int) -> UnsafeMutablePointer<Element> {
        if count > capacity {
            buffer?.deallocate()
            buffer = .allocate(capacity: count)
            capacity = count
        }
        return buffer!
    }

    deinit { buffer?.deallocate() }
}
