import Config
import Kernels
import Model
import Parallel

/// What one pipeline stage of a layout holds and computes per microbatch, seen from its first
/// tensor- and expert-parallel rank (the one with the most: vocabulary padding, and the even split
/// of experts gives every rank the same). Sizes come from the model's own partition and activation
/// logic, so they are the trainer's.
struct StageWork {
    let partition: GPTPartition
    /// Parameters this rank holds: dense ones (summed over dp) and expert ones (over dp / ep).
    let denseParameters: Int, expertParameters: Int
    /// Matrix-multiply FLOPs of one microbatch's forward on this rank (backward is twice that).
    let forwardGemmFlops: Double
    /// Saved-for-backward floats of one microbatch, and the floats its elementwise kernels pass over.
    let activationFloats: Int, workFloats: Int
    /// Floats of buffers shared by the microbatches (the head's block of logits, working copies).
    let workspaceFloats: Int

    init(dims: GPTDimensions, layout: PlannedLayout, stage: Int, compute: ComputeType = .fp32) {
        let d = layout.degrees
        let rank = Layout(degrees: d, rank: 0).rank(pp: stage, dp: 0, tp: 0)
        let partition = GPTPartition(layout: Layout(degrees: d, rank: rank), dims: dims)
        self.partition = partition
        let specs = partition.parameterSpecs(dims)
        let expertNames = Set(partition.layers.flatMap { l in
            partition.localExperts(dims).flatMap { e in ExpertLeaf.leaves(dims.parts).map { GPTParameterName.expert(l, e, $0) } }
        })
        let experts = specs.filter { expertNames.contains($0.name) }.reduce(0) { $0 + $1.localCount }
        expertParameters = experts
        denseParameters = specs.reduce(0) { $0 + $1.localCount } - experts
        forwardGemmFlops = dims.forwardGemmFlops(partition: partition, B: d.microbatchSize)
        activationFloats = GPTActivations.floatCount(dims: dims, partition: partition, B: d.microbatchSize, T: dims.blockSize,
                                                     compute: compute)
        workFloats = GPTActivations.workFloats(dims: dims, partition: partition, B: d.microbatchSize, T: dims.blockSize,
                                               compute: compute)
        workspaceFloats = GPT.workspaceFloats(dims: dims, partition: partition, B: d.microbatchSize, compute: compute)
    }
}

extension GPTDimensions {
    /// Matrix-multiply FLOPs of one forward of B sequences on `partition`: 2 · rows · in · out for
    /// every linear at this rank's tensor-parallel widths, and the two attention products (Q·Kᵀ
    /// and att·V over all T × T positions, as the kernels compute them). An expert MLP counts
    /// `top_k` expert passes per token, capped by capacity, and the router.
    public func forwardGemmFlops(partition: GPTPartition, B: Int) -> Double {
        let T = blockSize, C = Double(nEmbd), tp = Double(partition.tpSize)
        let BT = Double(B * T), qkv = Double(qkvRows), H = Double(parts.ffnHidden), fc = Double(parts.fcRows)
        let attention = 2 * BT * C * (qkv + C) / tp + 2 * 2 * Double(B) * Double(T) * Double(T) * C / tp
        let mlp: Double
        if let experts {
            let rows = min(Double(experts.topK) * BT, Double(experts.count * B * experts.capacity(tokens: T)))
            mlp = 2 * BT * C * Double(experts.count) + 2 * rows * C * (fc + H) / tp
        } else {
            mlp = 2 * BT * C * (fc + H) / tp
        }
        let head = partition.hasHead ? 2 * BT * C * Double(partition.vocabShard(self)) : 0
        return Double(partition.layers.count) * (attention + mlp) + head
    }
}
