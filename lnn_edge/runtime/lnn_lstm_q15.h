/* lnn_lstm_q15.h: the LSTM step of a mixed-memory cell (ncps mixed_memory=True) in 16-bit fixed point (fixed16),
 * static inline kernels of the lnn-edge runtime. Do not edit: lnn-edge export copies this file unchanged into
 * DIR/lnn/.
 *
 * The C twin of lnn_edge/cells/mixed/emulate.py (LstmFixedStep.lstm, whose docstring is the operation table
 * followed here line by line); lnn_edge/cells/mixed/quantize.py chooses the formats. The caller's state is
 * [h | c], 2 LNN_LSTM_UNITS int16 values in one format Q(LNN_LSTM_F); x are the model's inputs, input j in
 * Q(input_frac[j]). A step writes c' over c and h' over h; the liquid cell's step then reads h' as its state.
 * A gate sum is exact in 32 bits (the quantizer proves it below 2^31 for any inputs and state: one
 * multiply-accumulate a weight); everything after it is 64-bit and exact.
 *
 * Core-specific code: on cores with the DSP extension (ARMv7E-M, ARMv8-M Mainline + DSP) the gate sums take two
 * columns a step with SMLAD (ACLE); it must equal the portable C beside it bit for bit (tests run both in
 * Unicorn against the emulator), and -DLNN_NO_ASM builds the portable C on every core.
 *
 * Configuration: the including file (a generated <name>.c) defines first LNN_LSTM_UNITS (H), LNN_LSTM_INPUTS
 * (S), LNN_LSTM_F (the state format), LNN_LSTM_P (the gate sums' format), LNN_LSTM_T (the sigmoid table's
 * input format) and LNN_LSTM_INDEX_BITS (the table's segments on [0, 16): 2^INDEX_BITS).
 */
#ifndef LNN_LSTM_Q15_H
#define LNN_LSTM_Q15_H

#include <stdint.h>

#include "lnn_fixed.h"
#include "lnn_status.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(LNN_NO_ASM)
#include <arm_acle.h>
#define LNN_LSTM_Q15_DSP 1
#else
#define LNN_LSTM_Q15_DSP 0
#endif

#define LNN_LSTM_Q15_S 15                                          /* sigmoid and tanh values: Q15 */
#define LNN_LSTM_Q15_ONE ((int32_t)1 << LNN_LSTM_Q15_S)
#define LNN_LSTM_Q15_LIMIT ((int32_t)1 << (LNN_LSTM_T + 4))       /* 16 in Q(T): the table's end */
#define LNN_LSTM_Q15_FS (LNN_LSTM_T + 4 - LNN_LSTM_INDEX_BITS)    /* segment width, log2 */
#define LNN_LSTM_Q15_LAST ((int)1 << LNN_LSTM_INDEX_BITS)

/* The LSTM's parameters, unit by unit so that one pass over the inputs feeds a unit's four gates (i, ig, fg,
 * og: ncps's order), two columns at a time: for unit k, w_in holds for each column pair (j, j + 1) the four gates'
 * weight pairs w[g][j], w[g][j + 1] (one word each, SMLAD's operand), then for an odd count the last column's four
 * weights; input_map.weight[g H + k][j] in Q(P - input_frac[j]); w_rec likewise over h, recurrent_map.weight in
 * Q(P - F); b[k][g] = input_map.bias[g H + k] in Q(P) with ncps's forget-gate + 1 folded in; sigmoid on [0, 16]
 * at 2^INDEX_BITS + 1 points, Q15 (lnn_edge.quant.fixedpoint.sigmoid_table). */
typedef struct {
    int16_t w_in[LNN_LSTM_UNITS * LNN_LSTM_INPUTS * 4];
    int16_t w_rec[LNN_LSTM_UNITS * LNN_LSTM_UNITS * 4];
    int32_t b[4 * LNN_LSTM_UNITS];
    uint16_t sigmoid[(1 << LNN_LSTM_INDEX_BITS) + 1];
} lnn_lstm_q15_model_t;

/* sigmoid(t) in Q15 for t in Q(T): the table at min(|t|, 16), mirrored for t < 0 (sigmoid(-t) = 1 - sigmoid(t)). */
static inline int32_t lnn_lstm_q15_sigmoid(const uint16_t *table, int64_t t)
{
    int64_t a = t < 0 ? -t : t;
    int32_t value = lnn_interp_u16(table, a < LNN_LSTM_Q15_LIMIT ? (int32_t)a : LNN_LSTM_Q15_LIMIT,
        LNN_LSTM_Q15_LIMIT, LNN_LSTM_Q15_FS, LNN_LSTM_Q15_LAST);
    return t >= 0 ? value : LNN_LSTM_Q15_ONE - value;
}

/* tanh(t / 2) in Q15 for t in Q(T): 2 sigmoid(t) - 1. */
static inline int32_t lnn_lstm_q15_tanh_half(const uint16_t *table, int64_t t)
{
    return 2 * lnn_lstm_q15_sigmoid(table, t) - LNN_LSTM_Q15_ONE;
}

/* a[g] += the unit's gate-g weights times v[0 .. count-1], for the four gates (layout above: pairs, then an odd
 * column). Every partial sum stays below 2^31 (the quantizer's row bound), so the order of the products does not
 * matter and SMLAD, which adds two products at once, gives the portable C's bits. */
LNN_STEP_INLINE void lnn_lstm_q15_gates(const int16_t *w, const int16_t *v, int count, int32_t *a)
{
    int p;
    for (p = 0; p < count / 2; p++, w += 8) {
#if LNN_LSTM_Q15_DSP
        int32_t pair;
        int32_t w01;
        int32_t w23;
        int32_t w45;
        int32_t w67;
        __builtin_memcpy(&pair, v + 2 * p, sizeof pair); /* v[2p] | v[2p+1] << 16, an unaligned word */
        __builtin_memcpy(&w01, w, sizeof w01);
        __builtin_memcpy(&w23, w + 2, sizeof w23);
        __builtin_memcpy(&w45, w + 4, sizeof w45);
        __builtin_memcpy(&w67, w + 6, sizeof w67);
        a[0] = __smlad(w01, pair, a[0]);
        a[1] = __smlad(w23, pair, a[1]);
        a[2] = __smlad(w45, pair, a[2]);
        a[3] = __smlad(w67, pair, a[3]);
#else
        const int32_t v0 = (int32_t)v[2 * p];
        const int32_t v1 = (int32_t)v[2 * p + 1];
        a[0] += (int32_t)w[0] * v0;
        a[0] += (int32_t)w[1] * v1;
        a[1] += (int32_t)w[2] * v0;
        a[1] += (int32_t)w[3] * v1;
        a[2] += (int32_t)w[4] * v0;
        a[2] += (int32_t)w[5] * v1;
        a[3] += (int32_t)w[6] * v0;
        a[3] += (int32_t)w[7] * v1;
#endif
    }
    if (count & 1) {
        const int32_t last = (int32_t)v[count - 1];
        a[0] += (int32_t)w[0] * last;
        a[1] += (int32_t)w[1] * last;
        a[2] += (int32_t)w[2] * last;
        a[3] += (int32_t)w[3] * last;
    }
}

/* One LSTM step on state [h | c]: h' and c' replace h and c. LNN_ERR_NULL (state untouched) if state or x is
 * NULL. h' is collected on the stack (H values) because every unit's gates read the old h. */
LNN_STEP_INLINE int lnn_lstm_q15_step(const lnn_lstm_q15_model_t *m, int16_t *state, const int16_t *x)
{
    int16_t h_new[LNN_LSTM_UNITS];
    int k;
    if (state == 0 || x == 0) {
        return LNN_ERR_NULL;
    }
    for (k = 0; k < LNN_LSTM_UNITS; k++) {
        int64_t z[4];
        int32_t ti;
        int32_t si;
        int32_t sf;
        int32_t so;
        int64_t wide;
        int16_t c_new;
        int32_t a[4];
        a[0] = m->b[4 * k];
        a[1] = m->b[4 * k + 1];
        a[2] = m->b[4 * k + 2];
        a[3] = m->b[4 * k + 3];
        lnn_lstm_q15_gates(m->w_in + k * 4 * LNN_LSTM_INPUTS, x, LNN_LSTM_INPUTS, a);
        lnn_lstm_q15_gates(m->w_rec + k * 4 * LNN_LSTM_UNITS, state, LNN_LSTM_UNITS, a);
        z[0] = (int64_t)a[0];
        z[1] = (int64_t)a[1];
        z[2] = (int64_t)a[2];
        z[3] = (int64_t)a[3];
        ti = lnn_lstm_q15_tanh_half(m->sigmoid, lnn_rshift_round64(z[0], LNN_LSTM_P - LNN_LSTM_T - 1));
        si = lnn_lstm_q15_sigmoid(m->sigmoid, lnn_rshift_round64(z[1], LNN_LSTM_P - LNN_LSTM_T));
        sf = lnn_lstm_q15_sigmoid(m->sigmoid, lnn_rshift_round64(z[2], LNN_LSTM_P - LNN_LSTM_T));
        so = lnn_lstm_q15_sigmoid(m->sigmoid, lnn_rshift_round64(z[3], LNN_LSTM_P - LNN_LSTM_T));
        wide = lnn_rshift_round64((int64_t)state[LNN_LSTM_UNITS + k] * sf +
                                      lnn_rshift_round64((int64_t)ti * si, LNN_LSTM_Q15_S - LNN_LSTM_F),
            LNN_LSTM_Q15_S);
        c_new = (int16_t)(wide < INT16_MIN ? INT16_MIN : (wide > INT16_MAX ? INT16_MAX : wide));
        state[LNN_LSTM_UNITS + k] = c_new;
        h_new[k] = (int16_t)lnn_rshift_round64(
            (int64_t)lnn_lstm_q15_tanh_half(m->sigmoid, lnn_rshift_round64(c_new, LNN_LSTM_F - LNN_LSTM_T - 1)) * so,
            2 * LNN_LSTM_Q15_S - LNN_LSTM_F);
    }
    for (k = 0; k < LNN_LSTM_UNITS; k++) {
        state[k] = h_new[k];
    }
    return LNN_OK;
}

#endif /* LNN_LSTM_Q15_H */
