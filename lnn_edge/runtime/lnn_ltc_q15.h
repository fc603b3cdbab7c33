/* lnn_ltc_q15.h: the LTC step in 16-bit fixed point (fixed16), a static inline kernel of the lnn-edge runtime.
 * Do not edit: lnn-edge export copies this file unchanged into DIR/lnn/.
 *
 * The C twin of lnn_edge/cells/ltc/emulate.py (LtcFixedStep); lnn_edge/cells/ltc/quantize.py chooses the formats and
 * docs/number-formats.md proves their bounds. Per step: map inputs, evaluate the sensory synapses once, then
 * UNFOLDS semi-implicit unfolds, each
 *   G_i = gleak_i + eps + sum g_ji,  S_i = gleak_i vleak_i + sum g_ji erev_ji   (sensory synapses included)
 *   v_i <- v_i + div_round_fast(S_i - G_i v_i, cm_t_i + G_i)   [(cm_t_i v_i + S_i) / (cm_t_i + G_i), rounded]
 * with g_ji = rshift_round(w_ji * sigmoid_ji, S_FRAC) over the synapses that exist. The sigmoid of a synapse is
 * read from one table over [-16, 16) at the position p = sigma_ji * pre_j + c_ji (c = -sigma mu + rounding + 16,
 * precomputed): segment clamp(p >> (shift + SIG_FS), 0, SIG_SEGMENTS - 1), interpolation weight
 * (p >> shift) & SIG_POS_MASK, shift Z_SHIFT (internal) or S_Z_SHIFT (sensory); the end segments are flat, so a
 * clamped segment needs no fix-up. The update is an integer convex combination, so the state never saturates.
 * Neurons are processed in this order: first the N_WIRED with internal synapses (wired[]), then those without
 * (leaf[]: their update needs no synapse loop).
 *
 * Configuration: the including file (a generated <name>.c) defines, before including this header, the model's
 * compile-time constants LNN_LTC_N_NEURONS, LNN_LTC_STATE_SIZE (the values reset and set_state cover: N_NEURONS, or
 * 2 N_NEURONS under mixed memory, whose LSTM keeps [h | c] in the same array; the step reads and writes the
 * first N_NEURONS), LNN_LTC_N_WIRED, LNN_LTC_N_LEAF_ALLOC, LNN_LTC_N_INPUTS,
 * LNN_LTC_N_OUTPUTS, LNN_LTC_UNFOLDS, LNN_LTC_DT_MIN, LNN_LTC_CM_SHIFT, LNN_LTC_Z_SHIFT, LNN_LTC_S_Z_SHIFT,
 * LNN_LTC_S_FRAC, LNN_LTC_SIG_INDEX_BITS, LNN_LTC_SIG_FS, LNN_LTC_WIRED_SHIFT, LNN_LTC_SRC_BITS, the types LNN_LTC_INDEX_T,
 * LNN_LTC_WIRED_T, LNN_LTC_SRC_T, LNN_LTC_CM_T, and the switches (0 or 1, decided by lnn_edge/cells/ltc/codegen.py)
 * LNN_LTC_FIXED_DT (with LNN_LTC_DT_DEFAULT), LNN_LTC_IN_SHIFT_POSITIVE, LNN_LTC_RECIPROCAL_CM,
 * LNN_LTC_RECIPROCAL_LEAVES, LNN_LTC_SMLAWT_FITS, LNN_LTC_ASM_ARMV7EM_FITS. The compiler specialises the kernel
 * to them. The model's parameters come in a const lnn_ltc_q15_model_t (see below). One model per translation
 * unit. Core-specific code: ACLE DSP intrinsics on ARMv7E-M, the synapse loop in assembly on ARMv6-M
 * (lnn_ltc_q15_armv6m.h), ARMv7E-M (lnn_ltc_q15_armv7em.h) and RV32 (lnn_ltc_q15_rv32.h); -DLNN_NO_ASM builds
 * the portable C below, the reference those must equal bit for bit.
 */
#ifndef LNN_LTC_Q15_H
#define LNN_LTC_Q15_H

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__) && !defined(__clang__)
/* Cortex-M0/M0+: the model's file is compiled for size. With the hand-scheduled synapse loop, GCC 12's -Os code
 * for the rest of the step takes fewer instructions than its -O2 code (and less flash); on Thumb-2 cores -O2 is
 * faster. The loop needs all eight low registers, so r7 must not be a frame pointer, whatever the build's flags. */
#pragma GCC optimize("Os", "omit-frame-pointer")
#endif

#include <stdint.h>

#include "lnn_fixed.h"
#include "lnn_status.h"

#define LNN_LTC_SIG_SEGMENTS (1 << LNN_LTC_SIG_INDEX_BITS)
#define LNN_LTC_SIG_POS_MASK ((1 << LNN_LTC_SIG_FS) - 1)
#define LNN_LTC_WIRED_MASK ((1 << LNN_LTC_WIRED_SHIFT) - 1)

/* A synapse (in CSR order by destination, neurons in processing order): sw = sigma | w << 16 (two 16-bit
 * halves: sigma in Q(sig) (sensory Q(ssig)), w in Q(g)) and c, whose low bits are also the presynaptic index
 * (LNN_LTC_SRC_T)c; erev (Q(v)) in a parallel array. */
typedef struct {
    int32_t sw;
    int32_t c;
} lnn_ltc_q15_syn_t;

/* A synapse record from its named fields (a constant expression, for static const tables): sigma, w, and
 * c = c_high 2^LNN_LTC_SRC_BITS + src, src being the presynaptic index (c's low LNN_LTC_SRC_BITS bits). */
#define LNN_LTC_Q15_SYN(sigma, w, c_high, src) \
    { (int32_t)(((uint32_t)(w) << 16) | (uint32_t)(uint16_t)(sigma)), (c_high) * (1 << LNN_LTC_SRC_BITS) + (src) }
/* One segment of the sigmoid table: its first sample t (Q(s)) and slope d = next sample - t, as t | d << 16. */
#define LNN_LTC_Q15_PAIR(t, d) ((uint32_t)(t) | ((uint32_t)(d) << 16))

/* The parameters of one model: one static const object of the generated file, arrays sized by its constants
 * (formats in its header comment). Arrays, not pointers, so that the compiler folds every load of a constant
 * index, as it would from the model's own arrays. Widest members first: no padding. */
typedef struct {
    lnn_ltc_q15_syn_t s_syn[LNN_LTC_S_NNZ_ALLOC];     /* sensory synapses */
    lnn_ltc_q15_syn_t syn[LNN_LTC_NNZ_ALLOC];         /* internal synapses */
    uint32_t sigmoid_pairs[LNN_LTC_SIG_SEGMENTS];     /* LNN_LTC_Q15_PAIR(T[i], T[i+1] - T[i]) */
    int32_t gleak_vleak[LNN_LTC_N_NEURONS];           /* gleak vleak, Q(g + v) */
    LNN_LTC_WIRED_T wired[LNN_LTC_N_WIRED_ALLOC];     /* wired neurons: index | internal count << WIRED_SHIFT */
    LNN_LTC_CM_T cm_t_fixed[LNN_LTC_CM_T_FIXED_ALLOC]; /* cm / delta at the default dt (LNN_LTC_FIXED_DT) */
    int16_t s_erev[LNN_LTC_S_NNZ_ALLOC];
    int16_t erev[LNN_LTC_NNZ_ALLOC];
    int16_t gleak_eps[LNN_LTC_N_NEURONS];             /* gleak + eps, Q(g) */
    int16_t cm_u[LNN_LTC_N_NEURONS];                  /* cm * unfolds, used shifted left by CM_SHIFT; >= 0 */
    int16_t in_w[LNN_LTC_N_INPUTS];                   /* input mapping x_m = rshift_round(x in_w, in_shift) + in_b */
    int16_t in_b[LNN_LTC_N_INPUTS];
    int16_t out_w[LNN_LTC_N_OUTPUTS];                 /* output mapping y = rshift_round(v out_w, out_shift) + out_b */
    int16_t out_b[LNN_LTC_N_OUTPUTS];
    int8_t in_shift[LNN_LTC_N_INPUTS];
    int8_t out_shift[LNN_LTC_N_OUTPUTS];
    LNN_LTC_INDEX_T s_count[LNN_LTC_N_NEURONS];       /* sensory synapses per neuron, processing order */
    LNN_LTC_INDEX_T leaf[LNN_LTC_N_LEAF_ALLOC];       /* neurons without internal synapses */
} lnn_ltc_q15_model_t;

/* 16x16 multiply-accumulates on 16-bit halves and the segment clamp: one DSP / saturation instruction where the
 * core has it (ACLE), the same arithmetic in plain C elsewhere. Every result is proven to fit 32 bits.
 * In MAC_BB and MAC_TB the second operand b is a 16-bit value (bottom(b) == b), except the DSP sigmoid below,
 * whose bottom half is the value (the instructions read only that half). */
#if defined(__ARM_FEATURE_DSP) || defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#endif
#if defined(__ARM_FEATURE_DSP)
#define LNN_LTC_MAC_BB(a, b, c) __smlabb((a), (b), (c)) /* c + bottom(a) * b */
#define LNN_LTC_MAC_TB(a, b, c) __smlatb((a), (b), (c)) /* c + top(a) * b */
#if LNN_LTC_SMLAWT_FITS && !defined(LNN_THUMB1) /* the Thumb-1 rounding below multiplies the whole sigmoid word */
#define LNN_LTC_SIGMOID_SMLAWT 1 /* the interpolation weight fits SMLAWT's 16 bits */
#endif
#else
#define LNN_LTC_MAC_BB(a, b, c) ((c) + (int32_t)(int16_t)(a) * (b))
#define LNN_LTC_MAC_TB(a, b, c) ((c) + ((a) >> 16) * (b))
#endif
#if defined(__ARM_FEATURE_SAT)
#define LNN_LTC_SEGMENT(x) ((int32_t)__builtin_arm_usat((x), LNN_LTC_SIG_INDEX_BITS))
#define LNN_LTC_SAT_Q(x) ((int16_t)(int32_t)__builtin_arm_ssat((x), 16)) /* __ssat without its sign warning */
#else
/* in range is the common case: one unsigned compare, then the clamp (saves 3 instructions per synapse on M0) */
#define LNN_LTC_SEGMENT(x) \
    ((uint32_t)(x) <= LNN_LTC_SIG_SEGMENTS - 1 ? (x) : ((x) < 0 ? 0 : LNN_LTC_SIG_SEGMENTS - 1))
#define LNN_LTC_SAT_Q(x) lnn_sat16(x)
#endif

#if defined(LNN_LTC_SIGMOID_SMLAWT)
/* The interpolation weight (p >> shift) & SIG_POS_MASK times 2^(16 - SIG_FS): where SMLAWT's >> 16 floors the
 * same product as >> SIG_FS does. */
static inline int32_t lnn_ltc_q15_weight_x16(int32_t p, int shift)
{
    const int up = 16 - LNN_LTC_SIG_FS;
    uint32_t moved = shift >= up ? (uint32_t)p >> (shift - up) : (uint32_t)p << (up - shift);
    return (int32_t)(moved & ((uint32_t)LNN_LTC_SIG_POS_MASK << up));
}
#endif

/* Conductance of one synapse, Q(g): rshift_round(w * sigmoid, S_FRAC), the sigmoid read at p = sigma pre[src] + c
 * from the table t. The portable reference of the assembly loops. */
static inline int32_t lnn_ltc_q15_conductance(const lnn_ltc_q15_syn_t *r, const int16_t *pre, const uint32_t *t,
                                              int shift)
{
    int32_t p = LNN_LTC_MAC_BB(r->sw, pre[(LNN_LTC_SRC_T)r->c], r->c);
    uint32_t pair = t[LNN_LTC_SEGMENT(p >> (shift + LNN_LTC_SIG_FS))];
#if defined(LNN_LTC_SIGMOID_SMLAWT)
    /* sample + (slope * weight >> SIG_FS) in one SMLAWT, accumulated onto the whole pair: the low half never
     * carries into the slope (samples never decrease and stay below 2^15), and only the low half is read next. */
    int32_t sigmoid = __smlawt(lnn_ltc_q15_weight_x16(p, shift), (int32_t)pair, (int32_t)pair);
#else
    /* position (p >> shift) & SIG_POS_MASK, as two shifts of the unsigned bits */
    int32_t position = (int32_t)((uint32_t)p << (32 - LNN_LTC_SIG_FS - shift) >> (32 - LNN_LTC_SIG_FS));
    int32_t sigmoid = (int32_t)(uint16_t)pair + (LNN_LTC_MAC_TB((int32_t)pair, position, 0) >> LNN_LTC_SIG_FS);
#endif
#if defined(__ARM_ARCH_6M__) || defined(LNN_THUMB1)
    /* the same rounding without a 2^14 constant: floor((floor(x / 2^14) + 1) / 2) = floor((x + 2^14) / 2^15) */
    return ((((r->sw >> 16) * sigmoid) >> (LNN_LTC_S_FRAC - 1)) + 1) >> 1;
#else
    return LNN_LTC_MAC_TB(r->sw, sigmoid, 1 << (LNN_LTC_S_FRAC - 1)) >> LNN_LTC_S_FRAC;
#endif
}
#define LNN_LTC_ADD_PRODUCT(sum, e, g) ((sum) = LNN_LTC_MAC_BB((e), (g), (sum))) /* sum += erev * g */

/* The synapse loop in assembly on ARMv6-M, ARMv7E-M and RV32 with GCC (each defines LNN_LTC_Q15_ASM_SYNAPSES and
 * lnn_ltc_q15_sensory_sums / lnn_ltc_q15_internal_sums); LNN_NO_ASM builds the C loop, the reference. The RV32
 * loop needs M (__riscv_mul) and the 31 registers of RV32I: a part without M, or an RV32E part (WCH's CH32V003
 * is RV32EC), builds the C loop. */
#if defined(__ARM_ARCH_6M__) && defined(__GNUC__) && !defined(__clang__) && !defined(LNN_NO_ASM)
#include "lnn_ltc_q15_armv6m.h"
#elif defined(LNN_LTC_SIGMOID_SMLAWT) && LNN_LTC_ASM_ARMV7EM_FITS && defined(__thumb2__) && defined(__GNUC__) && \
    !defined(__clang__) && defined(__OPTIMIZE__) && !defined(LNN_NO_ASM)
#include "lnn_ltc_q15_armv7em.h"
#elif defined(__riscv) && __riscv_xlen == 32 && defined(__riscv_mul) && !defined(__riscv_32e) && defined(__GNUC__) && \
    !defined(__clang__) && !defined(LNN_NO_ASM)
#include "lnn_ltc_q15_rv32.h"
#endif

/* v + (num / den rounded to nearest, half up; for num < 0 a remainder of den/2 - 1 already rounds away):
 * den >= 3, so the result lies between floor and ceil of the exact value (lnn_edge.quant.fixedpoint.div_round_fast). */
static inline int32_t lnn_ltc_q15_div_round_fast(int32_t num, int32_t den)
{
    return (num + ((den >> 1) ^ (num >> 31))) / den;
}

/* Synapse loops, counted down (measured the fastest shapes with GCC 12). A wired neuron has at least one
 * internal synapse, so its loop tests at the end. */
#define LNN_LTC_SYNAPSES_BEGIN(r, count) for (int k = (int)(count); k > 0; k--, (r)++) {
#define LNN_LTC_SYNAPSES_END(r) }
#define LNN_LTC_WIRED_BEGIN(r, count) { int k = (int)(count); do {
#define LNN_LTC_WIRED_END(r) (r)++; } while (--k != 0); }

/* Without a divide instruction (ARMv6-M; LNN_THUMB1 selects it on the host for the tests) a divisor used often
 * enough in a step is inverted once (lnn_recip32 costs about two divisions, lnn_div_recip less than half of one and
 * gives C's quotient exactly): dt for the cm / dt of the neurons (LNN_LTC_RECIPROCAL_CM: enough neurons), and
 * cm / dt + G0 of each neuron without internal synapses, the same in all unfolds (LNN_LTC_RECIPROCAL_LEAVES:
 * enough unfolds). */
#if (defined(__ARM_ARCH_6M__) || defined(LNN_THUMB1)) && LNN_LTC_RECIPROCAL_CM
#define LNN_LTC_USE_RECIPROCAL_CM 1
#endif
#if (defined(__ARM_ARCH_6M__) || defined(LNN_THUMB1)) && LNN_LTC_RECIPROCAL_LEAVES
#define LNN_LTC_USE_RECIPROCAL_LEAVES 1
#endif

/* Per-step constants of a neuron (processing order). */
typedef struct {
    int32_t s0;       /* gleak vleak + sensory sum g erev */
    LNN_LTC_CM_T cm; /* cm / delta */
    int16_t g0;       /* gleak + eps + sensory sum g */
} lnn_ltc_q15_neuron_t;

/* Zero the state (LNN_LTC_STATE_SIZE values). */
static inline int lnn_ltc_q15_reset(int16_t *state)
{
    int i;
    for (i = 0; i < LNN_LTC_STATE_SIZE; i++) {
        state[i] = 0;
    }
    return LNN_OK;
}

/* Copy v (LNN_LTC_STATE_SIZE values) into the state; LNN_ERR_NULL if v is NULL. */
static inline int lnn_ltc_q15_set_state(int16_t *state, const int16_t *v)
{
    int i;
    if (v == 0) {
        return LNN_ERR_NULL;
    }
    for (i = 0; i < LNN_LTC_STATE_SIZE; i++) {
        state[i] = v[i];
    }
    return LNN_OK;
}

/* One step of the model m after an elapsed time dt (Q(dt); below LNN_LTC_DT_MIN it is clamped): reads x
 * (LNN_LTC_N_INPUTS values), updates state (LNN_LTC_N_NEURONS values, caller-owned) using scratch
 * (max(N_NEURONS, N_INPUTS) values, caller-owned, no meaning between steps), writes y (LNN_LTC_N_OUTPUTS
 * values). Returns LNN_OK, or LNN_ERR_NULL if x or y is NULL (state and scratch are members of the caller's
 * struct, which the generated wrapper checks). No globals: reentrant for distinct states. */
LNN_STEP_INLINE int lnn_ltc_q15_step(const lnn_ltc_q15_model_t *m, int16_t *state, int16_t *scratch, const int16_t *x,
                                   int16_t dt, int16_t *y)
{
    lnn_ltc_q15_neuron_t nb[LNN_LTC_N_NEURONS];
#if defined(LNN_LTC_USE_RECIPROCAL_LEAVES)
    uint32_t leaf_r[LNN_LTC_N_LEAF_ALLOC]; /* lnn_recip32 of each leaf neuron's denominator */
#endif
    const lnn_ltc_q15_syn_t *r;
    const int16_t *e;
    int j;
    int u;
    if (x == 0 || y == 0) {
        return LNN_ERR_NULL;
    }
    /* The mapped inputs go to the scratch of the state (later the potentials of the odd unfolds): in the
     * caller-owned struct rather than on the stack, which keeps the stack of the step within 256 B. */
    for (j = 0; j < LNN_LTC_N_INPUTS; j++) {
#if LNN_LTC_IN_SHIFT_POSITIVE
        scratch[j] = LNN_LTC_SAT_Q(
            (((int32_t)x[j] * m->in_w[j] + ((int32_t)1 << (m->in_shift[j] - 1))) >> m->in_shift[j]) + m->in_b[j]);
#else
        scratch[j] = LNN_LTC_SAT_Q(lnn_rshift_round32((int32_t)x[j] * m->in_w[j], m->in_shift[j]) + m->in_b[j]);
#endif
    }
#if LNN_LTC_FIXED_DT
    if (dt == LNN_LTC_DT_DEFAULT) {
        for (j = 0; j < LNN_LTC_N_NEURONS; j++) {
            nb[j].cm = m->cm_t_fixed[j];
        }
    } else
#endif
    {
        /* div_round(cm_u << CM_SHIFT, dt): both non-negative (and the shifted cm_u fits W - 3 bits), so (n + d/2) / d */
        int32_t dt_c = (int32_t)dt < LNN_LTC_DT_MIN ? LNN_LTC_DT_MIN : (int32_t)dt;
#if defined(LNN_LTC_USE_RECIPROCAL_CM)
        uint32_t dt_r = lnn_recip32((uint32_t)dt_c);
        for (j = 0; j < LNN_LTC_N_NEURONS; j++) {
            nb[j].cm = (LNN_LTC_CM_T)lnn_div_recip(((int32_t)m->cm_u[j] << LNN_LTC_CM_SHIFT) + (dt_c >> 1),
                                                    (uint32_t)dt_c, dt_r);
        }
#else
        for (j = 0; j < LNN_LTC_N_NEURONS; j++) {
            nb[j].cm = (LNN_LTC_CM_T)((((int32_t)m->cm_u[j] << LNN_LTC_CM_SHIFT) + (dt_c >> 1)) / dt_c);
        }
#endif
    }
    r = m->s_syn;
    e = m->s_erev;
    for (j = 0; j < LNN_LTC_N_NEURONS; j++) {
        int32_t sum_s = m->gleak_vleak[j];
        int32_t sum_g = m->gleak_eps[j];
#if defined(LNN_LTC_Q15_ASM_SYNAPSES)
        lnn_ltc_q15_sensory_sums(&r, &e, m->s_count[j], scratch, m->sigmoid_pairs, &sum_s, &sum_g);
#else
        LNN_LTC_SYNAPSES_BEGIN(r, m->s_count[j])
            int32_t g = lnn_ltc_q15_conductance(r, scratch, m->sigmoid_pairs, LNN_LTC_S_Z_SHIFT);
            LNN_LTC_ADD_PRODUCT(sum_s, *e++, g);
            sum_g += g;
        LNN_LTC_SYNAPSES_END(r)
#endif
        nb[j].s0 = sum_s;
        nb[j].g0 = (int16_t)sum_g;
    }
#if defined(LNN_LTC_USE_RECIPROCAL_LEAVES)
    for (j = 0; j < LNN_LTC_N_NEURONS - LNN_LTC_N_WIRED; j++) {
        leaf_r[j] = lnn_recip32((uint32_t)((int32_t)nb[LNN_LTC_N_WIRED + j].cm + nb[LNN_LTC_N_WIRED + j].g0));
    }
#endif
    /* Unfolds alternate between the state and the scratch: even unfolds read the state and write the scratch.
     * Swapping two pointers (rather than choosing by the parity of u) measured fewer instructions and 4 B less
     * stack on most models and cores with GCC 12. */
    int16_t *v = state;
    int16_t *v_next = scratch;
    for (u = 0; u < LNN_LTC_UNFOLDS; u++) {
        const lnn_ltc_q15_neuron_t *n = nb;
        r = m->syn;
        e = m->erev;
        for (j = 0; j < LNN_LTC_N_WIRED; j++, n++) {
            int i = (int)(m->wired[j] & LNN_LTC_WIRED_MASK);
            int32_t sum_s = n->s0;
            int32_t sum_g = n->g0;
            int32_t v_i;
#if defined(LNN_LTC_Q15_ASM_SYNAPSES)
            lnn_ltc_q15_internal_sums(&r, &e, (int)(m->wired[j] >> LNN_LTC_WIRED_SHIFT), v, m->sigmoid_pairs, &sum_s,
                                      &sum_g);
#else
            LNN_LTC_WIRED_BEGIN(r, m->wired[j] >> LNN_LTC_WIRED_SHIFT)
                int32_t g = lnn_ltc_q15_conductance(r, v, m->sigmoid_pairs, LNN_LTC_Z_SHIFT);
                LNN_LTC_ADD_PRODUCT(sum_s, *e++, g);
                sum_g += g;
            LNN_LTC_WIRED_END(r)
#endif
            v_i = v[i];
            v_next[i] = (int16_t)(v_i + lnn_ltc_q15_div_round_fast(sum_s - sum_g * v_i, (int32_t)n->cm + sum_g));
        }
        for (j = 0; j < LNN_LTC_N_NEURONS - LNN_LTC_N_WIRED; j++, n++) {
            int i = m->leaf[j];
            int32_t v_i = v[i];
#if defined(LNN_LTC_USE_RECIPROCAL_LEAVES)
            int32_t num = n->s0 - (int32_t)n->g0 * v_i;
            int32_t den = (int32_t)n->cm + n->g0;
            /* div_round_fast(num, den) through the reciprocal */
            v_next[i] = (int16_t)(v_i + lnn_div_recip(num + ((den >> 1) ^ (num >> 31)), (uint32_t)den, leaf_r[j]));
#else
            v_next[i] = (int16_t)(v_i + lnn_ltc_q15_div_round_fast(n->s0 - (int32_t)n->g0 * v_i,
                                                                   (int32_t)n->cm + n->g0));
#endif
        }
        {
            int16_t *swap = v;
            v = v_next;
            v_next = swap;
        }
    }
#if LNN_LTC_UNFOLDS % 2 == 1
    for (j = 0; j < LNN_LTC_N_NEURONS; j++) {
        state[j] = scratch[j];
    }
#endif
    for (j = 0; j < LNN_LTC_N_OUTPUTS; j++) {
        y[j] = lnn_sat16(lnn_rshift_round32((int32_t)state[j] * m->out_w[j], m->out_shift[j]) + m->out_b[j]);
    }
    return LNN_OK;
}

#endif /* LNN_LTC_Q15_H */
