/* lnn_lstm_f32.h: the LSTM step of a mixed-memory cell (ncps mixed_memory=True) in float32, static inline
 * kernels of the lnn-edge runtime. Do not edit: lnn-edge export copies this file unchanged into DIR/lnn/.
 *
 * The C twin of lnn_edge/cells/mixed/emulate.py (LstmFloat32Step.lstm): no libm (lnn_sigmoid_f32, lnn_tanh_f32
 * of lnn_f32.h), no FMA (the export compiles with -ffp-contract=off), every sum in index order, so the host,
 * the board and the NumPy twin agree bit for bit. The caller's state is [h | c], 2 LNN_LSTM_UNITS floats; a step
 * writes c' over c and h' over h, which the liquid cell's step then reads as its state.
 *
 * Configuration: the including file (a generated <name>.c) defines first LNN_LSTM_UNITS (H) and LNN_LSTM_INPUTS (S).
 */
#ifndef LNN_LSTM_F32_H
#define LNN_LSTM_F32_H

#include "lnn_f32.h"
#include "lnn_status.h"

/* The LSTM's parameters, unit by unit so that one pass over the inputs feeds a unit's four gates (i, ig, fg,
 * og: ncps's order): w_in[k][j][g] = input_map.weight[g H + k][j], w_rec[k][j][g] = recurrent_map.weight[g H + k][j],
 * b[k][g] = input_map.bias[g H + k] (the forget gate's + 1 folded in). Each gate sums in index order. */
typedef struct {
    float w_in[LNN_LSTM_UNITS * LNN_LSTM_INPUTS * 4];
    float w_rec[LNN_LSTM_UNITS * LNN_LSTM_UNITS * 4];
    float b[4 * LNN_LSTM_UNITS];
} lnn_lstm_f32_model_t;

/* One LSTM step on state [h | c]: h' and c' replace h and c. LNN_ERR_NULL (state untouched) if state or x is
 * NULL. h' is collected on the stack (H values) because every unit's gates read the old h. */
LNN_STEP_INLINE int lnn_lstm_f32_step(const lnn_lstm_f32_model_t *m, float *state, const float *x)
{
    float h_new[LNN_LSTM_UNITS];
    int k;
    int j;
    if (state == 0 || x == 0) {
        return LNN_ERR_NULL;
    }
    for (k = 0; k < LNN_LSTM_UNITS; k++) {
        float z[4];
        float c_new;
        const float *wi = m->w_in + k * 4 * LNN_LSTM_INPUTS;
        const float *wr = m->w_rec + k * 4 * LNN_LSTM_UNITS;
        float a0 = m->b[4 * k];
        float a1 = m->b[4 * k + 1];
        float a2 = m->b[4 * k + 2];
        float a3 = m->b[4 * k + 3];
        for (j = 0; j < LNN_LSTM_INPUTS; j++, wi += 4) {
            const float v = x[j];
            a0 = a0 + wi[0] * v;
            a1 = a1 + wi[1] * v;
            a2 = a2 + wi[2] * v;
            a3 = a3 + wi[3] * v;
        }
        for (j = 0; j < LNN_LSTM_UNITS; j++, wr += 4) {
            const float v = state[j];
            a0 = a0 + wr[0] * v;
            a1 = a1 + wr[1] * v;
            a2 = a2 + wr[2] * v;
            a3 = a3 + wr[3] * v;
        }
        z[0] = a0;
        z[1] = a1;
        z[2] = a2;
        z[3] = a3;
        c_new = state[LNN_LSTM_UNITS + k] * lnn_sigmoid_f32(z[2]) + lnn_tanh_f32(z[0]) * lnn_sigmoid_f32(z[1]);
        state[LNN_LSTM_UNITS + k] = c_new;
        h_new[k] = lnn_tanh_f32(c_new) * lnn_sigmoid_f32(z[3]);
    }
    for (k = 0; k < LNN_LSTM_UNITS; k++) {
        state[k] = h_new[k];
    }
    return LNN_OK;
}

#endif /* LNN_LSTM_F32_H */
