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

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
#define ECX_DSP 1
#else
#define ECX_DSP 0
#endif

/* ECX_UNROLL: unroll the loop that follows completely when its trip count is a small constant
 * (a 3x3 depthwise tap loop: the branch and the counter go, the weight offsets become constants) */
#if defined(__GNUC__) && !defined(__clang__) && (__GNUC__ >= 8)
#define ECX_UNROLL _Pragma("GCC unroll 16")
#else
#define ECX_UNROLL
#endif

#if defined(__GNUC__)
#define ECX_INLINE static inline __attribute__((always_inline))
/* each layer its own function: inlined into edgecxr_invoke (gcc decides by size, so a change in
 * one layer could move another) it loses registers to its neighbours */
#define ECX_LAYER static __attribute__((noinline))
#else
#define ECX_INLINE static inline
#define ECX_LAYER static
#endif

/* gemmlowp SaturatingRoundingDoublingHighMul for b >= 0 (every multiplier the generator emits):
 * TFLite's trunc((ab + (ab >= 0 ? 2^30 : 1 - 2^30)) / 2^31) equals floor((ab + 2^30) / 2^31) for
 * every ab (both round halves away from zero), and saturation needs a == b == INT32_MIN.
 * One SMLAL and a shift on a Cortex-M. */
ECX_INLINE int32_t ecx_srdhm(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT (0 <= exponent <= 31): round half away from zero; the threshold
 * (mask >> 1) + (x < 0) written with x >> 31, which is -1 for a negative x */
ECX_INLINE int32_t ecx_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    return (x >> exponent) + ((x & mask) > ((mask >> 1) - (x >> 31)));
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

ECX_INLINE uint32_t ecx_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

#if ECX_DSP
/* (byte 1, byte 3) of v sign-extended to int16 halves: SXTB16 with its ROR #8 operand */
ECX_INLINE int32_t ecx_sxtb16_ror8(uint32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#endif

/* Requantize one sum to the output: TFLite's multiplier and shift, zero point, activation clamp.
 * may_left is a constant of the layer (ECX_SHIFT_*): ANY when some channel shifts left first;
 * RIGHT when every shift is <= 0; RIGHT1 when every shift is <= -1 and the generator proved from
 * the layer's largest possible sum that y + (2 zp + 1) 2^(e-1) cannot overflow: then the rounding
 * divide and the zero point are one step, (y + (2 zp + 1) 2^(e-1) + (y >> 31)) >> e, which is
 * ecx_rdbpot(y, e) + zp (zp whole, so it passes through the floor) with four instructions fewer;
 * in these two modes the generator stores e = -shift, so shift is the right shift itself.
 * RIGHT1S is RIGHT1 when the bound is also below 2^30: then 2 * acc fits in int32 and
 * SMMULR(2 * acc, mult) = floor((2 * acc * mult + 2^31) / 2^32) is exactly ecx_srdhm(acc, mult),
 * two instructions instead of five. */
#define ECX_SHIFT_RIGHT1 0
#define ECX_SHIFT_RIGHT 1
#define ECX_SHIFT_ANY 2
#define ECX_SHIFT_RIGHT1S 3
ECX_INLINE int8_t ecx_out(int32_t acc, int32_t mult, int shift, int may_left, int32_t zp, int32_t lo, int32_t hi)
{
    if (may_left == ECX_SHIFT_ANY) {
        acc = ecx_requant(acc, mult, shift) + zp;
    } else if (may_left == ECX_SHIFT_RIGHT) {
        acc = ecx_rdbpot(ecx_srdhm(acc, mult), -shift) + zp;
    } else {
        int32_t y;
#if ECX_DSP
        if (may_left == ECX_SHIFT_RIGHT1S) {
            __asm__("smmulr %0, %1, %2" : "=r"(y) : "r"(acc * 2), "r"(mult));
        } else
#endif
        {
            y = ecx_srdhm(acc, mult);
        }
        acc = (y + ((int32_t)((uint32_t)(2 * zp + 1) << shift) >> 1) + (y >> 31)) >> shift;
    }
#if ECX_DSP
    if (lo == -128 && hi == 127) {
        return (int8_t)__ssat(acc, 8); /* the whole int8 range: one SSAT */
    }
#endif
    return (int8_t)(acc < lo ? lo : (acc > hi ? hi : acc));
}

/* Column buffers hold input values as int16 in groups of 4 (the input offset is folded into the
 * bias; a padded tap holds the input zero point). The DSP path stores each group as (k0, k2, k1,
 * k3) so that SXTB16 of four weights in natural order, (w0, w2) and (w1, w3), pairs with them
 * directly; the portable path keeps natural order. */
#if ECX_DSP
#define ECX_COLPOS(k) (((k) & ~3) | (((k) & 1) << 1) | (((k) >> 1) & 1))
#else
#define ECX_COLPOS(k) (k)
#endif

/* Column buffers of a group of n pixels (n <= 8) with rows of k4 values. On an Arm core they are
 * interleaved so that one walk over k reads all n pixels and each weight load serves n of them
 * (pixel j's value k at 4 n (k / 4) + 4 j + ECX_COLPOS(k % 4); with DSP two words per pixel and
 * group of four in one LDRD); on the host each pixel's row stays contiguous (j k4 + k), a plain
 * dot product its compiler vectorizes. */
#if defined(__arm__) || defined(__thumb__)
#define ECX_INTERLEAVED 1
#define ECX_COL(n, k4, j, k) (4 * (n) * ((k) / 4) + 4 * (j) + ECX_COLPOS((k) % 4))
#else
#define ECX_INTERLEAVED 0
#define ECX_COL(n, k4, j, k) ((j) * (k4) + (k))
#endif

/* ecx_pw_gather: pixel j's c4 input values (a multiple of 4) into its slots of an n-pixel group,
 * as they are: the convolutions fold the input offset into their bias, so no add. */
ECX_INLINE void ecx_pw_gather(int16_t *col, int j, const int8_t *x, int c4, int n)
{
    int c;
#if ECX_INTERLEAVED
    for (c = 0, col += 4 * j; c < c4; c += 4, col += 4 * n) {
#if ECX_DSP
        const uint32_t v = ecx_ld32(x + c);
        const int32_t lo = __sxtb16((int32_t)v), hi = ecx_sxtb16_ror8(v);
        memcpy(col, &lo, 4);
        memcpy(col + 2, &hi, 4);
#else
        col[0] = x[c];
        col[1] = x[c + 1];
        col[2] = x[c + 2];
        col[3] = x[c + 3];
#endif
    }
#else
    (void)n;
    for (c = 0, col += j * c4; c < c4; ++c) {
        col[c] = x[c];
    }
#endif
}

#if ECX_DSP
/* Two adjacent words of an 8-byte aligned buffer in one LDRD (gcc splits a 64-bit load into two
 * LDR when it schedules); the "m" operand tells the compiler which memory it reads. */
#define ECX_LDRD(p, off, lo, hi)                                                                       \
    __asm__("ldrd %0, %1, [%2, #%c3]" : "=r"(lo), "=r"(hi) : "r"(p), "i"(off), "m"(*(const int16_t(*)[4])((p) + (off) / 2)))
#endif

/* pixel j (< n) of an interleaved group times the weights' current word, into aj (with DSP the
 * word's halves wl, wh) */
#if ECX_DSP
#define ECX_PW_MAC(j)                                                         \
    if (n > (j)) {                                                            \
        int32_t xl, xh;                                                       \
        ECX_LDRD(col, 8 * (j), xl, xh);                                       \
        a##j = __smlad(wl, xl, a##j);                                         \
        a##j = __smlad(wh, xh, a##j);                                         \
    }
#else
#define ECX_PW_MAC(j)                                                                            \
    if (n > (j)) {                                                                               \
        a##j += col[4 * (j)] * w[0] + col[4 * (j) + 1] * w[1] + col[4 * (j) + 2] * w[2] +        \
                col[4 * (j) + 3] * w[3];                                                         \
    }
#endif

/* One output channel (a weight row) times a group of n <= 8 interleaved pixel columns, n a
 * constant after inlining: each weight word is loaded and sign-extended once for n pixels, then
 * every column word feeds one SMLAD (2n SMLAD, one load and two SXTB16 per 4 input channels).
 * On the host: one plain dot product per pixel row. */
ECX_INLINE void ecx_dot_1xn(const int16_t *col, const int8_t *w, int k4, int n, int32_t *r)
{
#if ECX_INTERLEAVED
    int32_t a0 = r[0], a1 = r[1], a2 = r[2], a3 = r[3], a4 = r[4], a5 = r[5], a6 = r[6], a7 = r[7];
    const int8_t *const end = w + k4;
    do {
#if ECX_DSP
        const uint32_t v = ecx_ld32(w);
        const int32_t wl = __sxtb16((int32_t)v), wh = ecx_sxtb16_ror8(v);
#endif
        ECX_PW_MAC(0)
        ECX_PW_MAC(1)
        ECX_PW_MAC(2)
        ECX_PW_MAC(3)
        ECX_PW_MAC(4)
        ECX_PW_MAC(5)
        ECX_PW_MAC(6)
        ECX_PW_MAC(7)
        w += 4;
        col += 4 * n;
    } while (w != end);
    r[0] = a0;
    r[1] = a1;
    r[2] = a2;
    r[3] = a3;
    r[4] = a4;
    r[5] = a5;
    r[6] = a6;
    r[7] = a7;
#else
    int j, k;
    for (j = 0; j < n; ++j, col += k4) {
        int32_t a = r[j];
        for (k = 0; k < k4; ++k) {
            a += col[k] * w[k];
        }
        r[j] = a;
    }
#endif
}

/* One depthwise output pixel whose taps all lie inside the input (or read a row of the input
 * zero point): tap (ky, kx) of channel c reads rows[ky][kx * step + c] (an interior pixel passes
 * its kh input rows and step = dilation * channels; a border pixel its kh * kw tap pointers with
 * kw = 1), and acc[c] = biasf[c] + sum over taps t = ky * kw + kx of x * w[t * ch + c], where
 * biasf already holds the input offset times the weights' sum; out[c] requantized. With DSP, for
 * c < c4 (a multiple of 4) the weights come pre-extended from w16, group-major: for each group of
 * four channels and each tap, the int16 pairs (c0, c2) and (c1, c3), as SXTB16 splits four input
 * bytes, so each tap costs one input load, two SXTB16 and four 16x16 multiply-accumulates. The
 * portable build reads the int8 weights w only (four channels at a time as well), so w16 leaves
 * its image (a core without DSP stores the depthwise weights once). */
ECX_INLINE void ecx_dw_pixel(const int8_t *const *rows, int kh, int kw, int step, const int32_t *w16,
                             const int8_t *w, int ch, int c4, const int32_t *biasf, const int32_t *mult,
                             const int8_t *shift, int may_left, int32_t zp, int32_t lo, int32_t hi, int8_t *out)
{
    int c = 0, ky, kx;
#if ECX_DSP
    for (; c < c4; c += 4) {
        int32_t a0 = biasf[c], a1 = biasf[c + 1], a2 = biasf[c + 2], a3 = biasf[c + 3];
        ECX_UNROLL
        for (ky = 0; ky < kh; ++ky) {
            const int8_t *r = rows[ky] + c;
            ECX_UNROLL
            for (kx = 0; kx < kw; ++kx, w16 += 2) {
                const uint32_t xv = ecx_ld32(r + kx * step);
                const int32_t x02 = __sxtb16((int32_t)xv), x13 = ecx_sxtb16_ror8(xv);
                a0 = __smlabb(x02, w16[0], a0);
                a2 = __smlatt(x02, w16[0], a2);
                a1 = __smlabb(x13, w16[1], a1);
                a3 = __smlatt(x13, w16[1], a3);
            }
        }
        out[c] = ecx_out(a0, mult[c], shift[c], may_left, zp, lo, hi);
        out[c + 1] = ecx_out(a1, mult[c + 1], shift[c + 1], may_left, zp, lo, hi);
        out[c + 2] = ecx_out(a2, mult[c + 2], shift[c + 2], may_left, zp, lo, hi);
        out[c + 3] = ecx_out(a3, mult[c + 3], shift[c + 3], may_left, zp, lo, hi);
    }
#else
    for (; c < c4; c += 4) {
        int32_t a0 = biasf[c], a1 = biasf[c + 1], a2 = biasf[c + 2], a3 = biasf[c + 3];
        for (ky = 0; ky < kh; ++ky) {
            for (kx = 0; kx < kw; ++kx) {
                const int8_t *xt = rows[ky] + kx * step + c, *wt = w + (ky * kw + kx) * ch + c;
                a0 += xt[0] * wt[0];
                a1 += xt[1] * wt[1];
                a2 += xt[2] * wt[2];
                a3 += xt[3] * wt[3];
            }
        }
        out[c] = ecx_out(a0, mult[c], shift[c], may_left, zp, lo, hi);
        out[c + 1] = ecx_out(a1, mult[c + 1], shift[c + 1], may_left, zp, lo, hi);
        out[c + 2] = ecx_out(a2, mult[c + 2], shift[c + 2], may_left, zp, lo, hi);
        out[c + 3] = ecx_out(a3, mult[c + 3], shift[c + 3], may_left, zp, lo, hi);
    }
    (void)w16;
#endif
    for (; c < ch; ++c) {
        int32_t a = biasf[c];
        for (ky = 0; ky < kh; ++ky) {
            for (kx = 0; kx < kw; ++kx) {
                a += rows[ky][kx * step + c] * w[(ky * kw + kx) * ch + c];
            }
        }
        out[c] = ecx_out(a, mult[c], shift[c], may_left, zp, lo, hi);
    }
}

#if ECX_DSP
/* tap t of a 3x3 depthwise group of four channels: the input bytes at r + off, the weights
 * (c0, c2) and (c1, c3) from w16[2t], w16[2t + 1] in one LDRD. The loads are volatile asm so
 * that gcc keeps them in tap order instead of hoisting all nine taps' loads at once (and
 * spilling); the "m" operands say which memory they read. */
#define ECX_DW_TAP(r, off, t)                                                                       \
    {                                                                                               \
        uint32_t xv;                                                                                \
        int32_t x02, x13, wa, wb;                                                                   \
        __asm__ volatile("ldr %0, [%1, #%c2]" : "=r"(xv) : "r"(r), "i"(off), "m"(*(const char(*)[4])((r) + (off)))); \
        __asm__ volatile("ldrd %0, %1, [%2, #%c3]" : "=r"(wa), "=r"(wb) : "r"(w16), "i"(8 * (t)),             \
                         "m"(*(const int32_t(*)[2])(w16 + 2 * (t))));                               \
        x02 = __sxtb16((int32_t)xv);                                                                \
        x13 = ecx_sxtb16_ror8(xv);                                                                  \
        a0 = __smlabb(x02, wa, a0);                                                                 \
        a2 = __smlatt(x02, wa, a2);                                                                 \
        a1 = __smlabb(x13, wb, a1);                                                                 \
        a3 = __smlatt(x13, wb, a3);                                                                 \
    }
#endif

/* ecx_dw_pixel for a 3x3 kernel whose nine taps all lie inside the rows r0, r1, r2 (each at the
 * pixel's first column; columns step bytes apart, step a constant at most 2047): with DSP, three
 * row pointers and constant offsets instead of nine tap pointers, which gcc would keep and
 * spill (w16 8-byte aligned); the portable build is ecx_dw_pixel itself. */
ECX_INLINE void ecx_dw3x3_pixel(const int8_t *r0, const int8_t *r1, const int8_t *r2, int step,
                                const int32_t *w16, const int8_t *w, int ch, int c4, const int32_t *biasf,
                                const int32_t *mult, const int8_t *shift, int may_left, int32_t zp, int32_t lo,
                                int32_t hi, int8_t *out)
{
#if ECX_DSP
    int c;
    for (c = 0; c < c4; c += 4, r0 += 4, r1 += 4, r2 += 4, w16 += 18) {
        int32_t a0 = biasf[c], a1 = biasf[c + 1], a2 = biasf[c + 2], a3 = biasf[c + 3];
        ECX_DW_TAP(r0, 0, 0)
        ECX_DW_TAP(r0, step, 1)
        ECX_DW_TAP(r0, 2 * step, 2)
        ECX_DW_TAP(r1, 0, 3)
        ECX_DW_TAP(r1, step, 4)
        ECX_DW_TAP(r1, 2 * step, 5)
        ECX_DW_TAP(r2, 0, 6)
        ECX_DW_TAP(r2, step, 7)
        ECX_DW_TAP(r2, 2 * step, 8)
        out[c] = ecx_out(a0, mult[c], shift[c], may_left, zp, lo, hi);
        out[c + 1] = ecx_out(a1, mult[c + 1], shift[c + 1], may_left, zp, lo, hi);
        out[c + 2] = ecx_out(a2, mult[c + 2], shift[c + 2], may_left, zp, lo, hi);
        out[c + 3] = ecx_out(a3, mult[c + 3], shift[c + 3], may_left, zp, lo, hi);
    }
    for (; c < ch; ++c, ++r0, ++r1, ++r2) {
        int32_t a = biasf[c];
        int kx;
        for (kx = 0; kx < 3; ++kx) {
            a += r0[kx * step] * w[kx * ch + c] + r1[kx * step] * w[(3 + kx) * ch + c] +
                 r2[kx * step] * w[(6 + kx) * ch + c];
        }
        out[c] = ecx_out(a, mult[c], shift[c], may_left, zp, lo, hi);
    }
#else
    const int8_t *const rows[3] = {r0, r1, r2};
    ecx_dw_pixel(rows, 3, 3, step, w16, w, ch, c4, biasf, mult, shift, may_left, zp, lo, hi, out);
#endif
}

#if ECX_DSP
/* The fast 3x3 depthwise path (the generator chooses it where its ring of rows fits in memory
 * the arena already has). Input rows are widened once into a ring of padded rows: group-major
 * (for each group of four channels, every padded column as the int16 pairs (c0, c2), (c1, c3)
 * that SXTB16 gives), the padding columns and a row of the input zero point filled once, so
 * every output pixel, border or not, is nine taps at constant offsets: per tap and group one
 * LDRD of input pairs, one LDRD of weight pairs and four 16x16 multiply-accumulates, no
 * sign extension and no bounds test. Each group's constants are one block of ECX_DW_BLOCK words:
 * the weights (doubled) of the nine taps, the doubled folded bias of c0..c3, then per channel
 * the multiplier and R = ((2 zp + 1) << e) >> 1, then the four right shifts e as bytes. */
#define ECX_DW_BLOCK 32

/* input row src (w pixels of cstep channels, groups of four) widened into a ring row whose
 * group g starts at dst + g * gwords (dst at the first unpadded column) */
ECX_INLINE void ecx_dw_widen(int32_t *dst, const int8_t *src, int w, int groups, int gwords, int cstep)
{
    int g, x;
    for (g = 0; g < groups; ++g, src += 4, dst += gwords) {
        const int8_t *s = src;
        int32_t *d = dst;
        for (x = 0; x < w; ++x, s += cstep, d += 2) {
            const uint32_t v = ecx_ld32(s);
            d[0] = __sxtb16((int32_t)v);
            d[1] = ecx_sxtb16_ror8(v);
        }
    }
}

/* RIGHT1S requantization of a doubled sum a2 = 2 acc (ecx_out's RIGHT1S: y = SMMULR(2 acc, m)
 * = ecx_srdhm(acc, m), then (y + R + (y >> 31)) >> e with the zero point inside R): SMMLAR
 * adds R to y in the same instruction, and acc's sign stands in for y's (they differ only when
 * y == 0, where -1 changes nothing since R's low e bits are 2^(e-1)). */
ECX_INLINE int8_t ecx_out2(int32_t a2, int32_t m, int32_t r, int e, int32_t lo, int32_t hi)
{
    int32_t t;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(t) : "r"(a2), "r"(m), "r"(r));
    t = (t + (a2 >> 31)) >> e;
    if (lo == -128 && hi == 127) {
        return (int8_t)__ssat(t, 8);
    }
    return (int8_t)(t < lo ? lo : (t > hi ? hi : t));
}

/* tap t: the input pairs at p + off bytes and the weight pairs of tap t of the block */
#define ECX_DWX_TAP(p, off, t)                                                                      \
    {                                                                                               \
        int32_t x02, x13, wa, wb;                                                                   \
        __asm__ volatile("ldrd %0, %1, [%2, #%c3]" : "=r"(x02), "=r"(x13) : "r"(p), "i"(off),       \
                         "m"(*(const int32_t(*)[2])((p) + (off) / 4)));                             \
        __asm__ volatile("ldrd %0, %1, [%2, #%c3]" : "=r"(wa), "=r"(wb) : "r"(blk), "i"(8 * (t)),   \
                         "m"(*(const int32_t(*)[2])(blk + 2 * (t))));                               \
        a0 = __smlabb(x02, wa, a0);                                                                 \
        a2 = __smlatt(x02, wa, a2);                                                                 \
        a1 = __smlabb(x13, wb, a1);                                                                 \
        a3 = __smlatt(x13, wb, a3);                                                                 \
    }

/* one output pixel of a 3x3 depthwise layer from three widened ring rows (each at the pixel's
 * first column of group 0; groups gwords words apart), all groups: out[4g..4g+3] */
ECX_INLINE void ecx_dw3x3_wide(const int32_t *r0, const int32_t *r1, const int32_t *r2, int gwords,
                               const int32_t *blk, int groups, int32_t lo, int32_t hi, int8_t *out)
{
    const int32_t *const end = blk + ECX_DW_BLOCK * groups;
    do {
        const uint8_t *e = (const uint8_t *)(blk + 30);
        int32_t a0 = blk[18], a1 = blk[19], a2 = blk[20], a3 = blk[21];
        ECX_DWX_TAP(r0, 0, 0)
        ECX_DWX_TAP(r0, 8, 1)
        ECX_DWX_TAP(r0, 16, 2)
        ECX_DWX_TAP(r1, 0, 3)
        ECX_DWX_TAP(r1, 8, 4)
        ECX_DWX_TAP(r1, 16, 5)
        ECX_DWX_TAP(r2, 0, 6)
        ECX_DWX_TAP(r2, 8, 7)
        ECX_DWX_TAP(r2, 16, 8)
        out[0] = ecx_out2(a0, blk[22], blk[23], e[0], lo, hi);
        out[1] = ecx_out2(a1, blk[24], blk[25], e[1], lo, hi);
        out[2] = ecx_out2(a2, blk[26], blk[27], e[2], lo, hi);
        out[3] = ecx_out2(a3, blk[28], blk[29], e[3], lo, hi);
        r0 += gwords;
        r1 += gwords;
        r2 += gwords;
        out += 4;
        blk += ECX_DW_BLOCK;
    } while (blk != end);
}
#endif

#if ECX_DSP
/* Stride-1 3x3 depthwise, two output rows at a time (the generator's choice over ecx_dw3x3_wide
 * where the band fits): input rows r and r + 1 are packed once into a "pair row" whose word per
 * column and channel is (x[r][c], x[r + 1][c]) as int16 halves, so one SMLAD multiplies two
 * taps of one column. Output rows y and y + 1 read pair rows A = (y - 1, y) and B = (y + 1, y + 2):
 *   out y     += SMLAD(A, (w0, w1)) + SMLABT(B, (w1, w2))   (x[y + 1] w2)
 *   out y + 1 += SMLATB(A, (w0, w1)) + SMLAD(B, (w1, w2))   (x[y] w0)
 * four multiply instructions for six MACs, each loaded word serving two outputs. Pair rows are
 * channel-pair-major: pair p (channels 2p, 2p + 1) of column x at 2 (p gwords + x) words. A
 * block of ECX_DWP_BLOCK words per channel pair: (w0, w1) of kx = 0..2 for both channels, then
 * (w1, w2), all doubled; the doubled folded biases; (multiplier, R) of both; the shifts e. */
#define ECX_DWP_BLOCK 20

ECX_INLINE int32_t ecx_pkhbt16(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

ECX_INLINE int32_t ecx_pkhtb16(int32_t hi, int32_t lo)
{
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}

/* rows r0 and r1 (w pixels of cstep channels, quads groups of four) packed into a pair row
 * (dst at its first unpadded column; channel pair p at dst + p * gwords) */
ECX_INLINE void ecx_dw_pack_pair(int32_t *dst, const int8_t *r0, const int8_t *r1, int w, int quads, int gwords,
                                 int cstep)
{
    int q, x;
    for (q = 0; q < quads; ++q, r0 += 4, r1 += 4, dst += 2 * gwords) {
        int32_t *d01 = dst, *d23 = dst + gwords;
        const int8_t *s0 = r0, *s1 = r1;
        for (x = 0; x < w; ++x, s0 += cstep, s1 += cstep, d01 += 2, d23 += 2) {
            const uint32_t v0 = ecx_ld32(s0), v1 = ecx_ld32(s1);
            const int32_t a02 = __sxtb16((int32_t)v0), a13 = ecx_sxtb16_ror8(v0);
            const int32_t b02 = __sxtb16((int32_t)v1), b13 = ecx_sxtb16_ror8(v1);
            d01[0] = ecx_pkhbt16(a02, b02);
            d01[1] = ecx_pkhbt16(a13, b13);
            d23[0] = ecx_pkhtb16(b02, a02);
            d23[1] = ecx_pkhtb16(b13, a13);
        }
    }
}

/* column kx of a band: the A and B words of both channels, then (w0, w1) and (w1, w2) */
#define ECX_DWP_COL(kx)                                                                             \
    {                                                                                               \
        int32_t x0, x1, w0, w1;                                                                     \
        __asm__ volatile("ldrd %0, %1, [%2, #%c3]" : "=r"(x0), "=r"(x1) : "r"(a), "i"(8 * (kx)),    \
                         "m"(*(const int32_t(*)[2])(a + 2 * (kx))));                                \
        __asm__ volatile("ldrd %0, %1, [%2, #%c3]" : "=r"(w0), "=r"(w1) : "r"(blk), "i"(8 * (kx)),  \
                         "m"(*(const int32_t(*)[2])(blk + 2 * (kx))));                              \
        s0 = __smlad(x0, w0, s0);                                                                   \
        t0 = __smlatb(x0, w0, t0);                                                                  \
        s1 = __smlad(x1, w1, s1);                                                                   \
        t1 = __smlatb(x1, w1, t1);                                                                  \
        __asm__ volatile("ldrd %0, %1, [%2, #%c3]" : "=r"(x0), "=r"(x1) : "r"(b), "i"(8 * (kx)),    \
                         "m"(*(const int32_t(*)[2])(b + 2 * (kx))));                                \
        __asm__ volatile("ldrd %0, %1, [%2, #%c3]" : "=r"(w0), "=r"(w1) : "r"(blk), "i"(24 + 8 * (kx)), \
                         "m"(*(const int32_t(*)[2])(blk + 6 + 2 * (kx))));                          \
        s0 = __smlabt(x0, w0, s0);                                                                  \
        t0 = __smlad(x0, w0, t0);                                                                   \
        s1 = __smlabt(x1, w1, s1);                                                                  \
        t1 = __smlad(x1, w1, t1);                                                                   \
    }

/* one column position of a band: outputs o0 (row y) and o1 (row y + 1), all channel pairs */
ECX_INLINE void ecx_dw3x3_pair(const int32_t *a, const int32_t *b, int gwords, const int32_t *blk, int pairs,
                               int32_t lo, int32_t hi, int8_t *o0, int8_t *o1)
{
    do {
        const uint32_t e = (uint32_t)blk[18];
        int32_t s0 = blk[12], s1 = blk[13], t0 = s0, t1 = s1;
        ECX_DWP_COL(0)
        ECX_DWP_COL(1)
        ECX_DWP_COL(2)
        o0[0] = ecx_out2(s0, blk[14], blk[15], e & 255u, lo, hi);
        o1[0] = ecx_out2(t0, blk[14], blk[15], e & 255u, lo, hi);
        o0[1] = ecx_out2(s1, blk[16], blk[17], e >> 8, lo, hi);
        o1[1] = ecx_out2(t1, blk[16], blk[17], e >> 8, lo, hi);
        a += gwords;
        b += gwords;
        o0 += 2;
        o1 += 2;
        blk += ECX_DWP_BLOCK;
    } while (--pairs);
}
#endif

#endif /* EDGECXR_OPS_H */
