/* lnn_lstm_q31.h: the LSTM step of a mixed-memory cell (ncps mixed_memory=True) in 32-bit fixed point (fixed32),
 * static inline kernels of the lnn-edge runtime. Do not edit: lnn-edge export copies this file unchanged into
 * DIR/lnn/.
 *
 * The C twin of lnn_edge/cells/mixed/emulate.py (LstmFixedStep.lstm, whose docstring is the operation table
 * followed here line by line); lnn_edge/cells/mixed/quantize.py chooses the formats. The caller's state is
 * [h | c], 2 LNN_LSTM_UNITS int32 values in one format Q(LNN_LSTM_F); x are the model's inputs, input j in
 * Q(input_frac[j]). A step writes c' over c and h' over h; the liquid cell's step then reads h' as its state.
 * Every product and sum is 64-bit and exact (the quantizer proves each gate sum below 2^62).
 *
 * Configuration: the including file (a generated <name>.c) defines first LNN_LSTM_UNITS (H), LNN_LSTM_INPUTS
 * (S), LNN_LSTM_F (the state format), LNN_LSTM_P (the gate sums' format), LNN_LSTM_T (the sigmoid table's
 * input format) and LNN_LSTM_INDEX_BITS (the table's segments on [0, 16): 2^INDEX_BITS).
 */
#ifndef LNN_LSTM_Q31_H
#define LNN_LSTM_Q31_H

#include <stdint.h>

#include "lnn_fixed.h"
#include "lnn_status.h"

#define LNN_LSTM_Q31_S 31                                          /* sigmoid and tanh values: Q31 */
#define LNN_LSTM_Q31_ONE ((int64_t)1 << LNN_LSTM_Q31_S)
#define LNN_LSTM_Q31_LIMIT ((int64_t)1 << (LNN_LSTM_T + 4))       /* 16 in Q(T): the table's end */
#define LNN_LSTM_Q31_FS (LNN_LSTM_T + 4 - LNN_LSTM_INDEX_BITS)    /* segment width, log2 */
#define LNN_LSTM_Q31_LAST ((int)1 << LNN_LSTM_INDEX_BITS)

/* The LSTM's parameters, unit by unit so that one pass over the inputs feeds a unit's four gates (i, ig, fg,
 * og: ncps's order): w_in[k][j][g] = input_map.weight[g H + k][j] in Q(P - input_frac[j]), w_rec[k][j][g] =
 * recurrent_map.weight[g H + k][j] in Q(P - F), b[k][g] = input_map.bias[g H + k] in Q(P) with ncps's forget-gate
 * + 1 folded in; sigmoid on [0, 16] at 2^INDEX_BITS + 1 points, Q31 (lnn_edge.quant.fixedpoint.sigmoid_table). */
typedef struct {
    int32_t w_in[LNN_LSTM_UNITS * LNN_LSTM_INPUTS * 4];
    int32_t w_rec[LNN_LSTM_UNITS * LNN_LSTM_UNITS * 4];
    int64_t b[4 * LNN_LSTM_UNITS];
    uint32_t sigmoid[(1 << LNN_LSTM_INDEX_BITS) + 1];
} lnn_lstm_q31_model_t;

/* sigmoid(t) in Q31 for t in Q(T): the table at min(|t|, 16), mirrored for t < 0 (sigmoid(-t) = 1 - sigmoid(t)). */
static inline int64_t lnn_lstm_q31_sigmoid(const uint32_t *table, int64_t t)
{
    int64_t a = t < 0 ? -t : t;
    int64_t value = lnn_interp_u32(table, a < LNN_LSTM_Q31_LIMIT ? a : LNN_LSTM_Q31_LIMIT,
        LNN_LSTM_Q31_LIMIT, LNN_LSTM_Q31_FS, LNN_LSTM_Q31_LAST);
    return t >= 0 ? value : LNN_LSTM_Q31_ONE - value;
}

/* tanh(t / 2) in Q31 for t in Q(T): 2 sigmoid(t) - 1. */
static inline int64_t lnn_lstm_q31_tanh_half(const uint32_t *table, int64_t t)
{
    return 2 * lnn_lstm_q31_sigmoid(table, t) - LNN_LSTM_Q31_ONE;
}

/* One LSTM step on state [h | c]: h' and c' replace h and c. LNN_ERR_NULL (state untouched) if state or x is
 * NULL. h' is collected on the stack (H values) because every unit's gates read the old h. */
LNN_STEP_INLINE int lnn_lstm_q31_step(const lnn_lstm_q31_model_t *m, int32_t *state, const int32_t *x)
{
    int32_t h_new[LNN_LSTM_UNITS];
    int k;
    int j;
    if (state == 0 || x == 0) {
        return LNN_ERR_NULL;
    }
    for (k = 0; k < LNN_LSTM_UNITS; k++) {
        int64_t z[4];
        int64_t ti;
        int64_t si;
        int64_t sf;
        int64_t so;
        int64_t wide;
        int32_t c_new;
        const int32_t *wi = m->w_in + k * 4 * LNN_LSTM_INPUTS;
        const int32_t *wr = m->w_rec + k * 4 * LNN_LSTM_UNITS;
        int64_t a0 = m->b[4 * k];
        int64_t a1 = m->b[4 * k + 1];
        int64_t a2 = m->b[4 * k + 2];
        int64_t a3 = m->b[4 * k + 3];
        for (j = 0; j < LNN_LSTM_INPUTS; j++, wi += 4) {
            const int64_t v = (int64_t)x[j];
            a0 += (int64_t)wi[0] * v;
            a1 += (int64_t)wi[1] * v;
            a2 += (int64_t)wi[2] * v;
            a3 += (int64_t)wi[3] * v;
        }
        for (j = 0; j < LNN_LSTM_UNITS; j++, wr += 4) {
            const int64_t v = (int64_t)state[j];
            a0 += (int64_t)wr[0] * v;
            a1 += (int64_t)wr[1] * v;
            a2 += (int64_t)wr[2] * v;
            a3 += (int64_t)wr[3] * v;
        }
        z[0] = a0;
        z[1] = a1;
        z[2] = a2;
        z[3] = a3;
        ti = lnn_lstm_q31_tanh_half(m->sigmoid, lnn_rshift_round64(z[0], LNN_LSTM_P - LNN_LSTM_T - 1));
        si = lnn_lstm_q31_sigmoid(m->sigmoid, lnn_rshift_round64(z[1], LNN_LSTM_P - LNN_LSTM_T));
        sf = lnn_lstm_q31_sigmoid(m->sigmoid, lnn_rshift_round64(z[2], LNN_LSTM_P - LNN_LSTM_T));
        so = lnn_lstm_q31_sigmoid(m->sigmoid, lnn_rshift_round64(z[3], LNN_LSTM_P - LNN_LSTM_T));
        wide = lnn_rshift_round64((int64_t)state[LNN_LSTM_UNITS + k] * sf +
                                      lnn_rshift_round64(ti * si, LNN_LSTM_Q31_S - LNN_LSTM_F),
            LNN_LSTM_Q31_S);
        c_new = (int32_t)(wide < INT32_MIN ? INT32_MIN : (wide > INT32_MAX ? INT32_MAX : wide));
        state[LNN_LSTM_UNITS + k] = c_new;
        h_new[k] = (int32_t)lnn_rshift_round64(
            lnn_lstm_q31_tanh_half(m->sigmoid, lnn_rshift_round64(c_new, LNN_LSTM_F - LNN_LSTM_T - 1)) * so,
            2 * LNN_LSTM_Q31_S - LNN_LSTM_F);
    }
    for (k = 0; k < LNN_LSTM_UNITS; k++) {
        state[k] = h_new[k];
    }
    return LNN_OK;
}

#endif /* LNN_LSTM_Q31_H */
