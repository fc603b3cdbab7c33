/* lnn_cfc_f32.h: the CfC step in float32 (dense and wired cells), static inline kernels of the lnn-edge runtime.
 * Do not edit: lnn-edge export copies this file unchanged into DIR/lnn/.
 *
 * The C twin of lnn_edge/cells/cfc/emulate.py (CfcFloat32Step): the same IEEE float32 operations in the same order, so
 * host and board compute the same bits. Compile with -ffp-contract=off (no fused multiply-add) and without
 * -ffast-math. What one step computes, layer by layer (a dense cell is one layer; wired layer K > 0 reads the NEW
 * state of layer K-1 as its inputs u, layer 0 reads x):
 *   z = [u ; h] (h: this layer's slice of the old state); dense cells: z = act(Linear bbK(z)), K = 0, 1, ...;
 *   heads ff1, ff2, time_a, time_b (pure mode: ff1 only), each a Linear of z: acc = b[r], then
 *   acc = acc + w[r,c] z[c] for c = 0, 1, ... (bias first, columns increasing; a sparse wired layer adds only
 *   its synapses' terms to ff1/ff2, columns increasing); then per neuron r
 *   default: h' = tanh(ff1) (1 - g) + g tanh(ff2), g = sigmoid(ta dt + tb), as one fraction (lnn_cfc_f32_gated_mix);
 *   no_gate: h' = tanh(ff1) + sigmoid(ta dt + tb) tanh(ff2); pure: h' = ((-A) e) ff1 + A, e = exp(-dt (tau + |ff1|));
 *   outputs y = fc(h_last) (or h_last itself), then y = y out_w + out_b (affine output mapping).
 * tanh is x P(x^2) / Q(x^2) on x clamped to [-9, 9] (lnn_edge.quant.f32math.cfc_tanh); sigmoid(u) = 0.5 + 0.5 tanh(u/2).
 * Every multiply-add of a Linear is lnn_mla_f32 (acc + a b, two roundings: one VMLA on FPU cores, lnn_f32_vfp.h;
 * -DLNN_NO_ASM builds the portable C expression ((acc) + (a) * (b)) everywhere, which the VMLA equals bit for bit).
 * This file has no assembly of its own.
 *
 * Configuration (#defines of the including <name>.c, before this header): LNN_CFC_F32_MODE (LNN_CFC_F32_DEFAULT,
 * LNN_CFC_F32_NO_GATE or LNN_CFC_F32_PURE), LNN_CFC_F32_ACTIVATION (LNN_CFC_F32_LECUN_TANH, _TANH, _RELU, _SILU,
 * _GELU: the backbone's), LNN_CFC_F32_STATE_SIZE, LNN_CFC_F32_Z_SIZE (longest z), LNN_CFC_F32_BB_LAYERS (backbone
 * layers, 0 for wired cells), LNN_CFC_F32_BB_SIZE (widest backbone layer, >= 1) and LNN_CFC_F32_INDEX_T (CSR index
 * type). The sizes and arrays of each layer are fields of static const descriptors: every kernel is always
 * inlined into the generated step, so the compiler folds them into constants.
 */
#ifndef LNN_CFC_F32_H
#define LNN_CFC_F32_H

#include <stdint.h>

#include "lnn_f32.h"
#include "lnn_status.h"

/* Values of LNN_CFC_F32_MODE and LNN_CFC_F32_ACTIVATION. */
#define LNN_CFC_F32_DEFAULT 0
#define LNN_CFC_F32_NO_GATE 1
#define LNN_CFC_F32_PURE 2
#define LNN_CFC_F32_LECUN_TANH 0
#define LNN_CFC_F32_TANH 1
#define LNN_CFC_F32_RELU 2
#define LNN_CFC_F32_SILU 3
#define LNN_CFC_F32_GELU 4

/* The CfC tanh (lnn_edge.quant.f32math: CFC_TANH_CLAMP_BITS, CFC_TANH_P, CFC_TANH_Q), the same for every model; checked
 * bit for bit by tests/test_runtime_cfc_f32.py. P(s) = P0 + P1 s + ... + P4 s^4, Q likewise. */
#define LNN_CFC_F32_TANH_CLAMP_BITS 0x41100000u /* bits of 9.0f */
#define LNN_CFC_F32_TANH_P0 0x1.fffffcp-1f      /* 9.999999e-1 */
#define LNN_CFC_F32_TANH_P1 0x1.11e21p-3f       /* 1.3373196e-1 */
#define LNN_CFC_F32_TANH_P2 0x1.c8fe36p-9f      /* 3.48658e-3 */
#define LNN_CFC_F32_TANH_P3 0x1.5775bep-16f     /* 2.0471807e-5 */
#define LNN_CFC_F32_TANH_P4 0x1.c50182p-27f     /* 1.3184207e-8 */
#define LNN_CFC_F32_TANH_Q0 0x1.0p+0f           /* 1 */
#define LNN_CFC_F32_TANH_Q1 0x1.de4644p-2f      /* 4.6706492e-1 */
#define LNN_CFC_F32_TANH_Q2 0x1.a76516p-6f      /* 2.5841972e-2 */
#define LNN_CFC_F32_TANH_Q3 0x1.570782p-12f     /* 3.2713826e-4 */
#define LNN_CFC_F32_TANH_Q4 0x1.9d8876p-21f     /* 7.7026533e-7 */

/* One backbone layer: `blocks` blocks of `block` (1..4) consecutive rows over `cols` inputs; w is
 * [block][column][row in block], b [block][row in block] (padding rows: zero weights and bias). */
typedef struct {
    const float *w;
    const float *b;
    int blocks;
    int block;
    int cols;
} lnn_cfc_f32_backbone_t;

/* One CfC layer (a dense cell is one): neurons start .. start + size - 1, z = [u ; h] with u = x (source < 0) or
 * the new state of neurons source .. source + inputs - 1 (then source + inputs == start: the previous layer).
 * Accumulators ff1, ff2, ta, tb (pure: ff1 only, heads = 1, else 4); bias [neuron][head]. The dense pass feeds
 * dense_count accumulators from dense_first on over the cols values the heads read (z, or the backbone's output;
 * w [neuron][column][accumulator]); the sparse one, if sparse_count
 * > 0, ff1 (and ff2) over synapses row[r] .. row[r+1] - 1 at columns col[k], weights [synapse][head]. Pure mode:
 * tau = |w_tau|, A per neuron. */
typedef struct {
    int start;
    int size;
    int inputs;
    int source;
    int heads;
    const float *bias;
    const float *w;
    int cols;
    int dense_first;
    int dense_count;
    const LNN_CFC_F32_INDEX_T *row;
    const LNN_CFC_F32_INDEX_T *col;
    const float *syn_w;
    int sparse_count;
    const float *tau;
    const float *a;
} lnn_cfc_f32_layer_t;

/* The outputs: `outputs` values from the new state of neurons last_start .. last_start + last_size - 1, projected
 * by fc_w [output][neuron] + fc_b if fc_w is not NULL, then y out_w + out_b if out_w is not NULL. */
typedef struct {
    int outputs;
    int last_start;
    int last_size;
    const float *fc_w;
    const float *fc_b;
    const float *out_w;
    const float *out_b;
} lnn_cfc_f32_readout_t;

/* The step's scratch, on the caller's stack: z, and the buffers backbone layers alternate between (only those the
 * model's LNN_CFC_F32_BB_LAYERS backbone layers use). */
typedef struct {
    float z[LNN_CFC_F32_Z_SIZE];
#if LNN_CFC_F32_BB_LAYERS >= 1
    float bb_a[LNN_CFC_F32_BB_SIZE];
#endif
#if LNN_CFC_F32_BB_LAYERS >= 2
    float bb_b[LNN_CFC_F32_BB_SIZE];
#endif
} lnn_cfc_f32_work_t;

#if defined(__GNUC__)
#define LNN_CFC_F32_INLINE static inline __attribute__((always_inline))
#else
#define LNN_CFC_F32_INLINE static inline
#endif

/* x clamped to [-9, 9] on its bits: a magnitude above 9's (NaN included) becomes 9 with the sign of x. */
static inline float lnn_cfc_f32_clamp(float x)
{
    union {
        float f;
        uint32_t u;
    } v;
    v.f = x;
    if ((v.u & 0x7FFFFFFFu) > LNN_CFC_F32_TANH_CLAMP_BITS) {
        v.u = (v.u & 0x80000000u) | LNN_CFC_F32_TANH_CLAMP_BITS;
    }
    return v.f;
}

/* tanh(x) ~ n / d with n = x P(x^2), d = Q(x^2) >= 1 on the clamped x (lnn_edge.quant.f32math.cfc_tanh_parts). */
static inline float lnn_cfc_f32_tanh(float x)
{
    float x2;
    float p;
    float q;
    x = lnn_cfc_f32_clamp(x);
    x2 = x * x;
    p = LNN_CFC_F32_TANH_P4;
    p = p * x2 + LNN_CFC_F32_TANH_P3;
    p = p * x2 + LNN_CFC_F32_TANH_P2;
    p = p * x2 + LNN_CFC_F32_TANH_P1;
    p = p * x2 + LNN_CFC_F32_TANH_P0;
    q = LNN_CFC_F32_TANH_Q4;
    q = q * x2 + LNN_CFC_F32_TANH_Q3;
    q = q * x2 + LNN_CFC_F32_TANH_Q2;
    q = q * x2 + LNN_CFC_F32_TANH_Q1;
    q = q * x2 + LNN_CFC_F32_TANH_Q0;
    return (x * p) / q;
}

/* 0.5 + 0.5 tanh(0.5 u) (lnn_edge.quant.f32math.cfc_sigmoid). */
static inline float lnn_cfc_f32_sigmoid(float u)
{
    return 0.5f + 0.5f * lnn_cfc_f32_tanh(0.5f * u);
}

/* tanh(f1) (1 - g) + g tanh(f2), g = sigmoid(u) = (1 + tanh(u / 2)) / 2, as one fraction of the three tanh parts
 * (lnn_edge.quant.f32math.cfc_gated_mix); the three polynomials are evaluated side by side (each constant read once). */
static inline float lnn_cfc_f32_gated_mix(float f1, float f2, float u)
{
    float x1 = lnn_cfc_f32_clamp(f1);
    float x2 = lnn_cfc_f32_clamp(f2);
    float xg = lnn_cfc_f32_clamp(0.5f * u);
    float s1 = x1 * x1;
    float s2 = x2 * x2;
    float sg = xg * xg;
    float p1 = LNN_CFC_F32_TANH_P4;
    float p2 = p1;
    float pg = p1;
    float d1 = LNN_CFC_F32_TANH_Q4;
    float d2 = d1;
    float dg = d1;
    float p12;
    float p21;
    float ng;
#define LNN_CFC_F32_HORNER3(a, b, c, k) \
    a = a * s1 + (k);                   \
    b = b * s2 + (k);                   \
    c = c * sg + (k)
    LNN_CFC_F32_HORNER3(p1, p2, pg, LNN_CFC_F32_TANH_P3);
    LNN_CFC_F32_HORNER3(p1, p2, pg, LNN_CFC_F32_TANH_P2);
    LNN_CFC_F32_HORNER3(p1, p2, pg, LNN_CFC_F32_TANH_P1);
    LNN_CFC_F32_HORNER3(p1, p2, pg, LNN_CFC_F32_TANH_P0);
    LNN_CFC_F32_HORNER3(d1, d2, dg, LNN_CFC_F32_TANH_Q3);
    LNN_CFC_F32_HORNER3(d1, d2, dg, LNN_CFC_F32_TANH_Q2);
    LNN_CFC_F32_HORNER3(d1, d2, dg, LNN_CFC_F32_TANH_Q1);
    LNN_CFC_F32_HORNER3(d1, d2, dg, LNN_CFC_F32_TANH_Q0);
#undef LNN_CFC_F32_HORNER3
    p12 = (x1 * p1) * d2;
    p21 = (x2 * p2) * d1;
    ng = xg * pg;
    return ((p12 + p21) * dg + ng * (p21 - p12)) / (((d1 * d2) * dg) * 2.0f);
}

/* The backbone activation chosen by LNN_CFC_F32_ACTIVATION (lnn_edge.quant.f32math.CFC_ACTIVATIONS). */
static inline float lnn_cfc_f32_activate(float a)
{
#if LNN_CFC_F32_ACTIVATION == LNN_CFC_F32_LECUN_TANH
    return LNN_F32_LECUN_A * lnn_cfc_f32_tanh(LNN_F32_LECUN_B * a);
#elif LNN_CFC_F32_ACTIVATION == LNN_CFC_F32_TANH
    return lnn_cfc_f32_tanh(a);
#elif LNN_CFC_F32_ACTIVATION == LNN_CFC_F32_RELU
    return lnn_relu_f32(a);
#elif LNN_CFC_F32_ACTIVATION == LNN_CFC_F32_SILU
    return (0.5f * a) + (0.5f * a) * lnn_cfc_f32_tanh(0.5f * a);
#else
    return lnn_gelu_f32(a);
#endif
}

/* acc[j] = acc[j] + w[c count + j] z[c] for c = 0 .. cols - 1 and j < count (1..4, a constant after inlining: the
 * guards vanish), two columns per iteration; w is advanced column by column. */
LNN_CFC_F32_INLINE void lnn_cfc_f32_pass(const float *w, const float *zp, int cols, int count, float *acc)
{
    float zc;
#define LNN_CFC_F32_COLUMN(o)                                        \
    zc = zp[o];                                                     \
    acc[0] = lnn_mla_f32(acc[0], w[(o) * count], zc);               \
    if (count > 1) {                                                \
        acc[1] = lnn_mla_f32(acc[1], w[(o) * count + 1], zc);       \
    }                                                               \
    if (count > 2) {                                                \
        acc[2] = lnn_mla_f32(acc[2], w[(o) * count + 2], zc);       \
    }                                                               \
    if (count > 3) {                                                \
        acc[3] = lnn_mla_f32(acc[3], w[(o) * count + 3], zc);       \
    }
    if (cols >= 2) {
        const float *zend = zp + (cols & ~1);
        do {
            LNN_CFC_F32_COLUMN(0)
            LNN_CFC_F32_COLUMN(1)
            zp += 2;
            w += 2 * count;
        } while (zp != zend);
    }
    if (cols & 1) {
        LNN_CFC_F32_COLUMN(0)
    }
#undef LNN_CFC_F32_COLUMN
}

/* work->z = [u ; h] of layer l (see lnn_cfc_f32_layer_t). The state comes as a pointer to the array (&s->state):
 * GCC's early unroller counts (*state)[c] as free once c is constant, not state[c] through a plain pointer, and
 * unrolls short copies only in the first form (measured: 1.5% of a small wired model's step on Cortex-M4F). */
LNN_CFC_F32_INLINE void lnn_cfc_f32_gather(const lnn_cfc_f32_layer_t *l, float (*state)[LNN_CFC_F32_STATE_SIZE],
                                           const float *x, lnn_cfc_f32_work_t *work)
{
    int c;
    if (l->source >= 0) { /* [new state of the previous layer ; old state of this one]: one run of the state */
        for (c = 0; c < l->inputs + l->size; c++) {
            work->z[c] = (*state)[l->source + c];
        }
        return;
    }
    for (c = 0; c < l->inputs; c++) {
        work->z[c] = x[c];
    }
    for (c = 0; c < l->size; c++) {
        work->z[l->inputs + c] = (*state)[l->start + c];
    }
}

/* acc[j] = b[j] for j < count (1..4): explicit, not a loop, so that acc stays in registers once count is folded. */
LNN_CFC_F32_INLINE void lnn_cfc_f32_load(float *acc, const float *b, int count)
{
    acc[0] = b[0];
    if (count > 1) {
        acc[1] = b[1];
    }
    if (count > 2) {
        acc[2] = b[2];
    }
    if (count > 3) {
        acc[3] = b[3];
    }
}

/* out = act(Linear(in)) of one backbone layer, block by block. */
LNN_CFC_F32_INLINE void lnn_cfc_f32_backbone(const lnn_cfc_f32_backbone_t *l, const float *in, float *out)
{
    int r;
    for (r = 0; r < l->blocks; r++) {
        float acc[4];
        float *o = out + l->block * r;
        lnn_cfc_f32_load(acc, l->b + l->block * r, l->block);
        lnn_cfc_f32_pass(l->w + r * l->cols * l->block, in, l->cols, l->block, acc);
        o[0] = lnn_cfc_f32_activate(acc[0]);
        if (l->block > 1) {
            o[1] = lnn_cfc_f32_activate(acc[1]);
        }
        if (l->block > 2) {
            o[2] = lnn_cfc_f32_activate(acc[2]);
        }
        if (l->block > 3) {
            o[3] = lnn_cfc_f32_activate(acc[3]);
        }
    }
}

/* acc[0] (ff1) and, with count 2, acc[1] (ff2) plus w z over the synapses of neuron r. */
LNN_CFC_F32_INLINE void lnn_cfc_f32_sparse(const lnn_cfc_f32_layer_t *l, int r, const float *z, float *acc)
{
    int k = (int)l->row[r];
    int kend = (int)l->row[r + 1];
    for (; k < kend; k++) {
        float zc = z[l->col[k]];
        acc[0] = lnn_mla_f32(acc[0], l->syn_w[l->sparse_count * k], zc);
        if (l->sparse_count > 1) {
            acc[1] = lnn_mla_f32(acc[1], l->syn_w[l->sparse_count * k + 1], zc);
        }
    }
}

/* The heads of layer l over z (its z, or the last backbone layer's output) and the new state of its neurons,
 * written to state[start ..] in place (the old values were copied into z first). */
LNN_CFC_F32_INLINE void lnn_cfc_f32_heads(const lnn_cfc_f32_layer_t *l, const float *z, float dt, float *state)
{
    int r;
    for (r = 0; r < l->size; r++) {
        float acc[4];
        lnn_cfc_f32_load(acc, l->bias + l->heads * r, l->heads);
        if (l->dense_count > 0) {
            lnn_cfc_f32_pass(l->w + r * l->cols * l->dense_count, z, l->cols, l->dense_count, acc + l->dense_first);
        }
        if (l->sparse_count > 0) {
            lnn_cfc_f32_sparse(l, r, z, acc);
        }
#if LNN_CFC_F32_MODE == LNN_CFC_F32_PURE
        {
            float a = l->a[r];
            float e = lnn_exp_neg_f32(dt * (l->tau[r] + (acc[0] < 0.0f ? -acc[0] : acc[0])));
            state[l->start + r] = ((-a) * e) * acc[0] + a;
        }
#elif LNN_CFC_F32_MODE == LNN_CFC_F32_DEFAULT
        state[l->start + r] = lnn_cfc_f32_gated_mix(acc[0], acc[1], acc[2] * dt + acc[3]);
#else
        state[l->start + r] = lnn_cfc_f32_tanh(acc[0]) + lnn_cfc_f32_sigmoid(acc[2] * dt + acc[3]) *
                                                          lnn_cfc_f32_tanh(acc[1]);
#endif
    }
}

/* y from the new state (see lnn_cfc_f32_readout_t); returns LNN_OK. */
LNN_CFC_F32_INLINE int lnn_cfc_f32_output(const lnn_cfc_f32_readout_t *o, const float *state, float *y)
{
    int r;
    int c;
    for (r = 0; r < o->outputs; r++) {
        float p;
        if (o->fc_w != 0) {
            const float *w = o->fc_w + r * o->last_size;
            p = o->fc_b[r];
            for (c = 0; c < o->last_size; c++) {
                p = lnn_mla_f32(p, w[c], state[o->last_start + c]);
            }
        } else {
            p = state[o->last_start + r];
        }
        y[r] = o->out_w != 0 ? p * o->out_w[r] + o->out_b[r] : p;
    }
    return LNN_OK;
}

static inline int lnn_cfc_f32_reset(float *state, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        state[i] = 0;
    }
    return LNN_OK;
}

static inline int lnn_cfc_f32_set_state(float *state, const float *v, int n)
{
    int i;
    if (v == 0) {
        return LNN_ERR_NULL;
    }
    for (i = 0; i < n; i++) {
        state[i] = v[i];
    }
    return LNN_OK;
}

#endif /* LNN_CFC_F32_H */
