/// A fixed-size, manually allocated array of MPI elements with a stable address.
///
/// Non-blocking calls take an `MPIBuffer` rather than a Swift array: an array passed by implicit
/// pointer conversion may be freed right after the call while MPI still reads it. The `Request`
/// a non-blocking call returns keeps its buffer alive until the operation completes.
public final class MPIBuffer<T: MPIScalar> {
    /// The first element; valid for `count` elements for the buffer's lifetime.
    public let pointer: UnsafeMutablePointer<T>
    /// The number of elements.
    public let count: Int

    /// A buffer of `count` copies of `value`.
    public init(repeating value: T, count: Int) {
        precondition(count >= 0, "MPIBuffer count must be non-negative, got \(count)")
        self.pointer = .allocate(capacity: count)
        self.count = count
        pointer.initialize(repeating: value, count: count)
    }

    /// A buffer holding a copy of `values`.
    public init(_ values: [T]) {
        self.pointer = .allocate(capacity: values.count)
        self.count = values.count
        _ = UnsafeMutableBufferPointer(start: pointer, count: count).initialize(from: values)
    }

    deinit {
        pointer.deallocate()
    }

    /// All elements, as a buffer pointer valid for the buffer's lifetime.
    public var buffer: UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// A copy of the elements.
    public var array: [T] {
        Array(buffer)
    }

    public subscript(index: Int) -> T {
        get {
            precondition(index >= 0 && index < count, "MPIBuffer index \(index) out of range 0..<\(count)")
            return pointer[index]
        }
        set {
            precondition(index >= 0 && index < count, "MPIBuffer index \(index) out of range 0..<\(count)")
            pointer[index] = newValue
        }
    }
}
