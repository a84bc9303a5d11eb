import CKernels

/// One AdamW step over N parameters with PyTorch's semantics: decoupled weight decay
/// (p ← p − lr·wd·p), bias-corrected moments, gradient `grads · gradScale` (gradScale carries
/// global-norm clipping). `step` counts from 1. Consumes the gradients: they are left zero, ready
/// for the next step's accumulation.
public func adamWUpdate(_ params: FloatPointer, _ m: FloatPointer, _ v: FloatPointer,
                        _ grads: FloatPointer, N: Int, gradScale: Float = 1, lr: Float, beta1: Float,
                        beta2: Float, eps: Float, weightDecay: Float, step: Int) {
    let correction1 = 1.0 - pow(beta1, Float(step))
    let correction2 = 1.0 - pow(beta2, Float(step))
    let stepSize = lr / correction1
    let decay = 1.0 - lr * weightDecay
    let rootCorrection2 = correction2.squareRoot()
    KernelThreads.forEachChunk(N) { range in
        let o = range.lowerBound
        tessera_adamw(params + o, m + o, v + o, grads + o, range.count, gradScale, beta1, beta2, eps, decay,
                      stepSize, rootCorrection2)
    }
}

/// Σ x² in double precision, so that the global gradient norm does not depend on chunking.
public func sumOfSquares(_ x: ConstFloatPointer, N: Int) -> Double {
    // Fixed 64k-element chunks, summed in chunk order: the result does not depend on threads.
    let chunk = 65_536
    let chunks = (N + chunk - 1) / chunk
    let partials = UnsafeMutablePointer<Double>.allocate(capacity: max(chunks, 1))
    defer { partials.deallocate() }
    KernelThreads.forEachChunk(chunks, cost: chunk) { range in
        for c in range {
            let start = c * chunk
            partials[c] = sumOfSquaresChunk(x + start, min(chunk, N - start))
        }
    }
    var total: Double = 0
    for c in 0..<chunks { total += partials[c] }
    return total
}

#if canImport(Glibc)
import Glibc
#endif
