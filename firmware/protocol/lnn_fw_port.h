/* lnn_fw_port.h: what the portable protocol server needs from its platform.
 *
 * The firmware implements these over the HAL (app/lnn_fw_port.c); the host fuzz driver
 * (host/lnn_fw_fuzz_main.c) implements them over memory buffers. Link-time binding keeps the server free
 * of function pointers and of any hardware header.
 */
#ifndef LNN_FW_PORT_H
#define LNN_FW_PORT_H

#include <stddef.h>
#include <stdint.h>

/* What HELLO and BOOT report about the board. */
typedef struct {
    const char *board; /* board name, as in boards/<name>.toml */
    const char *core;  /* core name, e.g. "cortex-m4f" */
    uint32_t clock_hz; /* core clock the cycle counts refer to */
    uint8_t cycles_kind; /* LNN_FW_CYCLES_* */
} lnn_fw_board_info_t;

/* Send bytes to the host (blocking until they are handed to the UART). */
void lnn_fw_port_write(const uint8_t *data, size_t len);

/* A free-running 32-bit cycle count (wraps modulo 2^32; differences are what matter). */
uint32_t lnn_fw_port_cycles(void);

const lnn_fw_board_info_t *lnn_fw_port_board(void);

#endif /* LNN_FW_PORT_H */
