/* lnn_ltc_f32.h: the LTC step in float32, a static inline kernel of the lnn-edge runtime. Do not edit: lnn-edge
 * export copies this file unchanged into DIR/lnn/.
 *
 * The C twin of lnn_edge/cells/ltc/emulate.py (LtcFloat32Step): the same IEEE float32 operations in the same order, so
 * host and board compute the same bits. Compile with -ffp-contract=off (no fused multiply-add). A synapse's
 * conductance is w / (1 + 2^t), t = b + a * pre = -sigma (pre - mu) log2(e) (sensory synapses read the raw
 * input: the input mapping is folded into a and b); 2^t from a table of 2^(j/256) and a linear correction
 * (lnn_edge.quant.f32math.exp2_fast). Sums run over presynaptic indices in ascending order. Neurons are processed in
 * this order: first the N_WIRED with internal synapses (wired[]), then those without (leaf[]: v = beta + alpha v
 * with per-step constants). Every multiply-add is acc + a b (lnn_mla_f32): the accumulator is the first operand.
 *
 * Configuration (#defines of the including <name>.c, before this header): LNN_LTC_N_NEURONS, LNN_LTC_STATE_SIZE
 * (as in lnn_ltc_q15.h), LNN_LTC_N_WIRED,
 * LNN_LTC_N_WIRED_ALLOC, LNN_LTC_N_LEAF_ALLOC, LNN_LTC_S_NNZ_ALLOC, LNN_LTC_NNZ_ALLOC, LNN_LTC_N_INPUTS,
 * LNN_LTC_N_OUTPUTS, LNN_LTC_UNFOLDS, LNN_LTC_EPS (a float literal), LNN_LTC_WIRED_SHIFT, LNN_LTC_INDEX_T,
 * LNN_LTC_INDEX_BYTES (1 or 2, its size), LNN_LTC_WIRED_T. Core-specific code: the synapse loop in VFP assembly
 * on FPU cores (lnn_ltc_f32_vfp.h); -DLNN_NO_ASM builds the portable C below, the reference it equals.
 */
#ifndef LNN_LTC_F32_H
#define LNN_LTC_F32_H

#include <stdint.h>

#include "lnn_f32.h"
#include "lnn_status.h"

#define LNN_LTC_WIRED_MASK ((1 << LNN_LTC_WIRED_SHIFT) - 1)

/* 2^t (lnn_edge.quant.f32math.exp2_fast): n = round(256 t) from the bits of t + MAGIC, 2^(n/256) from the table
 * (bits(2^(j/256)) - (j << SHIFT) plus the bits of t + MAGIC shifted by SHIFT), times C0 + C1 r, r = t - n/256.
 * |t| > 125 (or NaN) is clamped to +-125 first. The constants are lnn_edge.quant.f32math's (EXP2_*), checked bit for bit
 * by tests/test_runtime_f32.py. */
#define LNN_F32_EXP2_MAGIC 0x1.8p+15f          /* EXP2_MAGIC, 49152 = 1.5 * 2^15 */
#define LNN_F32_EXP2_LOW 0x473F8300u           /* bits(MAGIC) - EXP2_LIMIT */
#define LNN_F32_EXP2_SPAN 64000u               /* 2 EXP2_LIMIT = 2 * 125 * 256 */
#define LNN_F32_EXP2_CLAMP 0x1.f4p+6f          /* EXP2_CLAMP, 125 */
#define LNN_F32_EXP2_MASK 255u                 /* 2^EXP2_TABLE_BITS - 1 */
#define LNN_F32_EXP2_SHIFT 15                  /* EXP2_SHIFT = 23 - EXP2_TABLE_BITS */
#define LNN_F32_EXP2_C0 0x1.00000ep+0f         /* EXP2_C0, 1.0000008 */
#define LNN_F32_EXP2_C1 0x1.62e436p-1f         /* EXP2_C1, 0.69314736 */

/* EXP2_TABLE: bits(2^(j/256)) - (j << 15), j = 0..255. */
static const uint32_t lnn_ltc_f32_exp2_table[256] = {
    0x3F800000u, 0x3F7FD8D8u, 0x3F7FB1EDu, 0x3F7F8B41u, 0x3F7F64D2u, 0x3F7F3EA1u, 0x3F7F18AFu, 0x3F7EF2FCu,
    0x3F7ECD87u, 0x3F7EA850u, 0x3F7E8359u, 0x3F7E5EA1u, 0x3F7E3A29u, 0x3F7E15F0u, 0x3F7DF1F6u, 0x3F7DCE3Du,
    0x3F7DAAC3u, 0x3F7D878Au, 0x3F7D6491u, 0x3F7D41D9u, 0x3F7D1F62u, 0x3F7CFD2Bu, 0x3F7CDB35u, 0x3F7CB981u,
    0x3F7C980Fu, 0x3F7C76DDu, 0x3F7C55EEu, 0x3F7C3541u, 0x3F7C14D5u, 0x3F7BF4ADu, 0x3F7BD4C6u, 0x3F7BB523u,
    0x3F7B95C2u, 0x3F7B76A4u, 0x3F7B57CAu, 0x3F7B3933u, 0x3F7B1ADFu, 0x3F7AFCD0u, 0x3F7ADF04u, 0x3F7AC17Du,
    0x3F7AA43Au, 0x3F7A873Bu, 0x3F7A6A81u, 0x3F7A4E0Cu, 0x3F7A31DCu, 0x3F7A15F2u, 0x3F79FA4Du, 0x3F79DEEDu,
    0x3F79C3D3u, 0x3F79A900u, 0x3F798E72u, 0x3F79742Cu, 0x3F795A2Bu, 0x3F794072u, 0x3F7926FFu, 0x3F790DD4u,
    0x3F78F4F0u, 0x3F78DC53u, 0x3F78C3FFu, 0x3F78ABF2u, 0x3F78942Du, 0x3F787CB1u, 0x3F78657Du, 0x3F784E92u,
    0x3F7837F0u, 0x3F782197u, 0x3F780B88u, 0x3F77F5C2u, 0x3F77E046u, 0x3F77CB13u, 0x3F77B62Bu, 0x3F77A18Du,
    0x3F778D3Au, 0x3F777931u, 0x3F776573u, 0x3F775201u, 0x3F773EDAu, 0x3F772BFEu, 0x3F77196Eu, 0x3F77072Au,
    0x3F76F532u, 0x3F76E387u, 0x3F76D228u, 0x3F76C116u, 0x3F76B051u, 0x3F769FD9u, 0x3F768FAFu, 0x3F767FD2u,
    0x3F767043u, 0x3F766102u, 0x3F76520Fu, 0x3F76436Bu, 0x3F763516u, 0x3F76270Fu, 0x3F761958u, 0x3F760BEFu,
    0x3F75FED7u, 0x3F75F20Eu, 0x3F75E595u, 0x3F75D96Cu, 0x3F75CD94u, 0x3F75C20Cu, 0x3F75B6D5u, 0x3F75ABEFu,
    0x3F75A15Bu, 0x3F759718u, 0x3F758D26u, 0x3F758387u, 0x3F757A3Au, 0x3F75713Fu, 0x3F756897u, 0x3F756041u,
    0x3F75583Fu, 0x3F755090u, 0x3F754934u, 0x3F75422Du, 0x3F753B79u, 0x3F753519u, 0x3F752F0Eu, 0x3F752957u,
    0x3F7523F6u, 0x3F751EE9u, 0x3F751A32u, 0x3F7515D0u, 0x3F7511C4u, 0x3F750E0Eu, 0x3F750AAFu, 0x3F7507A6u,
    0x3F7504F3u, 0x3F750298u, 0x3F750094u, 0x3F74FEE7u, 0x3F74FD92u, 0x3F74FC95u, 0x3F74FBF0u, 0x3F74FBA3u,
    0x3F74FBAFu, 0x3F74FC14u, 0x3F74FCD2u, 0x3F74FDEAu, 0x3F74FF5Bu, 0x3F750126u, 0x3F75034Au, 0x3F7505CAu,
    0x3F7508A4u, 0x3F750BD8u, 0x3F750F68u, 0x3F751353u, 0x3F75179Au, 0x3F751C3Cu, 0x3F75213Bu, 0x3F752695u,
    0x3F752C4Du, 0x3F753261u, 0x3F7538D2u, 0x3F753FA1u, 0x3F7546CDu, 0x3F754E57u, 0x3F75563Fu, 0x3F755E85u,
    0x3F75672Au, 0x3F75702Eu, 0x3F757991u, 0x3F758353u, 0x3F758D75u, 0x3F7597F7u, 0x3F75A2D8u, 0x3F75AE1Bu,
    0x3F75B9BEu, 0x3F75C5C1u, 0x3F75D226u, 0x3F75DEEDu, 0x3F75EC15u, 0x3F75F99Fu, 0x3F76078Cu, 0x3F7615DAu,
    0x3F76248Cu, 0x3F7633A1u, 0x3F764319u, 0x3F7652F4u, 0x3F766334u, 0x3F7673D7u, 0x3F7684DFu, 0x3F76964Cu,
    0x3F76A81Eu, 0x3F76BA54u, 0x3F76CCF1u, 0x3F76DFF3u, 0x3F76F35Bu, 0x3F770729u, 0x3F771B5Eu, 0x3F772FFAu,
    0x3F7744FDu, 0x3F775A67u, 0x3F777039u, 0x3F778673u, 0x3F779D16u, 0x3F77B421u, 0x3F77CB94u, 0x3F77E371u,
    0x3F77FBB8u, 0x3F781468u, 0x3F782D82u, 0x3F784706u, 0x3F7860F5u, 0x3F787B4Eu, 0x3F789613u, 0x3F78B143u,
    0x3F78CCDFu, 0x3F78E8E7u, 0x3F79055Bu, 0x3F79223Cu, 0x3F793F89u, 0x3F795D44u, 0x3F797B6Du, 0x3F799A03u,
    0x3F79B907u, 0x3F79D879u, 0x3F79F85Bu, 0x3F7A18ABu, 0x3F7A396Au, 0x3F7A5A99u, 0x3F7A7C38u, 0x3F7A9E47u,
    0x3F7AC0C7u, 0x3F7AE3B7u, 0x3F7B0719u, 0x3F7B2AECu, 0x3F7B4F30u, 0x3F7B73E7u, 0x3F7B9910u, 0x3F7BBEABu,
    0x3F7BE4BAu, 0x3F7C0B3Bu, 0x3F7C3231u, 0x3F7C599Au, 0x3F7C8177u, 0x3F7CA9C9u, 0x3F7CD290u, 0x3F7CFBCCu,
    0x3F7D257Du, 0x3F7D4FA4u, 0x3F7D7A41u, 0x3F7DA555u, 0x3F7DD0DFu, 0x3F7DFCE1u, 0x3F7E295Au, 0x3F7E564Au,
    0x3F7E83B3u, 0x3F7EB194u, 0x3F7EDFEDu, 0x3F7F0EC0u, 0x3F7F3E0Cu, 0x3F7F6DD2u, 0x3F7F9E11u, 0x3F7FCECBu,
};

static inline float lnn_ltc_f32_exp2_fast(float t)
{
    union {
        float f;
        uint32_t u;
    } y, scale;
    y.f = t + LNN_F32_EXP2_MAGIC;
    if (y.u - LNN_F32_EXP2_LOW > LNN_F32_EXP2_SPAN) {
        t = t < 0.0f ? -LNN_F32_EXP2_CLAMP : LNN_F32_EXP2_CLAMP;
        y.f = t + LNN_F32_EXP2_MAGIC;
    }
    scale.u = lnn_ltc_f32_exp2_table[y.u & LNN_F32_EXP2_MASK] + (y.u << LNN_F32_EXP2_SHIFT);
    return scale.f * (LNN_F32_EXP2_C0 + LNN_F32_EXP2_C1 * (t - (y.f - LNN_F32_EXP2_MAGIC)));
}

/* A synapse (CSR order by destination, neurons in processing order): a, b, w, erev; the presynaptic index in a
 * parallel array. */
typedef struct {
    float a;
    float b;
    float w;
    float erev;
} lnn_ltc_f32_syn_t;

/* The parameters of one model: one static const object of the generated file (arrays, not pointers: the compiler
 * folds constant-index loads). Per neuron in processing order: gleak, cm, gleak vleak. */
typedef struct {
    lnn_ltc_f32_syn_t s_syn[LNN_LTC_S_NNZ_ALLOC];
    lnn_ltc_f32_syn_t syn[LNN_LTC_NNZ_ALLOC];
    float gleak[LNN_LTC_N_NEURONS];
    float cm[LNN_LTC_N_NEURONS];
    float leak[LNN_LTC_N_NEURONS];
    float out_w[LNN_LTC_N_OUTPUTS];
    float out_b[LNN_LTC_N_OUTPUTS];
    LNN_LTC_WIRED_T wired[LNN_LTC_N_WIRED_ALLOC]; /* i | internal count << LNN_LTC_WIRED_SHIFT */
    LNN_LTC_INDEX_T s_src[LNN_LTC_S_NNZ_ALLOC];
    LNN_LTC_INDEX_T src[LNN_LTC_NNZ_ALLOC];
    LNN_LTC_INDEX_T s_count[LNN_LTC_N_NEURONS];
    LNN_LTC_INDEX_T leaf[LNN_LTC_N_LEAF_ALLOC];
} lnn_ltc_f32_model_t;

/* Adds the conductances g = w / (1 + exp2_fast(b + a pre[src])) of count >= 1 synapses (from *records and
 * *sources, both advanced past them) to *den, and g erev to *num, in order. */
#if defined(LNN_VFP_ASM)
#include "lnn_ltc_f32_vfp.h"
#else
static inline void lnn_ltc_f32_synapse_sums(const lnn_ltc_f32_syn_t **records, const LNN_LTC_INDEX_T **sources,
                                            int count, const float *pre, float *num, float *den)
{
    const lnn_ltc_f32_syn_t *r = *records;
    const LNN_LTC_INDEX_T *p = *sources;
    float sum_n = *num;
    float sum_d = *den;
    for (; count > 0; count--, r++) {
        float g = r->w / (1.0f + lnn_ltc_f32_exp2_fast(r->b + r->a * pre[*p++]));
        sum_n = sum_n + g * r->erev;
        sum_d = sum_d + g;
    }
    *records = r;
    *sources = p;
    *num = sum_n;
    *den = sum_d;
}
#endif

/* Per-step constants of a neuron with internal synapses, and of one without. */
typedef struct {
    float num;
    float den;
} lnn_ltc_f32_wired_t;
typedef struct {
    float alpha;
    float beta;
} lnn_ltc_f32_leaf_t;

/* Zero the state (LNN_LTC_STATE_SIZE values). */
static inline int lnn_ltc_f32_reset(float *state)
{
    int i;
    for (i = 0; i < LNN_LTC_STATE_SIZE; i++) {
        state[i] = 0;
    }
    return LNN_OK;
}

/* Copy v (LNN_LTC_STATE_SIZE values) into the state; LNN_ERR_NULL if v is NULL. */
static inline int lnn_ltc_f32_set_state(float *state, const float *v)
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

/* One step of the model m after an elapsed time dt: reads x (LNN_LTC_N_INPUTS values), updates state
 * (LNN_LTC_N_NEURONS values, caller-owned, non-NULL), writes y (LNN_LTC_N_OUTPUTS values). Returns LNN_OK,
 * LNN_ERR_NULL if x or y is NULL, or LNN_ERR_ARG if dt is not > 0 (NaN included); on an error nothing is written.
 * No globals: reentrant for distinct states. */
LNN_STEP_INLINE int lnn_ltc_f32_step(const lnn_ltc_f32_model_t *m, float *state, const float *x, float dt, float *y)
{
    lnn_ltc_f32_wired_t nw[LNN_LTC_N_WIRED_ALLOC];
    lnn_ltc_f32_leaf_t nl[LNN_LTC_N_LEAF_ALLOC];
    float v_next[LNN_LTC_N_WIRED_ALLOC];
    float *v;
    const lnn_ltc_f32_syn_t *r;
    const LNN_LTC_INDEX_T *p;
    float rate; /* unfolds / dt: cm / delta = cm * rate */
    int j;
    int u;
    if (x == 0 || y == 0) {
        return LNN_ERR_NULL;
    }
    if (lnn_check_dt_f32(dt, 1) != LNN_OK) {
        return LNN_ERR_ARG;
    }
    v = state;
    rate = (float)LNN_LTC_UNFOLDS / dt;
    r = m->s_syn;
    p = m->s_src;
    for (j = 0; j < LNN_LTC_N_NEURONS; j++) {
        float cm_t = m->cm[j] * rate;
        float num = m->leak[j];
        float den = (cm_t + m->gleak[j]) + LNN_LTC_EPS;
        if (m->s_count[j] > 0) {
            lnn_ltc_f32_synapse_sums(&r, &p, m->s_count[j], x, &num, &den);
        }
        if (j < LNN_LTC_N_WIRED) {
            nw[j].num = num;
            nw[j].den = den;
        } else {
            nl[j - LNN_LTC_N_WIRED].alpha = cm_t / den;
            nl[j - LNN_LTC_N_WIRED].beta = num / den;
        }
    }
    for (u = 0; u < LNN_LTC_UNFOLDS; u++) {
        /* The neurons with internal synapses read the previous potentials into v_next; the others update in
         * place afterwards (they read only themselves); then v_next is written back. */
        r = m->syn;
        p = m->src;
        for (j = 0; j < LNN_LTC_N_WIRED; j++) {
            float num = nw[j].num;
            float den = nw[j].den;
            lnn_ltc_f32_synapse_sums(&r, &p, (int)(m->wired[j] >> LNN_LTC_WIRED_SHIFT), v, &num, &den);
            v_next[j] = lnn_mla_f32(num, m->cm[j] * rate, v[m->wired[j] & LNN_LTC_WIRED_MASK]) / den;
        }
        for (j = 0; j < LNN_LTC_N_NEURONS - LNN_LTC_N_WIRED; j++) {
            v[m->leaf[j]] = lnn_mla_f32(nl[j].beta, nl[j].alpha, v[m->leaf[j]]);
        }
        for (j = 0; j < LNN_LTC_N_WIRED; j++) {
            v[m->wired[j] & LNN_LTC_WIRED_MASK] = v_next[j];
        }
    }
    for (j = 0; j < LNN_LTC_N_OUTPUTS; j++) {
        y[j] = v[j] * m->out_w[j] + m->out_b[j];
    }
    return LNN_OK;
}

#endif /* LNN_LTC_F32_H */
