// fp32 <-> bf16 / fp16 conversions for 16-bit gradient all-reduce. Every code path gives the same
// bits for every input (NaNs included), so replicas on different CPUs stay bit-identical.
#include "ckernels.h"
#include <string.h>

#include "multiversion.h"
#ifdef __x86_64__
#define HAVE_VECTOR_PATH 1
#include <immintrin.h>
#endif

static inline uint32_t float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// MARK: bf16 — portable integer loops (any CPU, and the AVX2 loops' tails).

static inline uint16_t bf16_from_float(float f) {
    uint32_t u = float_bits(f);
    // Round to nearest even: add 0x7FFF plus the kept part's lowest bit. A carry out of the
    // mantissa bumps the exponent, so the largest values round up to inf as IEEE requires.
    uint16_t rounded = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    // NaN: rounding could carry it into inf; truncate and set the quiet bit instead.
    uint16_t nan = (uint16_t)((u >> 16) | 0x0040u);
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded;
}

static inline float bf16_to_float(uint16_t h) { return bits_float((uint32_t)h << 16); }

static void float_to_bf16_portable(const float *restrict src, uint16_t *restrict dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = bf16_from_float(src[i]);
}

static void bf16_accumulate_round_portable(const uint16_t *restrict src, float *restrict sum,
                                           uint16_t *restrict rounded, long n) {
    for (long i = 0; i < n; i++) {
        uint16_t h = bf16_from_float(sum[i] + bf16_to_float(src[i]));
        rounded[i] = h;
        sum[i] = bf16_to_float(h);
    }
}

// Widening is a shift, which the compiler vectorises well by itself in every clone.
MULTIVERSION
void tessera_bf16_to_float(const uint16_t *restrict src, float *restrict dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = bf16_to_float(src[i]);
}

MULTIVERSION
void tessera_bf16_accumulate(const uint16_t *restrict src, float *restrict dst, long n) {
    for (long i = 0; i < n; i++) dst[i] += bf16_to_float(src[i]);
}

// MARK: fp16 — portable bit manipulation (any CPU, and the F16C loops' tails).

static inline uint16_t fp16_from_float(float f) {
    uint32_t u = float_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    // Below 2^-14 the result is subnormal or zero: adding 0.5 lines the fp16 ulp (2^-24) up with
    // the float ulp at 0.5, so the FPU's own round-to-nearest-even does the rounding.
    uint16_t subnormal = (uint16_t)(float_bits(bits_float(a) + 0.5f) - float_bits(0.5f));
    // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even;
    // a carry bumps the exponent, and from 65520 up it reaches 0x7C00 = inf.
    uint16_t normal = (uint16_t)((a - (112u << 23) + 0xFFFu + ((a >> 13) & 1u)) >> 13);
    // NaN as F16C converts it: quiet bit set, payload truncated to its top 10 bits.
    uint16_t nan = (uint16_t)(0x7E00u | ((a >> 13) & 0x3FFu));
    uint16_t magnitude = a > 0x7F800000u   ? nan
                         : a >= 0x47800000u ? 0x7C00u  // >= 65536 (and inf): the carry would overshoot
                         : a >= 0x38800000u ? normal
                                            : subnormal;
    return (uint16_t)(sign | magnitude);
}

static inline float fp16_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    // Normal: rebias the exponent (15 -> 127). Subnormal (exact in float): mantissa · 2^-24.
    // Inf/NaN: all-ones exponent, NaNs quieted as F16C does.
    uint32_t normal = ((exponent + 112u) << 23) | (mantissa << 13);
    uint32_t special = 0x7F800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0u);
    uint32_t subnormal = float_bits((float)mantissa * 0x1p-24f);
    uint32_t magnitude = exponent == 0x1Fu ? special : exponent ? normal : subnormal;
    return bits_float(sign | magnitude);
}

static void float_to_fp16_portable(const float *restrict src, uint16_t *restrict dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = fp16_from_float(src[i]);
}

static void fp16_to_float_portable(const uint16_t *restrict src, float *restrict dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = fp16_to_float(src[i]);
}

static void fp16_accumulate_portable(const uint16_t *restrict src, float *restrict dst, long n) {
    for (long i = 0; i < n; i++) dst[i] += fp16_to_float(src[i]);
}

static void fp16_accumulate_round_portable(const uint16_t *restrict src, float *restrict sum,
                                           uint16_t *restrict rounded, long n) {
    for (long i = 0; i < n; i++) {
        uint16_t h = fp16_from_float(sum[i] + fp16_to_float(src[i]));
        rounded[i] = h;
        sum[i] = fp16_to_float(h);
    }
}

// MARK: The vector path: F16C for fp16, AVX2 integer lanes for bf16 rounding (the compiler's own
// vectorisation of the rounding loop ran at a third of F16C's speed). target_clones can't hold
// these intrinsics (clang compiles the body for the default clone too and crashes in the backend),
// so they are separate target("avx2,f16c") functions chosen at run time by __builtin_cpu_supports.
// They run on AVX-512 CPUs too: a wider variant would gain little on memory-bound loops, and this
// machine could not test it.

#ifdef HAVE_VECTOR_PATH
#define VECTOR_TARGET __attribute__((target("avx2,f16c")))

// float(bf16(x)) for 8 finite or infinite floats (no NaN): bf16_from_float lane-wise, the result
// left in the high 16 bits. Shifts are avoided (Zen 1 runs vector shifts on one pipe, which
// bounded the loop): the round-to-even bias takes the kept part's lowest bit by a compare, and the
// result is masked, not shifted, into place.
VECTOR_TARGET static inline __m256i bf16_round8(__m256 x) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u), lowestKept = _mm256_set1_epi32(0x10000);
    __m256i u = _mm256_castps_si256(x);
    __m256i odd = _mm256_cmpeq_epi32(_mm256_and_si256(u, lowestKept), lowestKept);  // -1 where the kept part is odd
    return _mm256_and_si256(_mm256_sub_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), odd), high);
}

// All ones in lane i where a[i] or b[i] is a NaN: one compare covers 16 floats.
VECTOR_TARGET static inline __m256 nan_lanes16(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_UNORD_Q); }

VECTOR_TARGET static inline int any_lane(__m256 mask) { return !_mm256_testz_ps(mask, mask); }

// The high halves of 16 lanes, in order (two rounded vectors of 8).
VECTOR_TARGET static inline __m256i narrow16(__m256i first, __m256i second) {
    __m256i packed = _mm256_packus_epi32(_mm256_srli_epi32(first, 16), _mm256_srli_epi32(second, 16));
    return _mm256_permute4x64_epi64(packed, 0xD8);
}

// 8 bf16 values widened to float: each 16 bits moved to the top of a 32-bit lane.
VECTOR_TARGET static inline __m256 bf16_widen8(const uint16_t *src) {
    __m128i h = _mm_loadu_si128((const __m128i *)src), zero = _mm_setzero_si128();
    return _mm256_castsi256_ps(_mm256_set_m128i(_mm_unpackhi_epi16(zero, h), _mm_unpacklo_epi16(zero, h)));
}

// NaNs are rare (an overflowed gradient): the loop only notes them, and a call that met one
// converts everything again through the portable loop (1.1x faster than checking each block,
// 3.4 against 3.7 G elements/s in L2).
VECTOR_TARGET static void float_to_bf16_vector(const float *restrict src, uint16_t *restrict dst, long n) {
    long i = 0;
    __m256 nan = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(src + i), b = _mm256_loadu_ps(src + i + 8);
        nan = _mm256_or_ps(nan, nan_lanes16(a, b));
        _mm256_storeu_si256((__m256i *)(dst + i), narrow16(bf16_round8(a), bf16_round8(b)));
    }
    if (any_lane(nan)) i = 0;
    float_to_bf16_portable(src + i, dst + i, n - i);
}

VECTOR_TARGET static void bf16_accumulate_round_vector(const uint16_t *restrict src, float *restrict sum,
                                                       uint16_t *restrict rounded, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_add_ps(_mm256_loadu_ps(sum + i), bf16_widen8(src + i));
        __m256 b = _mm256_add_ps(_mm256_loadu_ps(sum + i + 8), bf16_widen8(src + i + 8));
        if (any_lane(nan_lanes16(a, b))) {  // the sums are written in place: no second pass
            bf16_accumulate_round_portable(src + i, sum + i, rounded + i, 16);
            continue;
        }
        __m256i first = bf16_round8(a), second = bf16_round8(b);
        _mm256_storeu_si256((__m256i *)(rounded + i), narrow16(first, second));
        _mm256_storeu_ps(sum + i, _mm256_castsi256_ps(first));
        _mm256_storeu_ps(sum + i + 8, _mm256_castsi256_ps(second));
    }
    bf16_accumulate_round_portable(src + i, sum + i, rounded + i, n - i);
}

VECTOR_TARGET
static void float_to_fp16_vector(const float *restrict src, uint16_t *restrict dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    float_to_fp16_portable(src + i, dst + i, n - i);
}

VECTOR_TARGET
static void fp16_to_float_vector(const uint16_t *restrict src, float *restrict dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    fp16_to_float_portable(src + i, dst + i, n - i);
}

VECTOR_TARGET
static void fp16_accumulate_vector(const uint16_t *restrict src, float *restrict dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_loadu_ps(dst + i), x));
    }
    fp16_accumulate_portable(src + i, dst + i, n - i);
}

VECTOR_TARGET
static void fp16_accumulate_round_vector(const uint16_t *restrict src, float *restrict sum, uint16_t *restrict rounded,
                                       long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 s = _mm256_add_ps(_mm256_loadu_ps(sum + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
        __m128i h = _mm256_cvtps_ph(s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(rounded + i), h);
        _mm256_storeu_ps(sum + i, _mm256_cvtph_ps(h));
    }
    fp16_accumulate_round_portable(src + i, sum + i, rounded + i, n - i);
}
#endif

// The CPU's best path, found once (-1: not yet); the cap lets tests pin the portable path.
static int detected_path = -1;
static int path_cap = TESSERA_HALF_VECTOR;

int tessera_half_path(void) {
    int path = __atomic_load_n(&detected_path, __ATOMIC_RELAXED);
    if (path < 0) {
        path = TESSERA_HALF_PORTABLE;
#ifdef HAVE_VECTOR_PATH
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) path = TESSERA_HALF_VECTOR;
#endif
        __atomic_store_n(&detected_path, path, __ATOMIC_RELAXED);
    }
    int cap = __atomic_load_n(&path_cap, __ATOMIC_RELAXED);
    return path < cap ? path : cap;
}

void tessera_half_cap_path(int cap) { __atomic_store_n(&path_cap, cap, __ATOMIC_RELAXED); }

#ifdef HAVE_VECTOR_PATH
#define DISPATCH(name, ...)                                                                                  \
    (tessera_half_path() == TESSERA_HALF_VECTOR ? name##_vector(__VA_ARGS__) : name##_portable(__VA_ARGS__))
#else
#define DISPATCH(name, ...) name##_portable(__VA_ARGS__)
#endif

void tessera_float_to_fp16(const float *src, uint16_t *dst, long n) { DISPATCH(float_to_fp16, src, dst, n); }
void tessera_float_to_bf16(const float *src, uint16_t *dst, long n) { DISPATCH(float_to_bf16, src, dst, n); }
void tessera_bf16_accumulate_round(const uint16_t *src, float *sum, uint16_t *rounded, long n) {
    DISPATCH(bf16_accumulate_round, src, sum, rounded, n);
}
void tessera_fp16_to_float(const uint16_t *src, float *dst, long n) { DISPATCH(fp16_to_float, src, dst, n); }
void tessera_fp16_accumulate(const uint16_t *src, float *dst, long n) { DISPATCH(fp16_accumulate, src, dst, n); }
void tessera_fp16_accumulate_round(const uint16_t *src, float *sum, uint16_t *rounded, long n) {
    DISPATCH(fp16_accumulate_round, src, sum, rounded, n);
}
