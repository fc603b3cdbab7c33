/* lnn_ltc_q31.h: the LTC step in 32-bit fixed point (fixed32), a static inline kernel of the lnn-edge runtime.
 * Do not edit: lnn-edge export copies this file unchanged into DIR/lnn/.
 *
 * The same step as lnn_ltc_q15.h (read its header for the equations and the configuration macros) on 32-bit
 * values with 64-bit products and sums S: the C twin of lnn_edge/cells/ltc/emulate.py (LtcFixedStep) for fixed32.
 * Conductances g and their sums G stay in 32 bits, with the emulator's values: every g lies in [0, w] (w >= 0,
 * sigmoid samples <= 2^S_FRAC) and lnn_edge/cells/ltc/quantize.py proves G < 2^30 from the quantized parameters, so
 * no partial sum overflows (against 64-bit G sums: 10-22% fewer instructions a step on M3/M4F/M7/M33, 1.5-3.7%
 * on M0; see docs/number-formats.md). Portable C only (no assembly). Not used here: LNN_LTC_SMLAWT_FITS,
 * LNN_LTC_ASM_ARMV7EM_FITS, LNN_LTC_RECIPROCAL_*.
 */
#ifndef LNN_LTC_Q31_H
#define LNN_LTC_Q31_H

#include <stdint.h>

#include "lnn_fixed.h"
#include "lnn_status.h"

#define LNN_LTC_SIG_SEGMENTS (1 << LNN_LTC_SIG_INDEX_BITS)
#define LNN_LTC_SIG_POS_MASK ((1 << LNN_LTC_SIG_FS) - 1)
#define LNN_LTC_WIRED_MASK ((1 << LNN_LTC_WIRED_SHIFT) - 1)

/* A synapse (in CSR order by destination, neurons in processing order): c, whose low bits are also the
 * presynaptic index (LNN_LTC_SRC_T)c, sigma (Q(sig), sensory Q(ssig)), w (Q(g)); erev (Q(v)) in a parallel
 * array. */
typedef struct {
    int64_t c;
    int32_t sigma;
    int32_t w;
} lnn_ltc_q31_syn_t;

/* A synapse record from its named fields: sigma, w, and c = c_high 2^LNN_LTC_SRC_BITS + src (see lnn_ltc_q15.h). */
#define LNN_LTC_Q31_SYN(sigma, w, c_high, src) \
    { (int64_t)(c_high) * (1 << LNN_LTC_SRC_BITS) + (src), (sigma), (w) }

/* The parameters of one model (see lnn_ltc_q15_model_t); the sigmoid table holds SIG_SEGMENTS + 1 samples. */
typedef struct {
    lnn_ltc_q31_syn_t s_syn[LNN_LTC_S_NNZ_ALLOC];
    lnn_ltc_q31_syn_t syn[LNN_LTC_NNZ_ALLOC];
    int64_t gleak_vleak[LNN_LTC_N_NEURONS];
    LNN_LTC_CM_T cm_t_fixed[LNN_LTC_CM_T_FIXED_ALLOC];
    uint32_t sigmoid_table[LNN_LTC_SIG_SEGMENTS + 1];
    LNN_LTC_WIRED_T wired[LNN_LTC_N_WIRED_ALLOC];
    int32_t s_erev[LNN_LTC_S_NNZ_ALLOC];
    int32_t erev[LNN_LTC_NNZ_ALLOC];
    int32_t gleak_eps[LNN_LTC_N_NEURONS];
    int32_t cm_u[LNN_LTC_N_NEURONS];
    int32_t in_w[LNN_LTC_N_INPUTS];
    int32_t in_b[LNN_LTC_N_INPUTS];
    int32_t out_w[LNN_LTC_N_OUTPUTS];
    int32_t out_b[LNN_LTC_N_OUTPUTS];
    int8_t in_shift[LNN_LTC_N_INPUTS];
    int8_t out_shift[LNN_LTC_N_OUTPUTS];
    LNN_LTC_INDEX_T s_count[LNN_LTC_N_NEURONS];
    LNN_LTC_INDEX_T leaf[LNN_LTC_N_LEAF_ALLOC];
} lnn_ltc_q31_model_t;

/* Conductance of one synapse, Q(g): rshift_round(w * sigmoid, S_FRAC), the sigmoid read at p = sigma pre[src] + c
 * from the table; in [0, w], so 32 bits hold it. */
static inline int32_t lnn_ltc_q31_conductance(const lnn_ltc_q31_syn_t *r, const int32_t *pre, const uint32_t *table,
                                              int shift)
{
    int64_t p = (int64_t)r->sigma * pre[(LNN_LTC_SRC_T)r->c] + r->c;
    int64_t segment = p >> (shift + LNN_LTC_SIG_FS);
    const uint32_t *t;
    int64_t low;
    int64_t sigmoid;
    segment = segment < 0 ? 0 : (segment > LNN_LTC_SIG_SEGMENTS - 1 ? LNN_LTC_SIG_SEGMENTS - 1 : segment);
    t = table + segment;
    low = (int64_t)t[0];
    sigmoid = low + ((((int64_t)t[1] - low) * ((p >> shift) & LNN_LTC_SIG_POS_MASK)) >> LNN_LTC_SIG_FS);
    return (int32_t)(((int64_t)r->w * sigmoid + ((int64_t)1 << (LNN_LTC_S_FRAC - 1))) >> LNN_LTC_S_FRAC);
}

/* v + (num / den rounded to nearest, half up; see lnn_ltc_q15_div_round_fast). */
static inline int64_t lnn_ltc_q31_div_round_fast(int64_t num, int64_t den)
{
    return (num + ((den >> 1) ^ (num >> 63))) / den;
}

/* Per-step constants of a neuron (processing order). */
typedef struct {
    int64_t s0;
    LNN_LTC_CM_T cm;
    int32_t g0;
} lnn_ltc_q31_neuron_t;

/* Zero the state (LNN_LTC_STATE_SIZE values). */
static inline int lnn_ltc_q31_reset(int32_t *state)
{
    int i;
    for (i = 0; i < LNN_LTC_STATE_SIZE; i++) {
        state[i] = 0;
    }
    return LNN_OK;
}

/* Copy v (LNN_LTC_STATE_SIZE values) into the state; LNN_ERR_NULL if v is NULL. */
static inline int lnn_ltc_q31_set_state(int32_t *state, const int32_t *v)
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

/* One step: the contract of lnn_ltc_q15_step on 32-bit values (dt in Q(dt), clamped below LNN_LTC_DT_MIN). */
LNN_STEP_INLINE int lnn_ltc_q31_step(const lnn_ltc_q31_model_t *m, int32_t *state, int32_t *scratch, const int32_t *x,
                                   int32_t dt, int32_t *y)
{
    lnn_ltc_q31_neuron_t nb[LNN_LTC_N_NEURONS];
    const lnn_ltc_q31_syn_t *r;
    const int32_t *e;
    int j;
    int u;
    if (x == 0 || y == 0) {
        return LNN_ERR_NULL;
    }
    for (j = 0; j < LNN_LTC_N_INPUTS; j++) {
#if LNN_LTC_IN_SHIFT_POSITIVE
        scratch[j] = lnn_sat32((((int64_t)x[j] * m->in_w[j] + ((int64_t)1 << (m->in_shift[j] - 1))) >> m->in_shift[j]) +
                               m->in_b[j]);
#else
        scratch[j] = lnn_sat32(lnn_rshift_round64((int64_t)x[j] * m->in_w[j], m->in_shift[j]) + m->in_b[j]);
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
        int64_t dt_c = (int64_t)dt < LNN_LTC_DT_MIN ? LNN_LTC_DT_MIN : (int64_t)dt;
        for (j = 0; j < LNN_LTC_N_NEURONS; j++) {
            nb[j].cm = (LNN_LTC_CM_T)((((int64_t)m->cm_u[j] << LNN_LTC_CM_SHIFT) + (dt_c >> 1)) / dt_c);
        }
    }
    r = m->s_syn;
    e = m->s_erev;
    for (j = 0; j < LNN_LTC_N_NEURONS; j++) {
        int64_t sum_s = m->gleak_vleak[j];
        int32_t sum_g = m->gleak_eps[j];
        for (int k = (int)(m->s_count[j]); k > 0; k--, r++) {
            int32_t g = lnn_ltc_q31_conductance(r, scratch, m->sigmoid_table, LNN_LTC_S_Z_SHIFT);
            sum_s += (int64_t)(*e++) * g;
            sum_g += g;
        }
        nb[j].s0 = sum_s;
        nb[j].g0 = sum_g;
    }
    int32_t *v = state;
    int32_t *v_next = scratch;
    for (u = 0; u < LNN_LTC_UNFOLDS; u++) {
        const lnn_ltc_q31_neuron_t *n = nb;
        r = m->syn;
        e = m->erev;
        for (j = 0; j < LNN_LTC_N_WIRED; j++, n++) {
            int i = (int)(m->wired[j] & LNN_LTC_WIRED_MASK);
            int64_t sum_s = n->s0;
            int32_t sum_g = n->g0;
            int64_t v_i;
            for (int k = (int)(m->wired[j] >> LNN_LTC_WIRED_SHIFT); k > 0; k--, r++) {
                int32_t g = lnn_ltc_q31_conductance(r, v, m->sigmoid_table, LNN_LTC_Z_SHIFT);
                sum_s += (int64_t)(*e++) * g;
                sum_g += g;
            }
            v_i = v[i];
            v_next[i] = (int32_t)(v_i + lnn_ltc_q31_div_round_fast(sum_s - sum_g * v_i, (int64_t)n->cm + sum_g));
        }
        for (j = 0; j < LNN_LTC_N_NEURONS - LNN_LTC_N_WIRED; j++, n++) {
            int i = m->leaf[j];
            int64_t v_i = v[i];
            v_next[i] = (int32_t)(v_i + lnn_ltc_q31_div_round_fast(n->s0 - (int64_t)n->g0 * v_i,
                                                                   (int64_t)n->cm + n->g0));
        }
        {
            int32_t *swap = v;
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
        y[j] = lnn_sat32(lnn_rshift_round64((int64_t)state[j] * m->out_w[j], m->out_shift[j]) + m->out_b[j]);
    }
    return LNN_OK;
}

#endif /* LNN_LTC_Q31_H */
