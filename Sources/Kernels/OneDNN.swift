import COneDNN

/// oneDNN matmul primitives for the shapes one caller uses, created on first use and kept: every
/// raw oneDNN call goes through here (COneDNN's four functions).
final class OneDNNMatmuls {
    /// The element type of both inputs; the output is always fp32.
    enum Inputs { case bf16, fp32 }

    /// One product's layout: op(A) (M, K) · op(B) (K, N) into C (M, N), row-major, C += when
    /// `accumulate`.
    struct Shape: Hashable {
        let transA: Bool, transB: Bool
        let M: Int, N: Int, K: Int, lda: Int, ldb: Int, ldc: Int
        let accumulate: Bool
    }

    /// Whether oneDNN runs bf16 matmul in hardware on this CPU (`tessera_onednn_native_bf16`).
    static var hasNativeBF16: Bool { tessera_onednn_native_bf16() != 0 }

    let inputs: Inputs
    /// nil where oneDNN has no implementation of a shape on this CPU.
    private var primitives: [Shape: OpaquePointer?] = [:]

    init(inputs: Inputs) { self.inputs = inputs }

    deinit {
        for case let primitive? in primitives.values { tessera_matmul_destroy(primitive) }
    }

    /// Runs the product on `threads` OpenMP threads (`tessera_matmul_run`); false when oneDNN
    /// cannot run this shape here, leaving C untouched.
    func run(_ shape: Shape, a: UnsafeRawPointer, b: UnsafeRawPointer, c: FloatPointer, threads: Int) -> Bool {
        guard let primitive = primitive(shape, threads: threads) else { return false }
        let status = tessera_matmul_run(primitive, a, b, c, Int32(threads))
        precondition(status == 0, "oneDNN matmul \(shape) failed with status \(status)")
        return true
    }

    /// The shape's primitive (`tessera_matmul_create`), made on first use.
    private func primitive(_ shape: Shape, threads: Int) -> OpaquePointer? {
        if let known = primitives[shape] { return known }
        let s = shape
        let made = tessera_matmul_create(inputs == .bf16 ? 1 : 0, s.transA ? 1 : 0, s.transB ? 1 : 0, s.M, s.N, s.K,
                                         s.lda, s.ldb, s.ldc, s.accumulate ? 1 : 0, Int32(threads))
        primitives[shape] = made
        return made
    }
}
