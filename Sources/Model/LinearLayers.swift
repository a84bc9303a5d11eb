import Kernels

/// The linear layers' matrix products of one GPT, in its compute precision. fp32: OpenBLAS on the
/// parameters. bf16: bf16 weights from a copy of the parameters (refreshed at the first forward
/// after `parametersChanged`), bf16 saved inputs, bf16 output gradients, every product accumulated
/// and returned in fp32 by a `BF16Gemm`; parameters, their gradients and the optimizer stay fp32.
final class LinearLayers {
    let compute: ComputeType
    private let store: ParameterStore
    private let gemm: BF16Gemm
    /// (store.count) the parameters rounded to bf16, at the store's offsets; bf16 only.
    private let weights: BF16Pointer?
    private var weightsAreCurrent = false
    /// Grown on first use: output gradients rounded to bf16.
    private let doutBF16 = ScratchBuffer<UInt16>()

    init(store: ParameterStore, compute: ComputeType) {
        self.store = store
        self.compute = compute
        gemm = BF16Gemm()
        weights = compute == .bf16 ? .allocate(capacity: max(store.count, 1)) : nil
    }

    deinit { weights?.deallocate() }

    var engine: BF16Gemm.Engine? { compute == .bf16 ? gemm.engine : nil }

    /// The parameters were written (optimizer step, load): the bf16 weights are stale.
    func parametersChanged() { weightsAreCurrent = false }

    /// out (BT, OC) = inp · weightᵀ + bias; `weight` points into the store's values.
    func forward(_ out: FloatPointer, _ inp: SavedTensor, _ weight: FloatPointer, _ bias: FloatPointer?,
                 BT: Int, C: Int, OC: Int) {
        switch inp.storage {
        case .fp32(let values):
            linearForward(out, values, weight, bias, BT: BT, C: C, OC: OC)
        case .bf16(let values):
            if !weightsAreCurrent {
                convertToHalf(.bf16, store.values, weights!, count: store.count)
                weightsAreCurrent = true
            }
            linearForward(out, values, bf16(weight), bias, BT: BT, C: C, OC: OC, gemm: gemm)
        }
    }

    /// `linearBackward` through the forward's precision.
    func backward(_ dinp: FloatPointer?, _ dweight: FloatPointer, _ dbias: FloatPointer?, _ dout: ConstFloatPointer,
                  _ inp: SavedTensor, _ weight: FloatPointer, BT: Int, C: Int, OC: Int, accumulateInput: Bool = false) {
        switch inp.storage {
        case .fp32(let values):
            linearBackward(dinp, dweight, dbias, dout, values, weight, BT: BT, C: C, OC: OC,
                           accumulateInput: accumulateInput)
        case .bf16(let values):
            precondition(weightsAreCurrent, "backward after the parameters changed, before a forward")
            linearBackward(dinp, dweight, dbias, doutBF16.take(BT * OC), dout, values, bf16(weight), BT: BT, C: C,
                           OC: OC, accumulateInput: accumulateInput, gemm: gemm)
        }
    }

    /// The bf16 copy of the parameter `weight` points to.
    private func bf16(_ weight: FloatPointer) -> BF16Pointer {
        let offset = weight - store.values
        precondition(offset >= 0 && offset < store.count, "a weight outside the parameter store")
        return weights! + offset
    }
}
