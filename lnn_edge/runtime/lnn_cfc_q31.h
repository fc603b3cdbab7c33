/* lnn_cfc_q31.h: the CfC step (dense and wired) in 32-bit fixed point (fixed32), static inline kernels of the
 * lnn-edge runtime. Do not edit: lnn-edge export copies this file unchanged into DIR/lnn/.
 *
 * The C twin of lnn_edge/cells/cfc/emulate.py (CfcFixedStep, whose docstring is the operation table followed here line
 * by line); lnn_edge/cells/cfc/quantize.py chooses the formats, lnn_edge/cells/cfc/codegen.py the layouts. Values are 32-bit
 * (state Q(h), inputs Q(input_frac[i]), elapsed time Q(dt)), accumulators 64-bit; S_FRAC = 31, ONE = 2^31.
 * The same kernels as lnn_cfc_q15.h (see there for the sequence of calls and the configuration macros), one
 * column a step: a pass feeds at most two accumulators (a 64-bit accumulator takes two registers), products of
 * two 32-bit values are one SMULL/SMLAL where the core has it. Portable C only: no core-specific code
 * (-DLNN_NO_ASM changes nothing).
 */
#ifndef LNN_CFC_Q31_H
#define LNN_CFC_Q31_H

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

/* Functions that a model may not use (a table it lacks, no projection): no unused-function warning. */
#if defined(__GNUC__)
#define LNN_CFC_MAYBE_UNUSED __attribute__((unused))
#else
#define LNN_CFC_MAYBE_UNUSED
#endif

#define LNN_CFC_Q31_S_FRAC 31
#define LNN_CFC_Q31_ONE ((int64_t)1 << LNN_CFC_Q31_S_FRAC)
/* The product of two values that fit 32 bits, in 64 bits: one SMULL. */
#define LNN_CFC_Q31_MUL(a, b) ((int64_t)(int32_t)(a) * (int32_t)(b))

/* A work buffer: z, or a backbone layer's activations. */
typedef struct {
    int32_t h[LNN_CFC_BUF];
} lnn_cfc_q31_buf_t;

/* The function tables (Q31 samples); 0 where the model has none. */
typedef struct {
    const int32_t *tanh;         /* tanh on [-8, 8] (or [0, 8], LNN_CFC_TANH_MIRRORED) */
    const uint32_t *phi;         /* Phi on [0, 8) (gelu) */
    const uint32_t *exp;         /* exp(-f), f in [0, 1] (pure) */
    const uint32_t *exp_factors; /* exp(-n), n = 0, 1, ... (pure) */
} lnn_cfc_q31_tables_t;

/* One pass: count accumulators (1 or 2, from a[first] on) += the rows' weights times z. Weights interleaved
 * [row][column][accumulator]: stride = steps * count values a row, steps = the columns. */
typedef struct {
    const int32_t *w;
    int count;
    int steps;
    int stride;
    int first;
} lnn_cfc_q31_pass_t;

/* The synapses of ff1 (and ff2) of a wired layer, CSR by neuron: synapses row[r] .. row[r+1]-1, their columns in
 * z col[k], the heads' weights interleaved per synapse ([synapse][head]). */
typedef struct {
    const LNN_CFC_INDEX_T *row;
    const LNN_CFC_INDEX_T *col;
    const int32_t *w;
    int heads;
} lnn_cfc_q31_csr_t;

/* One CfC layer (a dense cell is one layer): neurons start .. start + size - 1, z = [u ; h_L] of inputs + size
 * values (cols; zlen = cols, no padding in fixed32). heads
 * accumulators a neuron (4: ff1, ff2, time_a, time_b; pure 1: ff1), biases [neuron][head]. */
typedef struct {
    const lnn_cfc_q31_tables_t *t;
    int start;
    int size;
    int inputs;
    int cols;
    int zlen;
    int source; /* -1: u = x, else u = state[source ..] */
    int heads;
    const int64_t *bias;
    int passes; /* dense passes: 0 to 2 */
    lnn_cfc_q31_pass_t pass[2];
    int sparse; /* ff1 (ff2) over the synapses in csr */
    lnn_cfc_q31_csr_t csr;
    int ff1_sz; /* gated modes: the shifts of the table of lnn_edge/cells/cfc/emulate.py */
    int ff2_sz;
    int ta_s;
    int tb_s;
    int g_s;
    int ff1_sp; /* pure */
    int u_s;
    int A_s;
    const int32_t *tau; /* pure: |w_tau| Q(f1), A Q(A), A Q(h) */
    const int32_t *A;
    const int32_t *A_h;
} lnn_cfc_q31_layer_t;

/* One backbone layer: blocks of pass.count rows, biases [row]; pad: index of a zero written after the last row
 * (-1: none, always in fixed32). Shifts sz, sa, sr of the table of lnn_edge/cells/cfc/emulate.py; sz_adjust = rounding offset of sz -
 * that of sa. */
typedef struct {
    const lnn_cfc_q31_tables_t *t;
    lnn_cfc_q31_pass_t pass;
    const int64_t *bias;
    int blocks;
    int pad;
    int sz;
    int sa;
    int sr;
    int64_t sz_adjust;
} lnn_cfc_q31_backbone_t;

/* The outputs from the last layer's new state (neurons last_start .. last_start + last_size - 1). */
typedef struct {
    int last_start;
    int last_size;
    int proj;                /* p = rshift_round(fc_b + fc_w h, fc_shift), else p = h */
    const int32_t *fc_w;     /* [output][neuron] */
    const int64_t *fc_b;
    const int8_t *fc_shift;
    int affine;              /* y = sat(rshift_round(p out_w, out_shift) + out_b), else y = p */
    const int32_t *out_w;
    const int8_t *out_shift;
    const int32_t *out_b;
} lnn_cfc_q31_readout_t;

/* The model's state: an array, so that the compiler sees every access at a constant offset as one (an indexed
 * pointer would cost more in its unrolling estimates). Kernels that only read it take it non-const too: C99
 * does not convert a pointer to an array to a pointer to a const array. */
typedef int32_t lnn_cfc_q31_state_t[LNN_CFC_N_NEURONS];

/* Zero the state (LNN_CFC_N_NEURONS values). */
static inline int lnn_cfc_q31_reset(int32_t *state)
{
    int i;
    for (i = 0; i < LNN_CFC_N_NEURONS; i++) {
        state[i] = 0;
    }
    return LNN_OK;
}

/* Copy v into the state; LNN_ERR_NULL (state untouched) if v is NULL. */
static inline int lnn_cfc_q31_set_state(int32_t *state, const int32_t *v)
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
static inline int64_t lnn_cfc_q31_dt(int32_t dt)
{
    return dt < 0 ? 0 : (int64_t)dt;
}

#if defined(LNN_CFC_TANH_FS)
/* x saturated to LNN_CFC_TANH_BITS bits: the tanh table's input range [-8, 8). */
static inline int64_t lnn_cfc_q31_sat_t(int64_t x)
{
    const int64_t high = ((int64_t)1 << (LNN_CFC_TANH_BITS - 1)) - 1;
    const int64_t low = LNN_CFC_TANH_MIRRORED ? -high : -high - 1;
    return x < low ? low : (x > high ? high : x);
}

/* tanh(t), t already saturated by lnn_cfc_q31_sat_t, result Q31 (lnn_edge.quant.fixedpoint.CfcTable): segment
 * t >> TANH_FS of the table, linearly interpolated, T[i] + rshift_round((T[i+1] - T[i]) r, TANH_FS) with
 * r = t & (2^TANH_FS - 1) (the generator proves T[i+1] - T[i] and r fit 32 bits); a mirrored table holds [0, 8]:
 * |t| is looked up and the result negated for t < 0. */
static inline int64_t lnn_cfc_q31_tanh(const int32_t *table, int64_t t)
{
    const int64_t mask = ((int64_t)1 << LNN_CFC_TANH_FS) - 1;
    const int64_t half = (int64_t)1 << (LNN_CFC_TANH_FS - 1);
#if LNN_CFC_TANH_MIRRORED
    int64_t m = t < 0 ? -t : t;
    const int32_t *e = table + (int)(m >> LNN_CFC_TANH_FS);
    int64_t low = e[0];
    int64_t value = low + ((LNN_CFC_Q31_MUL((int64_t)e[1] - low, m & mask) + half) >> LNN_CFC_TANH_FS);
    return t < 0 ? -value : value;
#else
    const int32_t *e = (table + LNN_CFC_TANH_MID) + (int)(t >> LNN_CFC_TANH_FS);
    int64_t low = e[0];
    return low + ((LNN_CFC_Q31_MUL((int64_t)e[1] - low, t & mask) + half) >> LNN_CFC_TANH_FS);
#endif
}
#endif

#if defined(LNN_CFC_PHI_FS)
/* Phi(z), the normal CDF (gelu), z in Q(z), result Q31: the table on [0, 8), Phi(-z) = 1 - Phi(z). */
LNN_CFC_MAYBE_UNUSED static int64_t lnn_cfc_q31_phi(const uint32_t *table, int64_t z)
{
    int64_t value = lnn_interp_u32(table, z < 0 ? -z : z, LNN_CFC_PHI_LIMIT, LNN_CFC_PHI_FS, LNN_CFC_PHI_LAST);
    return z >= 0 ? value : LNN_CFC_Q31_ONE - value;
}
#endif

#if defined(LNN_CFC_EXP_FS)
/* exp(-u), u >= 0 in Q(e), result Q31: u = n + f, exp(-n) from factors (0 from n = EXP_FACTORS on) times exp(-f)
 * from the [0, 1) table, rounded back to Q31. */
LNN_CFC_MAYBE_UNUSED static int64_t lnn_cfc_q31_exp_neg(const lnn_cfc_q31_tables_t *t, int64_t u)
{
    int64_t whole = u >> LNN_CFC_EXP_FRAC;
    int64_t fraction = u & (((int64_t)1 << LNN_CFC_EXP_FRAC) - 1);
    if (whole >= LNN_CFC_EXP_FACTORS) {
        return 0;
    }
    return lnn_rshift_round64(
        (int64_t)t->exp_factors[(int)whole] *
            lnn_interp_u32(t->exp, fraction, LNN_CFC_EXP_LIMIT, LNN_CFC_EXP_FS, LNN_CFC_EXP_LAST),
        LNN_CFC_Q31_S_FRAC);
}
#endif

/* a[i] = b[i] for i < count (at most 4): the accumulators start from their biases. */
LNN_STEP_INLINE void lnn_cfc_q31_load(int count, const int64_t *b, int64_t *a)
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

/* a[i] += w[i] zc for i < count (at most 2): one column. */
LNN_STEP_INLINE void lnn_cfc_q31_column(int count, const int32_t *w, int64_t zc, int64_t *a)
{
    a[0] += (int64_t)w[0] * zc;
    if (count > 1) {
        a[1] += (int64_t)w[1] * zc;
    }
}

/* The pass G over z for row (or row block) `row`: a[i] += sum over the columns of its weights times z, two
 * columns an iteration. */
LNN_STEP_INLINE void lnn_cfc_q31_pass(const lnn_cfc_q31_pass_t *G, int row, const lnn_cfc_q31_buf_t *z, int64_t *a)
{
    const int count = G->count;
    const int32_t *w = G->w + row * G->stride;
    const int32_t *zp = z->h;
    if (G->steps / 2) {
        const int32_t *zend = zp + 2 * (G->steps / 2);
        do {
            lnn_cfc_q31_column(count, w, zp[0], a);
            lnn_cfc_q31_column(count, w + count, zp[1], a);
            zp += 2;
            w += 2 * count;
        } while (zp != zend);
    }
    if (G->steps % 2) {
        lnn_cfc_q31_column(count, w, zp[0], a);
    }
}

/* The synapses of neuron r (CSR): a[0] (ff1) and a[1] (ff2, heads 2) += their weights times z, in one pass. */
LNN_STEP_INLINE void lnn_cfc_q31_synapses(const lnn_cfc_q31_csr_t *S, int r, const lnn_cfc_q31_buf_t *z, int64_t *a)
{
    int k = (int)S->row[r];
    int kend = (int)S->row[r + 1];
    for (; k < kend; k++) {
        int64_t zc = z->h[S->col[k]];
        a[0] += (int64_t)S->w[S->heads * k] * zc;
        if (S->heads == 2) {
            a[1] += (int64_t)S->w[2 * k + 1] * zc;
        }
    }
}

/* z = [u ; h_L]: u the inputs x (layer 0) or the new state of the previous layer (from state[source] on), h_L the
 * old state state[start .. start + size - 1]. */
LNN_STEP_INLINE void lnn_cfc_q31_gather(const lnn_cfc_q31_layer_t *L, lnn_cfc_q31_buf_t *z, const int32_t *x,
                                        lnn_cfc_q31_state_t *state)
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
LNN_STEP_INLINE int32_t lnn_cfc_q31_activate(const lnn_cfc_q31_backbone_t *B, int64_t a)
{
#if LNN_CFC_ACTIVATION == LNN_CFC_TANH
    int64_t v = lnn_cfc_q31_tanh(B->t->tanh, lnn_cfc_q31_sat_t(a >> B->sz));
    if (B->sr) { /* deep tanh backbones: Q31 -> Q(31 - sr) */
        v = (v + ((int64_t)1 << (B->sr - 1))) >> B->sr;
    }
    return (int32_t)v;
#elif LNN_CFC_ACTIVATION == LNN_CFC_RELU
    return lnn_sat32((a >> B->sa) > 0 ? (a >> B->sa) : 0);
#elif LNN_CFC_ACTIVATION == LNN_CFC_SILU
    return (int32_t)lnn_rshift_round64(
        lnn_sat32(a >> B->sa) *
            (LNN_CFC_Q31_ONE + lnn_cfc_q31_tanh(B->t->tanh, lnn_cfc_q31_sat_t((a + B->sz_adjust) >> B->sz))),
        LNN_CFC_Q31_S_FRAC + 1);
#else
    return (int32_t)lnn_rshift_round64(lnn_sat32(a >> B->sa) * lnn_cfc_q31_phi(B->t->phi, (a + B->sz_adjust) >> B->sz),
                                       LNN_CFC_Q31_S_FRAC);
#endif
}

/* One backbone layer: out = activation(b + W in), pass.count rows at a time. */
LNN_STEP_INLINE void lnn_cfc_q31_backbone(const lnn_cfc_q31_backbone_t *B, const lnn_cfc_q31_buf_t *in,
                                          lnn_cfc_q31_buf_t *out)
{
    const int block = B->pass.count;
    int r;
    for (r = 0; r < B->blocks; r++) {
        int64_t a[4];
        lnn_cfc_q31_load(block, B->bias + block * r, a);
        lnn_cfc_q31_pass(&B->pass, r, in, a);
        out->h[block * r + 0] = lnn_cfc_q31_activate(B, a[0]);
        if (block > 1) {
            out->h[block * r + 1] = lnn_cfc_q31_activate(B, a[1]);
        }
    }
    if (B->pad >= 0) {
        out->h[B->pad] = 0;
    }
}
#endif

/* The new state of neuron r from its accumulators a (ff1, ff2, time_a, time_b; pure: ff1), Q(h). */
LNN_STEP_INLINE int32_t lnn_cfc_q31_update(const lnn_cfc_q31_layer_t *L, int r, const int64_t *a, int64_t dt_q)
{
#if LNN_CFC_MODE == LNN_CFC_PURE
    int64_t f1 = a[0] >> L->ff1_sp;                                       /* Q(f1) */
    int64_t k = (int64_t)L->tau[r] + (f1 < 0 ? -f1 : f1);                 /* Q(f1), 32 bits */
    int64_t e = lnn_cfc_q31_exp_neg(L->t, lnn_rshift_round64(dt_q * k, L->u_s)); /* exp(-t k), Q31 */
    int64_t m = lnn_rshift_round64(e * f1, LNN_CFC_Q31_S_FRAC);           /* Q(f1) */
    return lnn_sat32((int64_t)L->A_h[r] - lnn_rshift_round64((int64_t)L->A[r] * m, L->A_s));
#else
    int64_t t1 = lnn_cfc_q31_tanh(L->t->tanh, lnn_cfc_q31_sat_t(a[0] >> L->ff1_sz)); /* Q31 */
    int64_t t2 = lnn_cfc_q31_tanh(L->t->tanh, lnn_cfc_q31_sat_t(a[1] >> L->ff2_sz)); /* Q31 */
    int64_t gz = LNN_CFC_Q31_MUL(a[2] >> L->ta_s, dt_q) + (a[3] >> L->tb_s);         /* Q(ta + dt) */
    int64_t tg = lnn_cfc_q31_tanh(L->t->tanh, lnn_cfc_q31_sat_t(gz >> L->g_s)); /* tanh(gz / 2) = 2 g - 1 */
    (void)r;
#if LNN_CFC_MODE == LNN_CFC_DEFAULT
    return lnn_sat32(((t1 + t2) * LNN_CFC_Q31_ONE + (LNN_CFC_Q31_MUL(tg, t2) - LNN_CFC_Q31_MUL(tg, t1)) +
                      LNN_CFC_H_ROUND) >> LNN_CFC_H_S);
#else
    int64_t g = (tg + LNN_CFC_Q31_ONE + 1) >> 1; /* sigmoid(gz), Q31 */
    return lnn_sat32(lnn_rshift_round64(t1, LNN_CFC_H_S1) + lnn_rshift_round64(g * t2, LNN_CFC_H_S2));
#endif
#endif
}

/* Neuron r of layer L: its heads over z (dense passes, then the synapses), then its new state, written to
 * state[start + r] (z holds the old values this layer reads). */
LNN_STEP_INLINE void lnn_cfc_q31_neuron(const lnn_cfc_q31_layer_t *L, int r, const lnn_cfc_q31_buf_t *z,
                                        lnn_cfc_q31_state_t *state, int64_t dt_q)
{
    int64_t a[4];
    lnn_cfc_q31_load(L->heads, L->bias + L->heads * r, a);
    if (L->passes > 0) {
        lnn_cfc_q31_pass(&L->pass[0], r, z, a + L->pass[0].first);
    }
    if (L->passes > 1) {
        lnn_cfc_q31_pass(&L->pass[1], r, z, a + L->pass[1].first);
    }
    if (L->sparse) {
        lnn_cfc_q31_synapses(&L->csr, r, z, a);
    }
    (*state)[L->start + r] = lnn_cfc_q31_update(L, r, a, dt_q);
}

/* Every neuron of layer L. In pure mode (one head, a small body) a layer of one or two neurons is written out, as
 * GCC unrolls such a loop when it sees the arrays themselves (its size estimate counts the descriptor's pointers):
 * the per-neuron loads become constant addresses. The gated modes' larger bodies stay in the loop (flash). */
LNN_STEP_INLINE void lnn_cfc_q31_heads(const lnn_cfc_q31_layer_t *L, const lnn_cfc_q31_buf_t *z,
                                       lnn_cfc_q31_state_t *state, int64_t dt_q)
{
    int r;
    if (L->heads == 1 && L->size <= 2) {
        lnn_cfc_q31_neuron(L, 0, z, state, dt_q);
        if (L->size == 2) {
            lnn_cfc_q31_neuron(L, 1, z, state, dt_q);
        }
        return;
    }
    for (r = 0; r < L->size; r++) {
        lnn_cfc_q31_neuron(L, r, z, state, dt_q);
    }
}

/* acc + sum_c w[c] v[c], c = 0 .. n-1. */
LNN_CFC_MAYBE_UNUSED static int64_t lnn_cfc_q31_dot(const int32_t *w, const int32_t *v, int n, int64_t acc)
{
    int c;
    for (c = 0; c < n; c++) {
        acc += (int64_t)w[c] * v[c];
    }
    return acc;
}

/* The LNN_CFC_N_OUTPUTS outputs y from the new state. */
LNN_STEP_INLINE void lnn_cfc_q31_readout(const lnn_cfc_q31_readout_t *o, lnn_cfc_q31_state_t *state,
                                         int32_t *y)
{
    int r;
#if LNN_CFC_N_OUTPUTS <= 4 && defined(__GNUC__) && !defined(__clang__)
    /* a few outputs: one copy each, so that each one's shifts are constants (GCC's size estimate would keep the
     * loop, whose variable 64-bit shifts cost more than the copies) */
#pragma GCC unroll 4
#endif
    for (r = 0; r < LNN_CFC_N_OUTPUTS; r++) {
        int64_t p;
        if (o->proj) {
            p = lnn_rshift_round64(
                lnn_cfc_q31_dot(o->fc_w + r * o->last_size, *state + o->last_start, o->last_size, o->fc_b[r]),
                o->fc_shift[r]);
        } else {
            p = (*state)[o->last_start + r];
        }
        if (o->affine) {
            y[r] = lnn_sat32(lnn_rshift_round64(p * o->out_w[r], o->out_shift[r]) + o->out_b[r]);
        } else {
            y[r] = (int32_t)p;
        }
    }
}

#endif /* LNN_CFC_Q31_H */
