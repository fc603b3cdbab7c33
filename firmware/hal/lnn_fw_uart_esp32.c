/* lnn_fw_uart_esp32.c: ESP32-C3 UART0 (the UART the ESP32-C3-DevKitM-1's USB-serial bridge is wired to).
 *
 * Registers (ESP32-C3 Technical Reference Manual, chapter "UART Controller"): UART_FIFO_REG +0x00 (a write
 * queues a byte, a read pops one), UART_STATUS_REG +0x1C (bits 9:0 RXFIFO_CNT, bits 25:16 TXFIFO_CNT); the
 * FIFOs hold 128 bytes each. The ROM bootloader leaves UART0 at 115200 8N1 on its default pins (GPIO21 TX,
 * GPIO20 RX), so the driver keeps that set-up instead of reprogramming the clock divider: the board file's
 * baud must be 115200.
 */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

#define UART_FIFO LNN_FW_REG32(LNN_FW_UART_BASE + 0x00u)
#define UART_STATUS LNN_FW_REG32(LNN_FW_UART_BASE + 0x1Cu)

#define RXFIFO_COUNT(status) ((status) & 0x3FFu)
#define TXFIFO_COUNT(status) (((status) >> 16) & 0x3FFu)
#define FIFO_SIZE 128u

void lnn_fw_uart_init(void)
{
}

int lnn_fw_uart_read(uint8_t *byte)
{
    if (RXFIFO_COUNT(UART_STATUS) == 0u) {
        return 0;
    }
    *byte = (uint8_t)(UART_FIFO & 0xFFu);
    return 1;
}

void lnn_fw_uart_write(const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        while (TXFIFO_COUNT(UART_STATUS) >= FIFO_SIZE) {
        }
        UART_FIFO = data[i];
    }
}
