/* lnn_fw_uart_cmsdk.c: Arm CMSDK APB UART (MPS2/MPS3 FPGA images, QEMU mps2-an385/386/500/505).
 *
 * Registers: DATA +0x0, STATE +0x4 (bit0 TX full, bit1 RX full), CTRL +0x8 (bit0 TX enable, bit1 RX
 * enable), BAUDDIV +0x10 (PCLK / baud, at least 16).
 */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

#define UART_DATA LNN_FW_REG32(LNN_FW_UART_BASE + 0x00u)
#define UART_STATE LNN_FW_REG32(LNN_FW_UART_BASE + 0x04u)
#define UART_CTRL LNN_FW_REG32(LNN_FW_UART_BASE + 0x08u)
#define UART_BAUDDIV LNN_FW_REG32(LNN_FW_UART_BASE + 0x10u)

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u
#define CTRL_TX_ENABLE 0x1u
#define CTRL_RX_ENABLE 0x2u

void lnn_fw_uart_init(void)
{
    uint32_t divider = (uint32_t)LNN_FW_CLOCK_HZ / (uint32_t)LNN_FW_UART_BAUD;
    UART_BAUDDIV = divider < 16u ? 16u : divider;
    UART_CTRL = CTRL_TX_ENABLE | CTRL_RX_ENABLE;
}

int lnn_fw_uart_read(uint8_t *byte)
{
    if ((UART_STATE & STATE_RX_FULL) == 0u) {
        return 0;
    }
    *byte = (uint8_t)(UART_DATA & 0xFFu);
    return 1;
}

void lnn_fw_uart_write(const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        while ((UART_STATE & STATE_TX_FULL) != 0u) {
        }
        UART_DATA = data[i];
    }
}
