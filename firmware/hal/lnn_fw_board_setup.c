/* lnn_fw_board_setup.c: the board's set-up as data: read-modify-write register operations from the
 * board's TOML ([[setup]] entries: addr, clear, set), applied in order before the UART starts.
 *
 * This keeps clock gating and pin muxing (e.g. STM32 RCC enables and GPIO alternate functions) out of the
 * drivers, so one USART driver serves every STM32 board. Boards without set-up (QEMU MPS2, micro:bit)
 * have an empty list.
 */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

typedef struct {
    uint32_t addr;
    uint32_t clear;
    uint32_t set;
} lnn_fw_setup_write_t;

#if LNN_FW_SETUP_COUNT > 0
static const lnn_fw_setup_write_t setup_writes[LNN_FW_SETUP_COUNT] = LNN_FW_SETUP_WRITES;
#endif

void lnn_fw_board_setup(void)
{
#if LNN_FW_SETUP_COUNT > 0
    unsigned i;
    for (i = 0; i < (unsigned)LNN_FW_SETUP_COUNT; i++) {
        uint32_t value = LNN_FW_REG32(setup_writes[i].addr);
        LNN_FW_REG32(setup_writes[i].addr) = (value & ~setup_writes[i].clear) | setup_writes[i].set;
    }
#endif
}
