/* lnn_f32.h: float32 helpers of the lnn-edge runtime (static inline, no globals, no libm). Do not edit:
 * lnn-edge export copies this file unchanged into DIR/lnn/.
 *
 * One IEEE-754 binary32 operation at a time, in the order of lnn_edge/quant/f32math.py, their NumPy twins: compile with
 * -ffp-contract=off (no fused multiply-add) and without -ffast-math, or host and board differ. The constants are
 * the float32 values of lnn_edge.quant.f32math written as hex-float literals (the decimal value in the comment);
 * tests/test_runtime_f32.py checks every one bit for bit against Python, which stays the source of truth.
 */
#ifndef LNN_F32_H
#define LNN_F32_H

#include <stdint.h>

#include "lnn_status.h"

/* No libc in a step (see lnn_fixed.h). */
#if defined(__GNUC__) && !defined(__clang__) && !defined(LNN_NO_LIBC_PRAGMA)
#define LNN_NO_LIBC_PRAGMA 1
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* lnn_edge.quant.f32math constants. */
#define LNN_F32_LOG2E 0x1.715476p+0f       /* LOG2E, 1.442695 */
#define LNN_F32_EXP_CUTOFF 0x1.f8p+6f      /* EXP_CUTOFF, 126 */
#define LNN_F32_EXP2_NEG_C0 0x1.0p+0f      /* EXP2_NEG_COEFFS[0], 1 */
#define LNN_F32_EXP2_NEG_C1 (-0x1.62e42cp-1f) /* -6.9314706e-1 */
#define LNN_F32_EXP2_NEG_C2 0x1.ebfacp-3f  /* 2.4022436e-1 */
#define LNN_F32_EXP2_NEG_C3 (-0x1.c69522p-5f) /* -5.5491034e-2 */
#define LNN_F32_EXP2_NEG_C4 0x1.39eb5ap-7f /* 9.580058e-3 */
#define LNN_F32_EXP2_NEG_C5 (-0x1.4e6bdep-10f) /* -1.2757162e-3 */
#define LNN_F32_EXP2_NEG_C6 0x1.cacdf6p-14f /* 1.09387525e-4 */
#define LNN_F32_LECUN_A 0x1.b74538p+0f     /* LECUN_A, 1.7159 */
#define LNN_F32_LECUN_B 0x1.54fdf4p-1f     /* LECUN_B, 0.666 */
#define LNN_F32_ERF_P 0x1.4f740ap-2f       /* _ERF_P, 0.3275911 */
#define LNN_F32_ERF_A1 0x1.04f20cp-2f      /* _ERF_A[0], 0.2548296 */
#define LNN_F32_ERF_A2 (-0x1.23531cp-2f)     /* _ERF_A[1], -0.28449672 */
#define LNN_F32_ERF_A3 0x1.6be1c6p+0f      /* _ERF_A[2], 1.4214138 */
#define LNN_F32_ERF_A4 (-0x1.7401c6p+0f)     /* _ERF_A[3], -1.4531521 */
#define LNN_F32_ERF_A5 0x1.0fb844p+0f      /* _ERF_A[4], 1.0614054 */
#define LNN_F32_INV_SQRT2 0x1.6a09e6p-1f   /* _INV_SQRT2, 0.70710677 */

/* acc + a b with two roundings (the product, then the sum; no fused multiply-add): the C expression, or one VMLA
 * on FPU cores (lnn_f32_vfp.h), which rounds the same way. The accumulator is the first operand of the sum in
 * both, so even NaN payloads agree. Defining LNN_NO_ASM builds the portable C everywhere: the reference. */
#include "lnn_f32_vfp.h"
#if !defined(LNN_VFP_ASM)
#define lnn_mla_f32(acc, a, b) ((acc) + (a) * (b)) /* a macro: as an inline function GCC builds slower soft-float code */
#endif

/* exp(-a) for a >= 0: t = a log2(e), k = (int)t, 2^-(t-k) by a degree-6 polynomial, 2^-k from exponent bits. */
static inline float lnn_exp_neg_f32(float a)
{
    union {
        uint32_t u;
        float f;
    } scale;
    float t = a * LNN_F32_LOG2E;
    float r;
    float p;
    int32_t k;
    if (!(t < LNN_F32_EXP_CUTOFF)) { /* also NaN: no float-to-int conversion of NaN */
        return 0.0f;
    }
    k = (int32_t)t;
    r = t - (float)k;
    p = LNN_F32_EXP2_NEG_C6;
    p = p * r + LNN_F32_EXP2_NEG_C5;
    p = p * r + LNN_F32_EXP2_NEG_C4;
    p = p * r + LNN_F32_EXP2_NEG_C3;
    p = p * r + LNN_F32_EXP2_NEG_C2;
    p = p * r + LNN_F32_EXP2_NEG_C1;
    p = p * r + LNN_F32_EXP2_NEG_C0;
    scale.u = (uint32_t)(127 - k) << 23;
    return p * scale.f;
}

/* 1 / (1 + exp(-|z|)), mirrored for z < 0 as e / (1 + e). */
static inline float lnn_sigmoid_f32(float z)
{
    float e = lnn_exp_neg_f32(z < 0.0f ? -z : z);
    float s = 1.0f / (1.0f + e);
    return z >= 0.0f ? s : e * s;
}

/* sign(x) (1 - e) / (1 + e), e = exp(-2 |x|). */
static inline float lnn_tanh_f32(float x)
{
    float e = lnn_exp_neg_f32(2.0f * (x < 0.0f ? -x : x));
    float t = (1.0f - e) / (1.0f + e);
    return x >= 0.0f ? t : -t;
}

/* Backbone activations of the CfC (lnn_edge.quant.f32math.ACTIVATIONS), operation by operation. */
static inline float lnn_relu_f32(float x)
{
    return x > 0.0f ? x : 0.0f;
}

static inline float lnn_silu_f32(float x)
{
    return x * lnn_sigmoid_f32(x);
}

/* 1.7159 tanh(0.666 x) */
static inline float lnn_lecun_tanh_f32(float x)
{
    return LNN_F32_LECUN_A * lnn_tanh_f32(LNN_F32_LECUN_B * x);
}

/* erf(x) = 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1 / (1 + p |x|) (Abramowitz & Stegun 7.1.26), odd. */
static inline float lnn_erf_f32(float x)
{
    float a = x < 0.0f ? -x : x;
    float t = 1.0f / (1.0f + LNN_F32_ERF_P * a);
    float poly = LNN_F32_ERF_A5;
    float y;
    poly = poly * t + LNN_F32_ERF_A4;
    poly = poly * t + LNN_F32_ERF_A3;
    poly = poly * t + LNN_F32_ERF_A2;
    poly = poly * t + LNN_F32_ERF_A1;
    y = 1.0f - poly * t * lnn_exp_neg_f32(a * a);
    return x >= 0.0f ? y : -y;
}

/* 0.5 x (1 + erf(x / sqrt(2))) */
static inline float lnn_gelu_f32(float x)
{
    return 0.5f * x * (1.0f + lnn_erf_f32(x * LNN_F32_INV_SQRT2));
}

#endif /* LNN_F32_H */
