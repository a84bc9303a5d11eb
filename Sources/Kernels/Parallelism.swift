import Dispatch

/// Splits elementwise and row-wise kernels across the same number of threads OpenBLAS uses, so
/// that one rank with several BLAS threads does not run everything outside GEMMs on one core.
/// Kernels whose chunks would write shared outputs (weight-gradient reductions) stay serial.
public enum KernelThreads {
    /// Chunks below this many elements are not worth a thread hand-off.
    static let minimumWork = 32_768

    /// Calls `body` on disjoint ranges covering 0..<count, concurrently when there are BLAS
    /// threads to spare and enough work; `cost` is the work per index, in elements.
    @inline(__always)
    static func forEachChunk(_ count: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
        let threads = min(BLAS.threads, max(1, count * cost / minimumWork), count)
        if threads <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let chunk = (count + threads - 1) / threads
            let task = ChunkTask(body: body)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let start = t * chunk
                task.body(start..<min(start + chunk, count))
            }
        }
    }
}

/// The chunk body, handed to Dispatch's worker threads: chunks write disjoint memory.
private struct ChunkTask: @unchecked Sendable {
    let body: (Range<Int>) -> Void
}
