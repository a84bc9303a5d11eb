#if canImport(Glibc)
import Glibc
#endif

// Softmax cross-entropy, split into row statistics so that a vocabulary-parallel caller can
// combine them across ranks (max, then sum of exponentials, then the target's logit) without any
// rank holding the full logits. logits are (BT, ld) with the first V columns valid; a row's
// vocabulary starts at global index `vocabStart`.

/// maxima (BT) = per-row maximum over the V valid columns.
public func logitRowMax(_ maxima: FloatPointer, _ logits: ConstFloatPointer, BT: Int, V: Int, ld: Int) {
    KernelThreads.forEachChunk(BT, cost: V) { rows in
        for r in rows { maxima[r] = maximum(logits + r * ld, V) }
    }
}

/// sums (BT) = Σ_j exp(logit − maxima[r]) over the V valid columns.
public func logitRowSumExp(_ sums: FloatPointer, _ logits: ConstFloatPointer,
                           _ maxima: ConstFloatPointer, BT: Int, V: Int, ld: Int) {
    KernelThreads.forEachChunk(BT, cost: V) { rows in
        for r in rows { sums[r] = sumOfExponentials(logits + r * ld, V, shift: maxima[r]) }
    }
}

/// values (BT) = logit of the row's target, or 0 when the target lies outside this vocabulary slice.
public func logitsAtTargets(_ values: FloatPointer, _ logits: ConstFloatPointer,
                            _ targets: UnsafePointer<Int32>, BT: Int, V: Int, ld: Int,
                            vocabStart: Int = 0) {
    for r in 0..<BT {
        let j = Int(targets[r]) - vocabStart
        values[r] = (j >= 0 && j < V) ? logits[r * ld + j] : 0
    }
}

/// losses (BT) = logsumexp − target logit (0 for a negative, ignored target); lse (BT) saved for
/// backward. Single-shard form.
public func crossEntropyForward(_ losses: FloatPointer, _ lse: FloatPointer,
                                _ logits: ConstFloatPointer, _ targets: UnsafePointer<Int32>,
                                BT: Int, V: Int, ld: Int) {
    logitRowMax(lse, logits, BT: BT, V: V, ld: ld)
    logitRowSumExp(losses, logits, lse, BT: BT, V: V, ld: ld)
    for r in 0..<BT { lse[r] += log(losses[r]) }
    logitsAtTargets(losses, logits, targets, BT: BT, V: V, ld: ld)
    for r in 0..<BT { losses[r] = targets[r] < 0 ? 0 : lse[r] - losses[r] }
}

/// In place: logits become dlogits = (softmax − onehot(target)) · dloss, or · weights[r] per row
/// when `weights` is given (a per-token objective such as DPO's); padding columns become 0. A
/// negative target is ignored (padding of a target sequence): its row becomes 0.
public func crossEntropyBackward(_ logits: FloatPointer, _ lse: ConstFloatPointer,
                                 _ targets: UnsafePointer<Int32>, dloss: Float, weights: ConstFloatPointer? = nil,
                                 BT: Int, V: Int, ld: Int, vocabStart: Int = 0) {
    KernelThreads.forEachChunk(BT, cost: ld) { rows in
        for r in rows {
            let row = logits + r * ld
            let l = lse[r]
            let dloss = targets[r] < 0 ? 0 : weights?[r] ?? dloss
            for j in 0..<V { row[j] = fastExp(row[j] - l) * dloss }
            for j in V..<ld { row[j] = 0 }
            let t = Int(targets[r]) - vocabStart
            if t >= 0 && t < V { row[t] -= dloss }
        }
    }
}
