/* edgecxr engine: fixed-point primitives shared by the generated layers.
 *
 * Each function computes exactly what TensorFlow Lite's reference kernels compute
 * (tensorflow/lite/kernels/internal/common.h and gemmlowp's fixedpoint.h), in plain C99:
 * the saturating rounding doubling high multiply, the rounding divide by a power of two, and
 * their composition MultiplyByQuantizedMultiplier (the "double rounding" form TFLite uses by
 * default). Signed right shifts are arithmetic on every compiler this targets (gcc, clang).
 * Written by edgecxr; do not edit (regenerate instead). */
#ifndef EDGECXR_OPS_H
#define EDGECXR_OPS_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define ECX_DSP 1
#else
#define ECX_DSP 0
#endif

#if defined(__GNUC__)
#define ECX_INLINE static inline __attribute__((always_inline))
#else
#define ECX_INLINE static inline
#endif

/* gemmlowp SaturatingRoundingDoublingHighMul */
ECX_INLINE int32_t ecx_srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: round half away from zero */
ECX_INLINE int32_t ecx_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (shift > 0: left shift first, else rounding right shift after) */
ECX_INLINE int32_t ecx_requant(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return ecx_rdbpot(ecx_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

ECX_INLINE int32_t ecx_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* std::round on a float: half away from zero, without libm */
ECX_INLINE float ecx_roundf(float x)
{
    const float a = x < 0.0f ? -x : x;
    float r;
    if (a >= 8388608.0f) {
        return x; /* already an integer */
    }
    r = (float)(int32_t)a;
    if (a - r >= 0.5f) {
        r += 1.0f;
    }
    return x < 0.0f ? -r : r;
}

/* (int32_t)round(acc * scale) in double, as LiteRT's reference FULLY_CONNECTED requantizes */
ECX_INLINE int32_t ecx_requant_double(int32_t acc, double scale)
{
    const double v = (double)acc * scale;
    const double a = v < 0.0 ? -v : v;
    double r;
    if (a >= 2147483648.0) {
        return v < 0.0 ? INT32_MIN : INT32_MAX;
    }
    r = (double)(int64_t)a;
    if (a - r >= 0.5) {
        r += 1.0;
    }
    return (int32_t)(v < 0.0 ? -r : r);
}

#endif /* EDGECXR_OPS_H */
