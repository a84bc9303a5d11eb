// Elementwise kernels (GELU, SwiGLU, GeGLU, AdamW) compiled for several instruction sets, chosen at run time
// (target_clones): Swift builds for baseline x86-64, where these loops run 4 lanes wide without
// FMA; AVX2 and AVX-512 run them 2-4x faster and the binary still starts on any x86-64.
#ifndef TESSERA_CKERNELS_H
#define TESSERA_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// out[i] = GELU(inp[i]), tanh approximation.
void tessera_gelu_forward(float *out, const float *inp, size_t n);
/// dinp[i] = GELU'(inp[i]) * dout[i]; dinp must not alias dout or inp.
void tessera_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/// SwiGLU over rows of gateup (rows, 2·hidden), each [gate (hidden) | up (hidden)]:
/// out (rows, hidden) = silu(gate) * up, silu(x) = x * sigmoid(x).
void tessera_swiglu_forward(float *out, const float *gateup, size_t rows, size_t hidden);
/// dgateup (rows, 2·hidden) = [dout * up * silu'(gate) | dout * silu(gate)]; must not alias dout or gateup.
void tessera_swiglu_backward(float *dgateup, const float *dout, const float *gateup, size_t rows, size_t hidden);

/// GeGLU over rows of gateup (rows, 2·hidden), each [gate (hidden) | up (hidden)]:
/// out (rows, hidden) = gelu(gate) * up, GELU's tanh approximation.
void tessera_geglu_forward(float *out, const float *gateup, size_t rows, size_t hidden);
/// dgateup (rows, 2·hidden) = [dout * up * gelu'(gate) | dout * gelu(gate)]; must not alias dout or gateup.
void tessera_geglu_backward(float *dgateup, const float *dout, const float *gateup, size_t rows, size_t hidden);

/// One AdamW step over n parameters with gradient g = grads·grad_scale: m, v updated in place,
/// params ← params·decay − step_size·m/(√v/root_correction2 + eps); grads are left zero.
void tessera_adamw(float *params, float *m, float *v, float *grads, size_t n, float grad_scale, float beta1,
                   float beta2, float eps, float decay, float step_size, float root_correction2);

// 16-bit gradient formats for all-reduce (halfprecision.c). Conversions to 16 bits round to
// nearest even, overflow to ±inf, and keep ±inf and NaN (quieted). Every code path
// gives the same bits, so replicas on different CPUs agree.
/// dst[i] = bf16(src[i]).
void tessera_float_to_bf16(const float *src, uint16_t *dst, long n);
/// dst[i] = float(src[i]): exact, the bits shifted up 16.
void tessera_bf16_to_float(const uint16_t *src, float *dst, long n);
/// dst[i] += float(src[i]).
void tessera_bf16_accumulate(const uint16_t *src, float *dst, long n);
/// rounded[i] = bf16(sum[i] + float(src[i])); sum[i] = float(rounded[i]): the last contribution
/// of a reduction, its result rounded once and handed out, in one pass.
void tessera_bf16_accumulate_round(const uint16_t *src, float *sum, uint16_t *rounded, long n);
/// dst[i] = fp16(src[i]), IEEE binary16 with subnormals.
void tessera_float_to_fp16(const float *src, uint16_t *dst, long n);
/// dst[i] = float(src[i]): exact, NaNs quieted (as F16C does).
void tessera_fp16_to_float(const uint16_t *src, float *dst, long n);
/// dst[i] += float(src[i]).
void tessera_fp16_accumulate(const uint16_t *src, float *dst, long n);
/// rounded[i] = fp16(sum[i] + float(src[i])); sum[i] = float(rounded[i]).
void tessera_fp16_accumulate_round(const uint16_t *src, float *sum, uint16_t *rounded, long n);

/// The conversions' code paths: portable C, or vector (F16C for fp16, AVX2 for bf16 rounding).
enum { TESSERA_HALF_PORTABLE = 0, TESSERA_HALF_VECTOR = 1 };
/// The path the conversions take on this CPU, after any cap.
int tessera_half_path(void);
/// Caps the path (tests pin TESSERA_HALF_PORTABLE to check it on a vector CPU); process-wide.
void tessera_half_cap_path(int cap);

/// CRC-32C of n bytes, continuing from `crc` (0 to start): crc = tessera_crc32c(crc, next, n).
uint32_t tessera_crc32c(uint32_t crc, const void *data, size_t n);

#endif
