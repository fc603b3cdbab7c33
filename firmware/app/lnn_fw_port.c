/* lnn_fw_port.c: the protocol server's platform (lnn_fw_port.h) on a board: the HAL's UART and cycle
 * counter, and the board facts that lnn-edge build wrote into lnn_fw_config.h. */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"
#include "lnn_fw_port.h"

static const lnn_fw_board_info_t board_info = {
    LNN_FW_BOARD_NAME,
    LNN_FW_CORE_NAME,
    (uint32_t)LNN_FW_CLOCK_HZ,
    (uint8_t)LNN_FW_CYCLES_KIND,
};

void lnn_fw_port_write(const uint8_t *data, size_t len)
{
    lnn_fw_uart_write(data, len);
}

uint32_t lnn_fw_port_cycles(void)
{
    return lnn_fw_cycles_now();
}

const lnn_fw_board_info_t *lnn_fw_port_board(void)
{
    return &board_info;
}
