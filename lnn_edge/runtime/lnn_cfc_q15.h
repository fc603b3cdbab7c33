/* lnn_cfc_q15.h: the CfC step (dense and wired) in 16-bit fixed point (fixed16), static inline kernels of the
 * lnn-edge runtime. Do not edit: lnn-edge export copies this file unchanged into DIR/lnn/.
 *
 * The C twin of lnn_edge/cells/cfc/emulate.py (CfcFixedStep, whose docstring is the operation table followed here line
 * by line); lnn_edge/cells/cfc/quantize.py chooses the formats, lnn_edge/cells/cfc/codegen.py the layouts. Values are 16-bit
 * (state Q(h), inputs Q(input_frac[i]), elapsed time Q(dt)), accumulators 32-bit; S_FRAC = 15, ONE = 2^15.
 * A step is a straight sequence of kernel calls in the generated <name>_step_dt, one per layer:
 *   lnn_cfc_q15_gather    z = [u ; h_L] (u the inputs, or the new state of the previous wired layer)
 *   lnn_cfc_q15_backbone  one backbone layer of a dense cell (block rows a pass, then the activation)
 *   lnn_cfc_q15_heads     every neuron of one CfC layer: its heads, then the mode's update of its state
 *   lnn_cfc_q15_readout   the outputs: projection fc and the affine output mapping, if any
 * Every Linear is acc = b + sum_c w[r,c] z[c], an exact 32-bit sum (the quantizer proves every partial sum
 * fits); each bias already holds the rounding offsets of the shifts that read its accumulator, so
 * rshift_round(acc, k) of the emulator is acc >> k here. The heads of a neuron (or a block of backbone rows) are
 * accumulated in one pass over z, two 16-bit columns a step: SMLAD on a word of weights and a word of z.
 *
 * Configuration: the including file (a generated <name>.c, one model per translation unit) defines first the
 * compile-time constants LNN_CFC_N_NEURONS, LNN_CFC_N_OUTPUTS, LNN_CFC_BUF (values of a work buffer, even),
 * LNN_CFC_MODE (LNN_CFC_DEFAULT, LNN_CFC_NO_GATE, LNN_CFC_PURE), LNN_CFC_ACTIVATION (LNN_CFC_TANH for tanh and
 * lecun_tanh, LNN_CFC_RELU, LNN_CFC_SILU, LNN_CFC_GELU), LNN_CFC_INDEX_T (CSR indices), the tanh table's
 * LNN_CFC_TANH_BITS (input bits: [-8, 8)), LNN_CFC_TANH_FS (segment width log2), LNN_CFC_TANH_MIRRORED,
 * LNN_CFC_TANH_MID, the gelu table's LNN_CFC_PHI_LIMIT, LNN_CFC_PHI_FS, LNN_CFC_PHI_LAST, the pure mode's
 * LNN_CFC_EXP_FRAC, LNN_CFC_EXP_LIMIT, LNN_CFC_EXP_FS, LNN_CFC_EXP_LAST, LNN_CFC_EXP_FACTORS (each group only when
 * the model has that table) and the update shifts LNN_CFC_H_S, LNN_CFC_H_ROUND (default), LNN_CFC_H_S1,
 * LNN_CFC_H_S2 (no_gate). Everything else comes in static const descriptors (below) whose fields the compiler
 * folds: every kernel is LNN_STEP_INLINE and called once per layer with the address of its descriptor.
 *
 * Core-specific code: on cores with the DSP extension (ARMv7E-M, ARMv8-M Mainline + DSP: Cortex-M4, M7, M33) the
 * passes use the ACLE intrinsics SMLAD / SMLABB / SMLATB, the tanh interpolation one SMLAD and the saturation
 * SSAT; they must equal the portable C next to them bit for bit (the tests run both in Unicorn against the
 * emulator), and -DLNN_NO_ASM builds the portable C on every core.
 */
#ifndef LNN_CFC_Q15_H
#define LNN_CFC_Q15_H

#include <stdint.h>

#include "lnn_fixed.h"
#include "lnn_status.h"

#define LNN_CFC_DEFAULT 0
#define LNN_CFC_NO_GATE 1
#define LNN_CFC_PURE 2
#define LNN_CFC_TANH 0
#define LNN_CFC_RELU 1
#define LNN_CFC_SILU 2
#define LNN_CFC_GELU 3

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(LNN_NO_ASM)
#include <arm_acle.h>
#define LNN_CFC_Q15_DSP 1
#else
#define LNN_CFC_Q15_DSP 0
#endif
#if defined(__ARM_FEATURE_SAT) && !defined(LNN_NO_ASM)
#define LNN_CFC_Q15_SSAT 1
#else
#define LNN_CFC_Q15_SSAT 0
#endif

/* Functions that a model may not use (a table it lacks, no projection): no unused-function warning. */
#if defined(__GNUC__)
#define LNN_CFC_MAYBE_UNUSED __attribute__((unused))
#else
#define LNN_CFC_MAYBE_UNUSED
#endif

#define LNN_CFC_Q15_S_FRAC 15
#define LNN_CFC_Q15_ONE ((int32_t)1 << LNN_CFC_Q15_S_FRAC)

/* A work buffer (z, or a backbone layer's activations): 16-bit values h[], read as words w[] by SMLAD. */
typedef union {
    int16_t h[LNN_CFC_BUF];
    int32_t w[LNN_CFC_BUF / 2];
} lnn_cfc_q15_buf_t;

/* The function tables (Q15 samples); 0 where the model has none. */
typedef struct {
    const int16_t *tanh;         /* tanh on [-8, 8] (or [0, 8], LNN_CFC_TANH_MIRRORED) */
    const uint16_t *phi;         /* Phi on [0, 8) (gelu) */
    const uint16_t *exp;         /* exp(-f), f in [0, 1] (pure) */
    const uint16_t *exp_factors; /* exp(-n), n = 0, 1, ... (pure) */
} lnn_cfc_q15_tables_t;

/* One pass: count accumulators (1 to 4, from a[first] on) += the rows' weights times z. Weights interleaved
 * [row][column pair][accumulator][lane]: stride words a row, steps column pairs; with tail, an odd last column
 * follows as count single weights (count even), else it is a pair padded with a zero weight. */
typedef struct {
    const int16_t *h; /* the weights one by one */
    const int32_t *w; /* the same, one word per pair */
    int count;
    int steps;
    int stride;
    int tail;
    int first;
} lnn_cfc_q15_pass_t;

/* The synapses of ff1 (and ff2) of a wired layer, CSR by neuron: synapses row[r] .. row[r+1]-1, their columns in
 * z col[k], both heads' weights interleaved per synapse (heads 2: one word, SMLABB / SMLATB). */
typedef struct {
    const LNN_CFC_INDEX_T *row;
    const LNN_CFC_INDEX_T *col;
    const int16_t *h;
    const int32_t *w;
    int heads;
} lnn_cfc_q15_csr_t;

/* One CfC layer (a dense cell is one layer): neurons start .. start + size - 1, z = [u ; h_L] of inputs + size
 * values (cols), padded with a zero to zlen. heads
 * accumulators a neuron (4: ff1, ff2, time_a, time_b; pure 1: ff1), biases [neuron][head]. */
typedef struct {
    const lnn_cfc_q15_tables_t *t;
    int start;
    int size;
    int inputs;
    int cols;
    int zlen;
    int source; /* -1: u = x, else u = state[source ..] */
    int heads;
    const int32_t *bias;
    int passes; /* dense passes: 0 to 2 */
    lnn_cfc_q15_pass_t pass[2];
    int sparse; /* ff1 (ff2) over the synapses in csr */
    lnn_cfc_q15_csr_t csr;
    int ff1_sz; /* gated modes: the shifts of the table of lnn_edge/cells/cfc/emulate.py */
    int ff2_sz;
    int ta_s;
    int tb_s;
    int g_s;
    int ff1_sp; /* pure */
    int u_s;
    int A_s;
    const int16_t *tau; /* pure: |w_tau| Q(f1), A Q(A), A Q(h) */
    const int16_t *A;
    const int16_t *A_h;
} lnn_cfc_q15_layer_t;

/* One backbone layer: blocks of pass.count rows, biases [row]; pad: index of a zero written after the last row
 * (-1: none). Shifts sz, sa, sr of the table of lnn_edge/cells/cfc/emulate.py; sz_adjust = rounding offset of sz - that of sa. */
typedef struct {
    const lnn_cfc_q15_tables_t *t;
    lnn_cfc_q15_pass_t pass;
    const int32_t *bias;
    int blocks;
    int pad;
    int sz;
    int sa;
    int sr;
    int sz_adjust;
} lnn_cfc_q15_backbone_t;

/* The outputs from the last layer's new state (neurons last_start .. last_start + last_size - 1). */
typedef struct {
    int last_start;
    int last_size;
    int proj;                /* p = rshift_round(fc_b + fc_w h, fc_shift), else p = h */
    const int16_t *fc_w;     /* [output][neuron] */
    const int32_t *fc_b;
    const int8_t *fc_shift;
    int affine;              /* y = sat(rshift_round(p out_w, out_shift) + out_b), else y = p */
    const int16_t *out_w;
    const int8_t *out_shift;
    const int16_t *out_b;
} lnn_cfc_q15_readout_t;

/* The model's state: an array, so that the compiler sees every access at a constant offset as one (an indexed
 * pointer would cost more in its unrolling estimates). Kernels that only read it take it non-const too: C99
 * does not convert a pointer to an array to a pointer to a const array. */
typedef int16_t lnn_cfc_q15_state_t[LNN_CFC_N_NEURONS];

/* Zero the state (LNN_CFC_N_NEURONS values). */
static inline int lnn_cfc_q15_reset(int16_t *state)
{
    int i;
    for (i = 0; i < LNN_CFC_N_NEURONS; i++) {
        state[i] = 0;
    }
    return LNN_OK;
}

/* Copy v into the state; LNN_ERR_NULL (state untouched) if v is NULL. */
static inline int lnn_cfc_q15_set_state(int16_t *state, const int16_t *v)
{
    int i;
    if (v == 0) {
        return LNN_ERR_NULL;
    }
    for (i = 0; i < LNN_CFC_N_NEURONS; i++) {
        state[i] = v[i];
    }
    return LNN_OK;
}

/* The elapsed time of a step: a negative dt counts as 0. */
static inline int32_t lnn_cfc_q15_dt(int16_t dt)
{
    return dt < 0 ? 0 : (int32_t)dt;
}

#if defined(LNN_CFC_TANH_FS)
/* x saturated to LNN_CFC_TANH_BITS bits: the tanh table's input range [-8, 8). */
static inline int32_t lnn_cfc_q15_sat_t(int32_t x)
{
#if LNN_CFC_Q15_SSAT && !LNN_CFC_TANH_MIRRORED
    /* SSAT's range is [-2^(b-1), 2^(b-1) - 1]: right for the centred table; a mirrored one needs the symmetric
     * clamp below, else |t| = 2^(b-1) would read one sample past its end (fixed16 tables are centred today). */
    return (int32_t)__builtin_arm_ssat(x, LNN_CFC_TANH_BITS);
#else
    const int32_t high = ((int32_t)1 << (LNN_CFC_TANH_BITS - 1)) - 1;
    const int32_t low = LNN_CFC_TANH_MIRRORED ? -high : -high - 1;
    return x < low ? low : (x > high ? high : x);
#endif
}

/* tanh(t), t already saturated by lnn_cfc_q15_sat_t, result Q15 (lnn_edge.quant.fixedpoint.CfcTable): segment
 * t >> TANH_FS of the table, linearly interpolated, T[i] + rshift_round((T[i+1] - T[i]) r, TANH_FS) with
 * r = t & (2^TANH_FS - 1); a mirrored table holds [0, 8]: |t| is looked up and the result negated for t < 0. */
static inline int32_t lnn_cfc_q15_tanh(const int16_t *table, int32_t t)
{
    const int32_t mask = ((int32_t)1 << LNN_CFC_TANH_FS) - 1;
    const int32_t half = (int32_t)1 << (LNN_CFC_TANH_FS - 1);
#if LNN_CFC_TANH_MIRRORED
    int32_t m = t < 0 ? -t : t;
    const int16_t *e = table + (int)(m >> LNN_CFC_TANH_FS);
    int32_t low = e[0];
    int32_t value = low + (((e[1] - low) * (m & mask) + half) >> LNN_CFC_TANH_FS);
    return t < 0 ? -value : value;
#else
    const int16_t *e = (table + LNN_CFC_TANH_MID) + (int)(t >> LNN_CFC_TANH_FS);
#if LNN_CFC_Q15_DSP
    /* (T[i] (2^FS - r) + T[i+1] r + 2^(FS-1)) >> FS, the same value: T[i] | T[i+1] << 16 is one (unaligned) word */
    int32_t pair;
    int32_t r = t & mask;
    __builtin_memcpy(&pair, e, sizeof pair);
    return __smlad(pair, (((int32_t)1 << LNN_CFC_TANH_FS) - r) | (r << 16), half) >> LNN_CFC_TANH_FS;
#else
    int32_t low = e[0];
    return low + (((e[1] - low) * (t & mask) + half) >> LNN_CFC_TANH_FS);
#endif
#endif
}
#endif

#if defined(LNN_CFC_PHI_FS)
/* Phi(z), the normal CDF (gelu), z in Q(z), result Q15: the table on [0, 8), Phi(-z) = 1 - Phi(z). */
LNN_CFC_MAYBE_UNUSED static int32_t lnn_cfc_q15_phi(const uint16_t *table, int32_t z)
{
    int32_t value = lnn_interp_u16(table, z < 0 ? -z : z, LNN_CFC_PHI_LIMIT, LNN_CFC_PHI_FS, LNN_CFC_PHI_LAST);
    return z >= 0 ? value : LNN_CFC_Q15_ONE - value;
}
#endif

#if defined(LNN_CFC_EXP_FS)
/* exp(-u), u >= 0 in Q(e), result Q15: u = n + f, exp(-n) from factors (0 from n = EXP_FACTORS on) times exp(-f)
 * from the [0, 1) table, rounded back to Q15. */
LNN_CFC_MAYBE_UNUSED static int32_t lnn_cfc_q15_exp_neg(const lnn_cfc_q15_tables_t *t, int32_t u)
{
    int32_t whole = u >> LNN_CFC_EXP_FRAC;
    int32_t fraction = u & (((int32_t)1 << LNN_CFC_EXP_FRAC) - 1);
    if (whole >= LNN_CFC_EXP_FACTORS) {
        return 0;
    }
    return lnn_rshift_round32(
        (int32_t)t->exp_factors[(int)whole] *
            lnn_interp_u16(t->exp, fraction, LNN_CFC_EXP_LIMIT, LNN_CFC_EXP_FS, LNN_CFC_EXP_LAST),
        LNN_CFC_Q15_S_FRAC);
}
#endif

/* a[i] = b[i] for i < count (at most 4): the accumulators start from their biases. */
LNN_STEP_INLINE void lnn_cfc_q15_load(int count, const int32_t *b, int32_t *a)
{
    a[0] = b[0];
    if (count > 1) {
        a[1] = b[1];
    }
    if (count > 2) {
        a[2] = b[2];
    }
    if (count > 3) {
        a[3] = b[3];
    }
}

/* a[i] = SMLAD(w[i], z, a[i]) for i < count: the dual 16x16 products of one weight word and one word of z. */
LNN_STEP_INLINE void lnn_cfc_q15_dual(int count, const int32_t *w, int32_t z, int32_t *a)
{
#if LNN_CFC_Q15_DSP
    a[0] = __smlad(w[0], z, a[0]);
    if (count > 1) {
        a[1] = __smlad(w[1], z, a[1]);
    }
    if (count > 2) {
        a[2] = __smlad(w[2], z, a[2]);
    }
    if (count > 3) {
        a[3] = __smlad(w[3], z, a[3]);
    }
#else
    (void)count;
    (void)w;
    (void)z;
    (void)a;
#endif
}

/* a[i] += w[2 i] z0 + w[2 i + 1] z1 for i < count: the portable column pair. */
LNN_STEP_INLINE void lnn_cfc_q15_pair(int count, const int16_t *w, int32_t z0, int32_t z1, int32_t *a)
{
    a[0] += w[0] * z0;
    a[0] += w[1] * z1;
    if (count > 1) {
        a[1] += w[2] * z0;
        a[1] += w[3] * z1;
    }
    if (count > 2) {
        a[2] += w[4] * z0;
        a[2] += w[5] * z1;
    }
    if (count > 3) {
        a[3] += w[6] * z0;
        a[3] += w[7] * z1;
    }
}

/* The pass G over z for row (or row block) `row`: a[i] += sum over the columns of its weights times z. */
LNN_STEP_INLINE void lnn_cfc_q15_pass(const lnn_cfc_q15_pass_t *G, int row, const lnn_cfc_q15_buf_t *z, int32_t *a)
{
    const int count = G->count;
#if LNN_CFC_Q15_DSP
    const int32_t *w = G->w + row * G->stride;
    const int32_t *zp = z->w;
    int32_t z0;
    if (G->steps / 2) { /* two column pairs an iteration */
        const int32_t *zend = zp + 2 * (G->steps / 2);
        do {
            int32_t z1;
            z0 = zp[0];
            z1 = zp[1];
            lnn_cfc_q15_dual(count, w, z0, a);
            lnn_cfc_q15_dual(count, w + count, z1, a);
            zp += 2;
            w += 2 * count;
        } while (zp != zend);
    }
    if (G->steps % 2) {
        z0 = zp[0];
        lnn_cfc_q15_dual(count, w, z0, a);
    }
    if (G->tail) { /* the odd last column: bottom halves of z only */
        const int32_t *t = w + (G->steps % 2) * count;
        z0 = zp[G->steps % 2];
        a[0] = __smlabb(t[0], z0, a[0]);
        a[1] = __smlatb(t[0], z0, a[1]);
        if (count > 2) {
            a[2] = __smlabb(t[1], z0, a[2]);
            a[3] = __smlatb(t[1], z0, a[3]);
        }
    }
#else
    const int16_t *w = G->h + row * 2 * G->stride;
    const int16_t *zp = z->h;
    if (G->steps) {
        const int16_t *zend = zp + 2 * G->steps;
#if defined(__riscv) && defined(__GNUC__) && !defined(__clang__)
        /* RV32: two column pairs an iteration (the DSP path's shape): the pointer updates and the branch shared,
         * 4% fewer instructions on the wired CfC AutoNCP(19, 2) for 6% more flash (docs/boards.md) */
#pragma GCC unroll 2
#endif
        do {
            lnn_cfc_q15_pair(count, w, zp[0], zp[1], a);
            zp += 2;
            w += 2 * count;
        } while (zp != zend);
    }
    if (G->tail) { /* the odd last column */
        int32_t z0 = zp[0];
        a[0] += w[0] * z0;
        a[1] += w[1] * z0;
        if (count > 2) {
            a[2] += w[2] * z0;
            a[3] += w[3] * z0;
        }
    }
#endif
}

/* The synapses of neuron r (CSR): a[0] (ff1) and a[1] (ff2, heads 2) += their weights times z, in one pass. */
LNN_STEP_INLINE void lnn_cfc_q15_synapses(const lnn_cfc_q15_csr_t *S, int r, const lnn_cfc_q15_buf_t *z, int32_t *a)
{
    int k = (int)S->row[r];
    int kend = (int)S->row[r + 1];
    for (; k < kend; k++) {
        int32_t zc = z->h[S->col[k]];
        if (S->heads == 2) {
#if LNN_CFC_Q15_DSP
            int32_t wk = S->w[k];
            a[0] = __smlabb(wk, zc, a[0]);
            a[1] = __smlatb(wk, zc, a[1]);
#else
            a[0] += S->h[2 * k] * zc;
            a[1] += S->h[2 * k + 1] * zc;
#endif
        } else {
            a[0] += (int32_t)S->h[k] * zc;
        }
    }
}

/* z = [u ; h_L]: u the inputs x (layer 0) or the new state of the previous layer (from state[source] on), h_L the
 * old state state[start .. start + size - 1], then a zero up to zlen. */
LNN_STEP_INLINE void lnn_cfc_q15_gather(const lnn_cfc_q15_layer_t *L, lnn_cfc_q15_buf_t *z, const int16_t *x,
                                        lnn_cfc_q15_state_t *state)
{
    int c;
    if (L->source < 0) {
        for (c = 0; c < L->inputs; c++) {
            z->h[c] = x[c];
        }
    } else if (L->source + L->inputs == L->start) { /* [new state of the previous layer ; old state of this one] */
        for (c = 0; c < L->inputs + L->size; c++) {
            z->h[c] = (*state)[L->source + c];
        }
    } else {
        for (c = 0; c < L->inputs; c++) {
            z->h[c] = (*state)[L->source + c];
        }
    }
    if (L->source < 0 || L->source + L->inputs != L->start) {
        for (c = 0; c < L->size; c++) {
            z->h[L->inputs + c] = (*state)[L->start + c];
        }
    }
    if (L->zlen > L->cols) {
        z->h[L->cols] = 0;
    }
}

#if defined(LNN_CFC_ACTIVATION)
/* The backbone activation of accumulator a (Q(acc)), into Q(act). */
LNN_STEP_INLINE int16_t lnn_cfc_q15_activate(const lnn_cfc_q15_backbone_t *B, int32_t a)
{
#if LNN_CFC_ACTIVATION == LNN_CFC_TANH
    int32_t v = lnn_cfc_q15_tanh(B->t->tanh, lnn_cfc_q15_sat_t(a >> B->sz));
    if (B->sr) { /* deep tanh backbones: Q15 -> Q(15 - sr) */
        v = (v + ((int32_t)1 << (B->sr - 1))) >> B->sr;
    }
    return (int16_t)v;
#elif LNN_CFC_ACTIVATION == LNN_CFC_RELU
    return lnn_sat16((a >> B->sa) > 0 ? (a >> B->sa) : 0);
#elif LNN_CFC_ACTIVATION == LNN_CFC_SILU
    return (int16_t)lnn_rshift_round32(
        lnn_sat16(a >> B->sa) *
            (LNN_CFC_Q15_ONE + lnn_cfc_q15_tanh(B->t->tanh, lnn_cfc_q15_sat_t((a + B->sz_adjust) >> B->sz))),
        LNN_CFC_Q15_S_FRAC + 1);
#else
    return (int16_t)lnn_rshift_round32(lnn_sat16(a >> B->sa) * lnn_cfc_q15_phi(B->t->phi, (a + B->sz_adjust) >> B->sz),
                                       LNN_CFC_Q15_S_FRAC);
#endif
}

/* One backbone layer: out = activation(b + W in), pass.count rows at a time. */
LNN_STEP_INLINE void lnn_cfc_q15_backbone(const lnn_cfc_q15_backbone_t *B, const lnn_cfc_q15_buf_t *in,
                                          lnn_cfc_q15_buf_t *out)
{
    const int block = B->pass.count;
    int r;
    for (r = 0; r < B->blocks; r++) {
        int32_t a[4];
        lnn_cfc_q15_load(block, B->bias + block * r, a);
        lnn_cfc_q15_pass(&B->pass, r, in, a);
        out->h[block * r + 0] = lnn_cfc_q15_activate(B, a[0]);
        if (block > 1) {
            out->h[block * r + 1] = lnn_cfc_q15_activate(B, a[1]);
        }
        if (block > 2) {
            out->h[block * r + 2] = lnn_cfc_q15_activate(B, a[2]);
        }
        if (block > 3) {
            out->h[block * r + 3] = lnn_cfc_q15_activate(B, a[3]);
        }
    }
    if (B->pad >= 0) {
        out->h[B->pad] = 0;
    }
}
#endif

/* The new state of neuron r from its accumulators a (ff1, ff2, time_a, time_b; pure: ff1), Q(h). */
LNN_STEP_INLINE int16_t lnn_cfc_q15_update(const lnn_cfc_q15_layer_t *L, int r, const int32_t *a, int32_t dt_q)
{
#if LNN_CFC_MODE == LNN_CFC_PURE
    int32_t f1 = a[0] >> L->ff1_sp;                                       /* Q(f1) */
    int32_t k = (int32_t)L->tau[r] + (f1 < 0 ? -f1 : f1);                 /* Q(f1), 16 bits */
    int32_t e = lnn_cfc_q15_exp_neg(L->t, lnn_rshift_round32(dt_q * k, L->u_s)); /* exp(-t k), Q15 */
    int32_t m = lnn_rshift_round32(e * f1, LNN_CFC_Q15_S_FRAC);           /* Q(f1) */
    return lnn_sat16((int32_t)L->A_h[r] - lnn_rshift_round32((int32_t)L->A[r] * m, L->A_s));
#else
    int32_t t1 = lnn_cfc_q15_tanh(L->t->tanh, lnn_cfc_q15_sat_t(a[0] >> L->ff1_sz)); /* Q15 */
    int32_t t2 = lnn_cfc_q15_tanh(L->t->tanh, lnn_cfc_q15_sat_t(a[1] >> L->ff2_sz)); /* Q15 */
    int32_t gz = (a[2] >> L->ta_s) * dt_q + (a[3] >> L->tb_s);                       /* Q(ta + dt) */
    int32_t tg = lnn_cfc_q15_tanh(L->t->tanh, lnn_cfc_q15_sat_t(gz >> L->g_s)); /* tanh(gz / 2) = 2 g - 1 */
    (void)r;
#if LNN_CFC_MODE == LNN_CFC_DEFAULT
    return lnn_sat16(((t1 + t2) * LNN_CFC_Q15_ONE + tg * (t2 - t1) + LNN_CFC_H_ROUND) >> LNN_CFC_H_S);
#else
    int32_t g = (tg + LNN_CFC_Q15_ONE + 1) >> 1; /* sigmoid(gz), Q15 */
    return lnn_sat16(lnn_rshift_round32(t1, LNN_CFC_H_S1) + lnn_rshift_round32(g * t2, LNN_CFC_H_S2));
#endif
#endif
}

/* Neuron r of layer L: its heads over z (dense passes, then the synapses), then its new state, written to
 * state[start + r] (z holds the old values this layer reads). */
LNN_STEP_INLINE void lnn_cfc_q15_neuron(const lnn_cfc_q15_layer_t *L, int r, const lnn_cfc_q15_buf_t *z,
                                        lnn_cfc_q15_state_t *state, int32_t dt_q)
{
    int32_t a[4];
    lnn_cfc_q15_load(L->heads, L->bias + L->heads * r, a);
    if (L->passes > 0) {
        lnn_cfc_q15_pass(&L->pass[0], r, z, a + L->pass[0].first);
    }
    if (L->passes > 1) {
        lnn_cfc_q15_pass(&L->pass[1], r, z, a + L->pass[1].first);
    }
    if (L->sparse) {
        lnn_cfc_q15_synapses(&L->csr, r, z, a);
    }
    (*state)[L->start + r] = lnn_cfc_q15_update(L, r, a, dt_q);
}

/* Every neuron of layer L. In pure mode (one head, a small body) a layer of one or two neurons is written out, as
 * GCC unrolls such a loop when it sees the arrays themselves (its size estimate counts the descriptor's pointers):
 * the per-neuron loads become constant addresses. The gated modes' larger bodies stay in the loop (flash). */
LNN_STEP_INLINE void lnn_cfc_q15_heads(const lnn_cfc_q15_layer_t *L, const lnn_cfc_q15_buf_t *z,
                                       lnn_cfc_q15_state_t *state, int32_t dt_q)
{
    int r;
    if (L->heads == 1 && L->size <= 2) {
        lnn_cfc_q15_neuron(L, 0, z, state, dt_q);
        if (L->size == 2) {
            lnn_cfc_q15_neuron(L, 1, z, state, dt_q);
        }
        return;
    }
    for (r = 0; r < L->size; r++) {
        lnn_cfc_q15_neuron(L, r, z, state, dt_q);
    }
}

/* acc + sum_c w[c] v[c], c = 0 .. n-1. */
LNN_CFC_MAYBE_UNUSED static int32_t lnn_cfc_q15_dot(const int16_t *w, const int16_t *v, int n, int32_t acc)
{
    int c;
    for (c = 0; c < n; c++) {
        acc += (int32_t)w[c] * v[c];
    }
    return acc;
}

/* The LNN_CFC_N_OUTPUTS outputs y from the new state. */
LNN_STEP_INLINE void lnn_cfc_q15_readout(const lnn_cfc_q15_readout_t *o, lnn_cfc_q15_state_t *state,
                                         int16_t *y)
{
    int r;
#if LNN_CFC_N_OUTPUTS <= 4 && defined(__GNUC__) && !defined(__clang__)
    /* a few outputs: one copy each, so that each one's shifts are constants (GCC's size estimate would keep the
     * loop, whose variable 64-bit shifts cost more than the copies) */
#pragma GCC unroll 4
#endif
    for (r = 0; r < LNN_CFC_N_OUTPUTS; r++) {
        int32_t p;
        if (o->proj) {
            p = lnn_rshift_round32(
                lnn_cfc_q15_dot(o->fc_w + r * o->last_size, *state + o->last_start, o->last_size, o->fc_b[r]),
                o->fc_shift[r]);
        } else {
            p = (*state)[o->last_start + r];
        }
        if (o->affine) {
            y[r] = lnn_sat16(lnn_rshift_round32(p * o->out_w[r], o->out_shift[r]) + o->out_b[r]);
        } else {
            y[r] = (int16_t)p;
        }
    }
}

#endif /* LNN_CFC_Q15_H */
