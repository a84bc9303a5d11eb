#if canImport(Glibc)
import Glibc
#endif
import Kernels
import MPI

// The language-model head on the last stage: logits = lnf · Wᵀ (W the tied token embedding or the
// untied head) over this rank's vocabulary columns, softmax cross-entropy whose row statistics are combined across the tensor group, and
// its backward. It runs in blocks of rows so that the (B·T, V/tp) logits never exist in full: at
// GPT-2 small they would be the largest activation (196 MiB per microbatch of 4 × 256 tokens).
// When the forward knows the backward's dloss (training), each block's backward follows its loss
// at once and only the gradient of the head's input (B·T·C) waits for the backward pass; otherwise
// (evaluation, or per-token weights that depend on the forward's losses, as DPO's) the backward
// recomputes each block's logits.
extension GPT {
    /// Rows per block of B·T: at least 256, where OpenBLAS runs the three products within 5% of
    /// their unblocked speed at GPT-2 small's vocabulary (measured here); more while a block stays
    /// under 16 MiB, so a small vocabulary is one block.
    public static func headRows(dims: GPTDimensions, partition: GPTPartition, rows: Int) -> Int {
        min(rows, max(256, (1 << 22) / partition.vocabShard(dims)))
    }

    /// Floats of the head's block buffers (shared by every microbatch) on a stage with the head.
    public static func headWorkspaceFloats(dims: GPTDimensions, partition: GPTPartition, B: Int) -> Int {
        guard partition.hasHead else { return 0 }
        let rows = headRows(dims: dims, partition: partition, rows: B * dims.blockSize)
        return rows * partition.vocabShard(dims) + 2 * rows
    }

    private func rowsPerHeadBlock(_ BT: Int) -> Int {
        headBlockRows ?? Self.headRows(dims: dims, partition: partition, rows: BT)
    }

    /// Per-token losses and the log-sum-exps of B·T rows after the final norm; with `dloss`, also
    /// the head's backward (see `headBackward`). Returns the summed losses. A negative target (a
    /// padded target position) is ignored: loss 0, no gradient.
    func headLoss(_ acts: GPTActivations, targets: UnsafePointer<Int32>, BT: Int, dloss: Float?) throws(MPIError) -> Double {
        let ld = partition.vocabShard(dims), V = partition.validVocab(dims), start = partition.vocabStart(dims)
        let rows = rowsPerHeadBlock(BT)
        let logits = headLogits.take(rows * ld), statistics = headStatistics.take(2 * rows)
        var total: Double = 0
        for first in stride(from: 0, to: BT, by: rows) {
            let n = min(rows, BT - first)
            let lse = acts.lse + first, losses = acts.losses + first
            let sums = statistics, targetLogits = statistics + n
            headLogitsBlock(logits, acts, first: first, rows: n)
            logitRowMax(lse, logits, BT: n, V: V, ld: ld)
            try tensor.maximum(lse, count: n)
            logitRowSumExp(sums, logits, lse, BT: n, V: V, ld: ld)
            logitsAtTargets(targetLogits, logits, targets + first, BT: n, V: V, ld: ld, vocabStart: start)
            try tensor.sum(sums, count: 2 * n)  // both statistics in one all-reduce
            for r in 0..<n {
                lse[r] += log(sums[r])
                losses[r] = targets[first + r] < 0 ? 0 : lse[r] - targetLogits[r]
                total += Double(losses[r])
            }
            if let dloss { headGradientBlock(logits, acts, targets: targets, dloss: dloss, weights: nil, first: first, rows: n) }
        }
        acts.headDloss = dloss
        return total
    }

    /// Accumulates the head weight's gradient and returns the gradient of the head's input
    /// (this rank's part under tensor parallelism, before its sum across the group).
    func headBackward(_ acts: GPTActivations, targets: UnsafePointer<Int32>, dloss: Float,
                      tokenWeights: UnsafePointer<Float>?) -> FloatPointer {
        if let done = acts.headDloss {
            precondition(tokenWeights == nil && done == dloss, "the forward ran the head's backward for another dloss")
            return acts.lnfGradient
        }
        let BT = acts.B * acts.T, rows = rowsPerHeadBlock(BT)
        let logits = headLogits.take(rows * partition.vocabShard(dims))
        for first in stride(from: 0, to: BT, by: rows) {
            let n = min(rows, BT - first)
            headLogitsBlock(logits, acts, first: first, rows: n)
            headGradientBlock(logits, acts, targets: targets, dloss: dloss, weights: tokenWeights, first: first, rows: n)
        }
        return acts.lnfGradient
    }

    private func headLogitsBlock(_ logits: FloatPointer, _ acts: GPTActivations, first: Int, rows: Int) {
        let C = dims.nEmbd
        linears.forward(logits, acts.lnf.advanced(by: first * C), store.values + headWeight!, nil,
                        BT: rows, C: C, OC: partition.vocabShard(dims))
    }

    /// Turns one block's logits into their gradient in place, then adds its products: the head
    /// weight's gradient, and the block's rows of the head input's gradient.
    private func headGradientBlock(_ logits: FloatPointer, _ acts: GPTActivations, targets: UnsafePointer<Int32>,
                                   dloss: Float, weights: UnsafePointer<Float>?, first: Int, rows: Int) {
        let C = dims.nEmbd, ld = partition.vocabShard(dims)
        crossEntropyBackward(logits, acts.lse + first, targets + first, dloss: dloss, weights: weights.map { $0 + first },
                             BT: rows, V: partition.validVocab(dims), ld: ld, vocabStart: partition.vocabStart(dims))
        linears.backward(acts.lnfGradient + first * C, store.grads + headWeight!, nil, logits, acts.lnf.advanced(by: first * C),
                         store.values + headWeight!, BT: rows, C: C, OC: ld)
    }
}
