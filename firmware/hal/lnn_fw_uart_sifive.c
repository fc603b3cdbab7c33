/* lnn_fw_uart_sifive.c: SiFive UART (FE310, and QEMU sifive_e's UART0 at 0x10013000).
 *
 * Registers (FE310-G002 manual, chapter "UART"): txdata +0x00 (bits 7:0 data, bit 31 full), rxdata +0x04
 * (bits 7:0 data, bit 31 empty; a read pops the FIFO, so the word is read once), txctrl +0x08 (bit 0 txen),
 * rxctrl +0x0C (bit 0 rxen), div +0x18 (baud = bus clock / (div + 1)). One stop bit is the reset value of
 * txctrl.nstop. The pins (GPIO 16/17 to IOF0 on the FE310) are the board's [[setup]] writes.
 */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

#define UART_TXDATA LNN_FW_REG32(LNN_FW_UART_BASE + 0x00u)
#define UART_RXDATA LNN_FW_REG32(LNN_FW_UART_BASE + 0x04u)
#define UART_TXCTRL LNN_FW_REG32(LNN_FW_UART_BASE + 0x08u)
#define UART_RXCTRL LNN_FW_REG32(LNN_FW_UART_BASE + 0x0Cu)
#define UART_DIV LNN_FW_REG32(LNN_FW_UART_BASE + 0x18u)

#define TXDATA_FULL (1u << 31)
#define RXDATA_EMPTY (1u << 31)
#define CTRL_ENABLE 1u

void lnn_fw_uart_init(void)
{
    /* Rounded to the nearest divisor: the error stays below half a step of the bus clock. */
    uint32_t divisor = ((uint32_t)LNN_FW_UART_CLOCK_HZ + (uint32_t)LNN_FW_UART_BAUD / 2u) / (uint32_t)LNN_FW_UART_BAUD;
    UART_DIV = divisor > 1u ? divisor - 1u : 1u;
    UART_TXCTRL = CTRL_ENABLE;
    UART_RXCTRL = CTRL_ENABLE;
}

int lnn_fw_uart_read(uint8_t *byte)
{
    uint32_t word = UART_RXDATA;
    if ((word & RXDATA_EMPTY) != 0u) {
        return 0;
    }
    *byte = (uint8_t)(word & 0xFFu);
    return 1;
}

void lnn_fw_uart_write(const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        while ((UART_TXDATA & TXDATA_FULL) != 0u) {
        }
        UART_TXDATA = data[i];
    }
}
