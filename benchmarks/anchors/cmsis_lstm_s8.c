/* cmsis_lstm_s8.c: one time step of CMSIS-NN's portable int8 LSTM (arm_lstm_unidirectional_s8), the second
 * anchor of issue 17, behind the same entry point lnn-edge's bench calls (<name>_step_dt(state, x, dt, y)).
 *
 * Only this wrapper is lnn-edge's: CMSIS-NN itself is compiled from the user's checkout by
 * benchmarks/anchors.py, never copied here. The parameters (int8 weights, int32 effective biases, the
 * requantization multipliers of a TFLite int8 LSTM) come from anchor_lstm_data.h, which the script writes. The
 * recurrent state (hidden int8, cell int16) lives in the caller's struct, as lnn-edge's state does; the two
 * int16 gate buffers are static scratch. dt is ignored: an LSTM has no elapsed time.
 */
#include <stdint.h>

#include "anchor_lstm_data.h"
#include "arm_nnfunctions.h"

typedef struct {
    int16_t cell[ANCHOR_HIDDEN];
    int8_t hidden[ANCHOR_HIDDEN + 1]; /* + 1: the struct is read back as int16 words */
} anchor_state_t;

static int16_t temp1[ANCHOR_HIDDEN];
static int16_t temp2[ANCHOR_HIDDEN];

#define GATE(name, act)                                                                                        \
    {                                                                                                          \
        GATE_MULTIPLIER, GATE_SHIFT, name##_input_weights, name##_input_bias, GATE_MULTIPLIER, GATE_SHIFT,    \
            name##_hidden_weights, name##_hidden_bias, name##_bias, act                                        \
    }

static const cmsis_nn_lstm_params params = {
    1, 1, 1, ANCHOR_INPUTS, ANCHOR_HIDDEN, INPUT_OFFSET,
    FORGET_TO_CELL_MULTIPLIER, FORGET_TO_CELL_SHIFT, INPUT_TO_CELL_MULTIPLIER, INPUT_TO_CELL_SHIFT,
    CELL_CLIP, CELL_SCALE_POWER, OUTPUT_MULTIPLIER, OUTPUT_SHIFT, OUTPUT_OFFSET,
    GATE(forget, ARM_SIGMOID), GATE(input, ARM_SIGMOID), GATE(cell, ARM_TANH), GATE(output, ARM_SIGMOID),
};

int anchor_step_dt(anchor_state_t *state, const int8_t *x, int16_t dt, int8_t *y)
{
    cmsis_nn_lstm_context buffers;
    (void)dt;
    buffers.temp1 = temp1;
    buffers.temp2 = temp2;
    buffers.cell_state = state->cell;
    buffers.hidden_state = state->hidden;
    return arm_lstm_unidirectional_s8(x, y, &params, &buffers) == ARM_CMSIS_NN_SUCCESS ? 0 : 1;
}
