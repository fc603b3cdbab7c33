/* lnn_fw_model.c: binds the generated model API (<name>_init, _step_dt, _get_state, _set_state) to the
 * byte-oriented interface of lnn_fw_model.h.
 *
 * lnn_fw_config.h (written by `lnn-edge build`) names the generated header, types and functions, so this
 * file serves every model: LTC or CfC, float32, fixed16 or fixed32. The hash and precision are read from
 * the generated header's macros, so HELLO reports what was actually compiled in. Portable C99.
 */
#include <string.h>

#include "lnn_fw_config.h"
#include LNN_FW_MODEL_HEADER

#include "lnn_fw_model.h"
#include "lnn_fw_port.h"
#include "lnn_fw_protocol.h"

typedef LNN_FW_MODEL_VALUE_T value_t;
typedef LNN_FW_MODEL_TIME_T time_value_t;

#define VALUE_SIZE ((unsigned)sizeof(value_t))

/* C99 has no static_assert: a negative array size stops the build instead. Every request and response
 * must fit the image's payload limit (lnn-edge build sizes LNN_FW_MAX_PAYLOAD from these same sums). */
typedef char lnn_fw_check_step_request[(1u + VALUE_SIZE * (1u + LNN_FW_MODEL_INPUTS) <= LNN_FW_MAX_PAYLOAD) ? 1 : -1];
typedef char lnn_fw_check_step_response[
    (4u + VALUE_SIZE * (LNN_FW_MODEL_OUTPUTS + LNN_FW_MODEL_STATE_SIZE) <= LNN_FW_MAX_PAYLOAD) ? 1 : -1];
typedef char lnn_fw_check_bench_scratch[(20u + VALUE_SIZE * LNN_FW_MODEL_OUTPUTS <= LNN_FW_MAX_PAYLOAD) ? 1 : -1];
typedef char lnn_fw_check_time_type[(sizeof(time_value_t) == sizeof(value_t)) ? 1 : -1];

static LNN_FW_MODEL_STATE_T model_state;
static value_t saved_state[LNN_FW_MODEL_STATE_SIZE];
static lnn_fw_model_info_t info;

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The header carries the SHA-256 as 64 hex digits; a malformed one leaves the hash zero (the host then
 * refuses the board, which is the safe outcome). */
static void parse_hash(const char *hex, uint8_t hash[32])
{
    unsigned i;
    for (i = 0; i < 32u; i++) {
        int high = hex_digit(hex[2u * i]);
        int low = high < 0 ? -1 : hex_digit(hex[2u * i + 1u]);
        if (high < 0 || low < 0) {
            memset(hash, 0, 32u);
            return;
        }
        hash[i] = (uint8_t)((high << 4) | low);
    }
}

static int same_text(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static uint8_t precision_code(const char *precision)
{
    if (same_text(precision, "fixed16")) {
        return LNN_FW_PRECISION_FIXED16;
    }
    if (same_text(precision, "fixed32")) {
        return LNN_FW_PRECISION_FIXED32;
    }
    return LNN_FW_PRECISION_FLOAT32;
}

void lnn_fw_model_init(void)
{
    (void)LNN_FW_MODEL_INIT(&model_state);
    info.precision = precision_code(LNN_FW_MODEL_PRECISION);
    info.value_size = (uint8_t)VALUE_SIZE;
    info.inputs = (uint16_t)LNN_FW_MODEL_INPUTS;
    info.outputs = (uint16_t)LNN_FW_MODEL_OUTPUTS;
    info.state = (uint16_t)LNN_FW_MODEL_STATE_SIZE;
    parse_hash(LNN_FW_MODEL_HASH, info.hash);
}

const lnn_fw_model_info_t *lnn_fw_model_info(void)
{
    return &info;
}

void lnn_fw_model_reset(void)
{
    (void)LNN_FW_MODEL_RESET(&model_state);
}

int lnn_fw_model_step(const uint8_t *dt, const uint8_t *x, uint8_t *y, uint32_t *cycles)
{
    value_t x_values[LNN_FW_MODEL_INPUTS];
    value_t y_values[LNN_FW_MODEL_OUTPUTS];
    time_value_t dt_value;
    uint32_t start;
    int status;
    /* Frames are byte streams: copy into aligned, typed arrays (the cores are little-endian). */
    memcpy(x_values, x, sizeof x_values);
    memcpy(&dt_value, dt, sizeof dt_value);
    start = lnn_fw_port_cycles();
    status = LNN_FW_MODEL_STEP_DT(&model_state, x_values, dt_value, y_values);
    *cycles = lnn_fw_port_cycles() - start;
    memcpy(y, y_values, sizeof y_values);
    return status;
}

void lnn_fw_model_get_state(uint8_t *out)
{
    memcpy(out, LNN_FW_MODEL_GET_STATE(&model_state), sizeof saved_state);
}

int lnn_fw_model_set_state(const uint8_t *in)
{
    value_t values[LNN_FW_MODEL_STATE_SIZE];
    memcpy(values, in, sizeof values);
    return LNN_FW_MODEL_SET_STATE(&model_state, values);
}

void lnn_fw_model_save_state(void)
{
    memcpy(saved_state, LNN_FW_MODEL_GET_STATE(&model_state), sizeof saved_state);
}

void lnn_fw_model_restore_state(void)
{
    (void)LNN_FW_MODEL_SET_STATE(&model_state, saved_state);
}
