import Kernels

/// An activation saved by the forward pass for the backward pass: fp32, or bf16 under bf16
/// compute (half the memory). A linear layer's saved input is read as bf16 by the products, which
/// round it anyway; the others (qkv, attention probabilities, the pre-GELU values) are widened back
/// to fp32 for their layer's backward, through `TensorStaging`.
struct SavedTensor {
    enum Storage {
        case fp32(FloatPointer)
        case bf16(BF16Pointer)
    }

    let storage: Storage

    /// The tensor held in `floats` floats reserved at `memory` (see `floats(_:bf16:)`).
    init(_ memory: FloatPointer, floats: Int, bf16: Bool) {
        storage = bf16 ? .bf16(UnsafeMutableRawPointer(memory).bindMemory(to: UInt16.self, capacity: 2 * floats))
            : .fp32(memory)
    }

    private init(_ storage: Storage) { self.storage = storage }

    /// The tensor from value `offset` on (a block of rows).
    func advanced(by offset: Int) -> SavedTensor {
        switch storage {
        case .fp32(let values): SavedTensor(.fp32(values + offset))
        case .bf16(let values): SavedTensor(.bf16(values + offset))
        }
    }

    /// Floats to reserve for `count` values.
    static func floats(_ count: Int, bf16: Bool) -> Int { bf16 ? (count + 1) / 2 : count }

    /// The values of an fp32 tensor (the experts' input, which the fp32 router reads).
    var fp32: FloatPointer {
        guard case .fp32(let values) = storage else { preconditionFailure("a bf16 tensor read as fp32") }
        return values
    }
}

/// fp32 working copies of tensors saved in bf16, one per role, each as large as the most it holds
/// at once (one layer's tensor; one sequence's attention probabilities): the forward pass computes
/// a tensor here, keeps it rounded and goes on with the exact values; the backward pass widens it
/// back here. With fp32 storage the tensor itself is used throughout. So bf16 storage costs one
/// layer's fp32 copy, not one per layer.
final class TensorStaging {
    /// What a working copy holds; tensors alive at the same time need different roles.
    enum Role: Int, CaseIterable {
        /// A linear layer's input while the layer producing it runs.
        case linearInput
        case qkv
        case attentionProbabilities
        case preActivation
        /// The residual stream between a block's two branches, and after a block.
        case innerResidual
        case blockResidual
        /// A decoder block's stream after self-attention, before cross-attention (encoder-decoder).
        case selfResidual
        /// Cross-attention's keys and values over the encoder's output.
        case crossKeysValues
    }

    private let buffers = Role.allCases.map { _ in ScratchBuffer<Float>() }

    /// Floats the working copies hold: for each role, the largest tensor kept or widened in it.
    var floatCount: Int { buffers.reduce(0) { $0 + $1.capacity } }

    private func buffer(_ role: Role, _ count: Int) -> FloatPointer {
        buffers[role.rawValue].take(max(count, 1))
    }

    /// Runs `produce` on fp32 memory for `count` values and keeps them in `saved`; returns the exact
    /// fp32 values (valid until the role is used again).
    @discardableResult
    func keep(_ saved: SavedTensor, count: Int, as role: Role, _ produce: (FloatPointer) -> Void) -> FloatPointer {
        switch saved.storage {
        case .fp32(let values):
            produce(values)
            return values
        case .bf16(let values):
            let exact = buffer(role, count)
            produce(exact)
            convertToHalf(.bf16, exact, values, count: count)
            return exact
        }
    }

    /// The saved values of `saved` in fp32 (valid until the role is used again).
    func widen(_ saved: SavedTensor, count: Int, as role: Role) -> FloatPointer {
        switch saved.storage {
        case .fp32(let values):
            return values
        case .bf16(let values):
            let wide = buffer(role, count)
            convertFromHalf(.bf16, values, wide, count: count)
            return wide
        }
    }
}
