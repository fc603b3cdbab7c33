/* lnn_fw_model.h: the generated model as the protocol server sees it: sizes, hash and raw byte I/O.
 *
 * Implemented once (app/lnn_fw_model.c) over the generated <name>_init/_step_dt/_get_state/_set_state
 * API, selected at build time by lnn_fw_config.h. Values cross this interface as little-endian bytes
 * exactly as they travel in frames, so the server never needs the model's C types.
 */
#ifndef LNN_FW_MODEL_H
#define LNN_FW_MODEL_H

#include <stdint.h>

typedef struct {
    uint8_t precision;  /* LNN_FW_PRECISION_* */
    uint8_t value_size; /* bytes per value: 2 (fixed16) or 4 (fixed32, float32) */
    uint16_t inputs;
    uint16_t outputs;
    uint16_t state;
    uint8_t hash[32];   /* the export's model_hash (SHA-256) */
} lnn_fw_model_info_t;

/* Initialise the model (zero state) and its info; call once at start-up. */
void lnn_fw_model_init(void);
const lnn_fw_model_info_t *lnn_fw_model_info(void);

/* Zero the state. */
void lnn_fw_model_reset(void);

/* One step: dt (one value), x (inputs values) in; y (outputs values) out; *cycles is the cycle count of
 * the generated step function alone. Returns the model's status (0 OK). */
int lnn_fw_model_step(const uint8_t *dt, const uint8_t *x, uint8_t *y, uint32_t *cycles);

/* The state as state values. */
void lnn_fw_model_get_state(uint8_t *out);
int lnn_fw_model_set_state(const uint8_t *in);

/* Keep a copy of the state aside and put it back (BENCH leaves the state as it found it). */
void lnn_fw_model_save_state(void);
void lnn_fw_model_restore_state(void);

#endif /* LNN_FW_MODEL_H */
