import Dispatch

/// One GEMM as the model's linear layers call it: out (M, N) = inp (M, K) · weightᵀ, weight (N, K).
public struct GemmShape: Sendable, Equatable, CustomStringConvertible {
    public let m: Int, n: Int, k: Int

    public init(m: Int, n: Int, k: Int) {
        self.m = m
        self.n = n
        self.k = k
    }

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    public var description: String { "\(m)×\(n)×\(k)" }

    /// This shape with the longer of M and N halved until one call is at most `flops`: rows and
    /// columns of the output are independent tiles, so the rate barely moves while a probe of a
    /// large model stays short.
    public func capped(atMost flops: Double) -> GemmShape {
        var shape = self
        while shape.flops > flops && max(shape.m, shape.n) > 1 {
            shape = shape.m >= shape.n ? GemmShape(m: shape.m / 2, n: shape.n, k: shape.k)
                : GemmShape(m: shape.m, n: shape.n / 2, k: shape.k)
        }
        return shape
    }

    /// Median seconds per `linearForward` call on this shape, with the calling thread's BLAS
    /// threads: one untimed call, then timed calls until there are `repeats` and at least
    /// `seconds` have passed. fp32 operands, or bf16 ones multiplied by `bf16`.
    public func medianSeconds(repeats: Int, atLeast seconds: Double = 0, bf16: BF16Gemm? = nil) -> Double {
        let a = FloatPointer.allocate(capacity: m * k), w = FloatPointer.allocate(capacity: n * k)
        let c = FloatPointer.allocate(capacity: m * n)
        defer { a.deallocate(); w.deallocate(); c.deallocate() }
        for i in 0..<(m * k) { a[i] = Float(i % 13) * 0.01 }
        for i in 0..<(n * k) { w[i] = Float(i % 7) * 0.01 }
        // bf16 operands only when they are multiplied (the fp32 start-up probe needs none).
        let halves = bf16.map { _ in (a: BF16Pointer.allocate(capacity: m * k), w: BF16Pointer.allocate(capacity: n * k)) }
        defer {
            if let halves { halves.a.deallocate(); halves.w.deallocate() }
        }
        if let halves {
            convertToHalf(.bf16, a, halves.a, count: m * k)
            convertToHalf(.bf16, w, halves.w, count: n * k)
        }
        func multiply() {
            if let bf16, let halves {
                linearForward(c, halves.a, halves.w, nil, BT: m, C: k, OC: n, gemm: bf16)
            } else {
                linearForward(c, a, w, nil, BT: m, C: k, OC: n)
            }
        }
        multiply()  // warm-up: page faults, packing buffers, oneDNN primitives
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
        var times: [Double] = []
        let started = now()
        while times.count < repeats || now() - started < seconds {
            let start = now()
            multiply()
            times.append(now() - start)
        }
        return times.sorted()[times.count / 2]
    }
}
