import Kernels

/// A linear layer's input as saved for its backward: fp32, or bf16 under bf16 compute (half the
/// memory; the products then round it anyway). The kernel producing it writes fp32 either way,
/// through `LinearLayers.fill`.
struct LinearInput {
    enum Storage {
        case fp32(FloatPointer)
        case bf16(BF16Pointer)
    }

    let storage: Storage

    /// The input held in `floats` floats reserved at `memory` (see `floats(_:bf16:)`).
    init(_ memory: FloatPointer, floats: Int, bf16: Bool) {
        storage = bf16 ? .bf16(UnsafeMutableRawPointer(memory).bindMemory(to: UInt16.self, capacity: 2 * floats))
            : .fp32(memory)
    }

    /// Floats to reserve for `count` values.
    static func floats(_ count: Int, bf16: Bool) -> Int { bf16 ? (count + 1) / 2 : count }

    /// The values of an fp32 input (the experts' input, which the fp32 router reads).
    var fp32: FloatPointer {
        guard case .fp32(let values) = storage else { preconditionFailure("a bf16 input read as fp32") }
        return values
    }
}
