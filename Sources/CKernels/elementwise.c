#include "ckernels.h"
#include <stdint.h>
#include <string.h>

// No fused multiply-add: every clone then rounds exactly alike, so replicas on different CPUs
// (AVX-512 on one node, AVX2 on another) keep bit-identical parameters.
#pragma clang fp contract(off)

#include "multiversion.h"

// e^x by range reduction and a degree-7 polynomial: the same arithmetic as Kernels' fastExp,
// relative error below 2e-7, pure arithmetic so that the loops vectorise.
static inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float shifter = 12582912.0f;
    float shifted = x * 1.44269504f + shifter;
    float k = shifted - shifter;
    float r = x - k * 0.69314575f - k * 1.4286068e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t shifted_bits, shifter_bits;
    memcpy(&shifted_bits, &shifted, 4);
    memcpy(&shifter_bits, &shifter, 4);
    uint32_t bits = (shifted_bits - shifter_bits + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

static inline float tanh_approx(float x) { return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f); }

#define GELU_SCALE 0.7978845608f  // sqrt(2 / pi)

MULTIVERSION
void tessera_gelu_forward(float *restrict out, const float *restrict inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanh_approx(u));
    }
}

MULTIVERSION
void tessera_gelu_backward(float *restrict dinp, const float *restrict dout, const float *restrict inp,
                           size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float th = tanh_approx(u);
        float sech2 = 1.0f - th * th;
        float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = grad * dout[i];
    }
}

MULTIVERSION
void tessera_adamw(float *restrict params, float *restrict m, float *restrict v, float *restrict grads,
                   size_t n, float grad_scale, float beta1, float beta2, float eps, float decay, float step_size,
                   float root_correction2) {
    // Clipping's scale and the next step's zeroing ride along: one pass over the gradients
    // instead of three (the optimizer is memory-bound).
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * grad_scale;
        grads[i] = 0.0f;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] * decay - step_size * mi / (__builtin_sqrtf(vi) / root_correction2 + eps);
    }
}
