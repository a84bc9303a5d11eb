// Elementwise kernels (GELU, AdamW) compiled for several instruction sets, chosen at run time
// (target_clones): Swift builds for baseline x86-64, where these loops run 4 lanes wide without
// FMA; AVX2 and AVX-512 run them 2-4x faster and the binary still starts on any x86-64.
#ifndef TESSERA_CKERNELS_H
#define TESSERA_CKERNELS_H
#include <stddef.h>

/// out[i] = GELU(inp[i]), tanh approximation.
void tessera_gelu_forward(float *out, const float *inp, size_t n);
/// dinp[i] = GELU'(inp[i]) * dout[i]; dinp must not alias dout or inp.
void tessera_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/// One AdamW step over n parameters with gradient g = grads·grad_scale: m, v updated in place,
/// params ← params·decay − step_size·m/(√v/root_correction2 + eps); grads are left zero.
void tessera_adamw(float *params, float *m, float *v, float *grads, size_t n, float grad_scale, float beta1,
                   float beta2, float eps, float decay, float step_size, float root_correction2);

#endif
