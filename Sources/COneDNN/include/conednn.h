// oneDNN's matmul behind four C functions (libdnnl-dev, oneDNN 2.6): Swift sees no oneDNN types.
#ifndef TESSERA_CONEDNN_H
#define TESSERA_CONEDNN_H

/// Whether oneDNN runs bf16 matmul in hardware on this CPU (AVX512_BF16, or AMX): the one CPU
/// check behind precision.compute = "bf16".
int tessera_onednn_native_bf16(void);

/// One matmul primitive for one shape: c (m, n) fp32 = op(a) · op(b), or c += op(a) · op(b) when
/// `accumulate`. a and b are row-major bf16 (`bf16_inputs`) or fp32, op(a) = a (m, k) with
/// leading dimension lda, or aᵀ of a stored (k, m) when `trans_a`; likewise b (k, n) or bᵀ.
typedef struct tessera_matmul tessera_matmul;

/// The primitive, or NULL when oneDNN has no implementation for it on this CPU.
tessera_matmul *tessera_matmul_create(int bf16_inputs, int trans_a, int trans_b, long m, long n, long k,
                                      long lda, long ldb, long ldc, int accumulate, int threads);
/// Runs it on `threads` OpenMP threads; 0 on success, oneDNN's status otherwise.
int tessera_matmul_run(tessera_matmul *matmul, const void *a, const void *b, float *c, int threads);
void tessera_matmul_destroy(tessera_matmul *matmul);

#endif
