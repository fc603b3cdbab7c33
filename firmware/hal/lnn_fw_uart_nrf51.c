/* lnn_fw_uart_nrf51.c: Nordic nRF51 UART (legacy, non-DMA; QEMU microbit). nRF52 parts keep this
 * register-compatible UART at the same address as UARTE0 (ENABLE = 4 selects it).
 *
 * Tasks STARTRX +0x000, STARTTX +0x008; events RXDRDY +0x108, TXDRDY +0x11C; ENABLE +0x500 (4),
 * PSELTXD +0x50C, PSELRXD +0x514, RXD +0x518, TXD +0x51C, BAUDRATE +0x524, CONFIG +0x56C.
 * Rules (and QEMU's model enforces them): clear RXDRDY before reading RXD, because reading RXD raises
 * RXDRDY again when more bytes wait in the FIFO; after writing TXD wait for TXDRDY before the next write,
 * or the write is dropped.
 */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

#define UART_STARTRX LNN_FW_REG32(LNN_FW_UART_BASE + 0x000u)
#define UART_STARTTX LNN_FW_REG32(LNN_FW_UART_BASE + 0x008u)
#define UART_RXDRDY LNN_FW_REG32(LNN_FW_UART_BASE + 0x108u)
#define UART_TXDRDY LNN_FW_REG32(LNN_FW_UART_BASE + 0x11Cu)
#define UART_ERROR LNN_FW_REG32(LNN_FW_UART_BASE + 0x124u)
#define UART_ERRORSRC LNN_FW_REG32(LNN_FW_UART_BASE + 0x480u)
#define UART_ENABLE LNN_FW_REG32(LNN_FW_UART_BASE + 0x500u)
#define UART_PSELTXD LNN_FW_REG32(LNN_FW_UART_BASE + 0x50Cu)
#define UART_PSELRXD LNN_FW_REG32(LNN_FW_UART_BASE + 0x514u)
#define UART_RXD LNN_FW_REG32(LNN_FW_UART_BASE + 0x518u)
#define UART_TXD LNN_FW_REG32(LNN_FW_UART_BASE + 0x51Cu)
#define UART_BAUDRATE LNN_FW_REG32(LNN_FW_UART_BASE + 0x524u)
#define UART_CONFIG LNN_FW_REG32(LNN_FW_UART_BASE + 0x56Cu)

#define ENABLE_UART 4u

void lnn_fw_uart_init(void)
{
    UART_ENABLE = 0u;
    UART_PSELTXD = (uint32_t)LNN_FW_UART_TX_PIN;
    UART_PSELRXD = (uint32_t)LNN_FW_UART_RX_PIN;
    UART_BAUDRATE = (uint32_t)LNN_FW_UART_BAUD_REG; /* from the reference manual's table, via the board */
    UART_CONFIG = 0u;                                /* no parity, no flow control */
    UART_ENABLE = ENABLE_UART;
    UART_TXDRDY = 0u;
    UART_RXDRDY = 0u;
    UART_STARTTX = 1u;
    UART_STARTRX = 1u;
}

int lnn_fw_uart_read(uint8_t *byte)
{
    if (UART_ERROR != 0u) {
        UART_ERROR = 0u;
        UART_ERRORSRC = UART_ERRORSRC; /* write-one-to-clear */
    }
    if (UART_RXDRDY == 0u) {
        return 0;
    }
    UART_RXDRDY = 0u;
    *byte = (uint8_t)(UART_RXD & 0xFFu);
    return 1;
}

void lnn_fw_uart_write(const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        UART_TXDRDY = 0u;
        UART_TXD = data[i];
        while (UART_TXDRDY == 0u) {
        }
    }
}
