#include "ckernels.h"
#include <string.h>

// No fused multiply-add: every clone then rounds exactly alike, so replicas on different CPUs
// (AVX-512 on one node, AVX2 on another) keep bit-identical parameters.
#pragma clang fp contract(off)

#include "multiversion.h"

// tanh as x·P(x²)/Q(x²), a rational fit of our own (numerator degree 13, denominator degree 6)
// with absolute error below 4e-7 in float on [-9, 9]; beyond that tanh rounds to ±1. Pure
// arithmetic with two independent polynomial chains, so the loops vectorise and overlap well:
// about a quarter faster than tanh through e^x.
static inline float tanh_rational(float x) {
    x = x < -9.0f ? -9.0f : (x > 9.0f ? 9.0f : x);
    float s = x * x;
    float num = -8.642419185641e-14f;
    num = num * s + 5.329151251531e-11f;
    num = num * s - 2.031270180802e-08f;
    num = num * s + 1.117165367683e-05f;
    num = num * s + 3.105340268041e-03f;
    num = num * s + 1.308515551281e-01f;
    num = num * s + 9.999999737804e-01f;
    float den = 2.548329870159e-04f;
    den = den * s + 2.450040440145e-02f;
    den = den * s + 4.641847769301e-01f;
    den = den * s + 1.0f;
    float t = x * num / den;
    return t > 1.0f ? 1.0f : (t < -1.0f ? -1.0f : t);
}

// e^x by range reduction and a degree-7 polynomial: the same arithmetic as Kernels' fastExp,
// relative error below 2e-7; it clamps to [-87, 88]. Pure arithmetic, so the loops vectorise.
static inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds x / ln 2 to an integer k
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
    uint32_t bits;
    memcpy(&bits, &shifted, 4);
    bits = (bits - 0x4B3FFF81u) << 23;  // k + 127 in the exponent field: 2^k
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

// 1 / (1 + e^-x). Measured through silu, x·sigmoid(x): relative error below 2e-7 for x ≥ -87,
// where 0.5 + 0.5·tanh(x/2) would lose all relative accuracy on the negative side; below -87 the
// clamped e^-x keeps it finite and silu (~1e-36) is only absolutely right.
static inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

#define GELU_SCALE 0.7978845608f  // sqrt(2 / pi)

// GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), GPT-2's and Hugging
// Face's "gelu_new"; and its derivative. Shared by GELU and GeGLU, so both round alike.
static inline float gelu_tanh(float x) {
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanh_rational(u));
}

static inline float gelu_tanh_grad(float x) {
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    float th = tanh_rational(u);
    float sech2 = 1.0f - th * th;
    return 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
}

MULTIVERSION
void tessera_gelu_forward(float *restrict out, const float *restrict inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = gelu_tanh(inp[i]);
}

MULTIVERSION
void tessera_gelu_backward(float *restrict dinp, const float *restrict dout, const float *restrict inp,
                           size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] = gelu_tanh_grad(inp[i]) * dout[i];
}

MULTIVERSION
void tessera_swiglu_forward(float *restrict out, const float *restrict gateup, size_t rows, size_t hidden) {
    for (size_t r = 0; r < rows; r++) {
        const float *gate = gateup + r * 2 * hidden, *up = gate + hidden;
        float *o = out + r * hidden;
        for (size_t i = 0; i < hidden; i++) {
            float g = gate[i];
            o[i] = g * sigmoid_approx(g) * up[i];
        }
    }
}

MULTIVERSION
void tessera_swiglu_backward(float *restrict dgateup, const float *restrict dout, const float *restrict gateup,
                             size_t rows, size_t hidden) {
    for (size_t r = 0; r < rows; r++) {
        const float *gate = gateup + r * 2 * hidden, *up = gate + hidden, *d = dout + r * hidden;
        float *dgate = dgateup + r * 2 * hidden, *dup = dgate + hidden;
        for (size_t i = 0; i < hidden; i++) {
            float g = gate[i], s = sigmoid_approx(g);
            // silu'(g) = s + g·s·(1 − s) = s·(1 + g·(1 − s)).
            dgate[i] = d[i] * up[i] * (s * (1.0f + g * (1.0f - s)));
            dup[i] = d[i] * (g * s);
        }
    }
}

MULTIVERSION
void tessera_geglu_forward(float *restrict out, const float *restrict gateup, size_t rows, size_t hidden) {
    for (size_t r = 0; r < rows; r++) {
        const float *gate = gateup + r * 2 * hidden, *up = gate + hidden;
        float *o = out + r * hidden;
        for (size_t i = 0; i < hidden; i++) o[i] = gelu_tanh(gate[i]) * up[i];
    }
}

MULTIVERSION
void tessera_geglu_backward(float *restrict dgateup, const float *restrict dout, const float *restrict gateup,
                            size_t rows, size_t hidden) {
    for (size_t r = 0; r < rows; r++) {
        const float *gate = gateup + r * 2 * hidden, *up = gate + hidden, *d = dout + r * hidden;
        float *dgate = dgateup + r * 2 * hidden, *dup = dgate + hidden;
        for (size_t i = 0; i < hidden; i++) {
            float g = gate[i];
            dgate[i] = d[i] * up[i] * gelu_tanh_grad(g);
            dup[i] = d[i] * gelu_tanh(g);
        }
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
        // The elementwise builtin never sets errno, so unlike sqrtf the loop vectorises.
        params[i] = params[i] * decay - step_size * mi / (__builtin_elementwise_sqrt(vi) / root_correction2 + eps);
    }
}
