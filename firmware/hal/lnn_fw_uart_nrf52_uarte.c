/* lnn_fw_uart_nrf52_uarte.c: Nordic nRF52 UARTE (UART with EasyDMA), for real nRF52840 boards.
 *
 * No QEMU machine models the UARTE: this driver is built and linked in tests, not run. EasyDMA reads and
 * writes RAM only, so bytes go through small RAM buffers.
 * Reception: one-byte DMA transfers into two alternating buffers with the ENDRX->STARTRX shortcut; RXD.PTR
 * is double-buffered (latched when RXSTARTED fires), so after each ENDRX the pointer is moved to the
 * buffer just consumed, ready for the transfer after next. The UARTE's internal 6-byte FIFO covers the
 * restart gap.
 * Registers: tasks STARTRX +0x000, STARTTX +0x008; events ENDRX +0x110, ENDTX +0x120, ERROR +0x124,
 * RXSTARTED +0x14C; SHORTS +0x200 (bit5 ENDRX_STARTRX); ERRORSRC +0x480; ENABLE +0x500 (8);
 * PSEL.RTS/TXD/CTS/RXD +0x508/0x50C/0x510/0x514; BAUDRATE +0x524; RXD.PTR/MAXCNT +0x534/0x538;
 * TXD.PTR/MAXCNT +0x544/0x548; CONFIG +0x56C.
 */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

#define UARTE_STARTRX LNN_FW_REG32(LNN_FW_UART_BASE + 0x000u)
#define UARTE_STARTTX LNN_FW_REG32(LNN_FW_UART_BASE + 0x008u)
#define UARTE_ENDRX LNN_FW_REG32(LNN_FW_UART_BASE + 0x110u)
#define UARTE_ENDTX LNN_FW_REG32(LNN_FW_UART_BASE + 0x120u)
#define UARTE_ERROR LNN_FW_REG32(LNN_FW_UART_BASE + 0x124u)
#define UARTE_RXSTARTED LNN_FW_REG32(LNN_FW_UART_BASE + 0x14Cu)
#define UARTE_SHORTS LNN_FW_REG32(LNN_FW_UART_BASE + 0x200u)
#define UARTE_ERRORSRC LNN_FW_REG32(LNN_FW_UART_BASE + 0x480u)
#define UARTE_ENABLE LNN_FW_REG32(LNN_FW_UART_BASE + 0x500u)
#define UARTE_PSEL_RTS LNN_FW_REG32(LNN_FW_UART_BASE + 0x508u)
#define UARTE_PSEL_TXD LNN_FW_REG32(LNN_FW_UART_BASE + 0x50Cu)
#define UARTE_PSEL_CTS LNN_FW_REG32(LNN_FW_UART_BASE + 0x510u)
#define UARTE_PSEL_RXD LNN_FW_REG32(LNN_FW_UART_BASE + 0x514u)
#define UARTE_BAUDRATE LNN_FW_REG32(LNN_FW_UART_BASE + 0x524u)
#define UARTE_RXD_PTR LNN_FW_REG32(LNN_FW_UART_BASE + 0x534u)
#define UARTE_RXD_MAXCNT LNN_FW_REG32(LNN_FW_UART_BASE + 0x538u)
#define UARTE_TXD_PTR LNN_FW_REG32(LNN_FW_UART_BASE + 0x544u)
#define UARTE_TXD_MAXCNT LNN_FW_REG32(LNN_FW_UART_BASE + 0x548u)
#define UARTE_CONFIG LNN_FW_REG32(LNN_FW_UART_BASE + 0x56Cu)

#define ENABLE_UARTE 8u
#define SHORTS_ENDRX_STARTRX (1u << 5)
#define PSEL_DISCONNECTED 0xFFFFFFFFu
#define TX_CHUNK 64u

static volatile uint8_t rx_buffers[2];
static unsigned rx_current;
static volatile uint8_t tx_buffer[TX_CHUNK];

void lnn_fw_uart_init(void)
{
    UARTE_ENABLE = 0u;
    UARTE_PSEL_TXD = (uint32_t)LNN_FW_UART_TX_PIN;
    UARTE_PSEL_RXD = (uint32_t)LNN_FW_UART_RX_PIN;
    UARTE_PSEL_RTS = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS = PSEL_DISCONNECTED;
    UARTE_BAUDRATE = (uint32_t)LNN_FW_UART_BAUD_REG;
    UARTE_CONFIG = 0u;
    UARTE_ENABLE = ENABLE_UARTE;
    rx_current = 0u;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_buffers[0];
    UARTE_RXD_MAXCNT = 1u;
    UARTE_SHORTS = SHORTS_ENDRX_STARTRX;
    UARTE_ENDRX = 0u;
    UARTE_RXSTARTED = 0u;
    UARTE_STARTRX = 1u;
    while (UARTE_RXSTARTED == 0u) {
    }
    UARTE_RXSTARTED = 0u;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_buffers[1];
}

int lnn_fw_uart_read(uint8_t *byte)
{
    if (UARTE_ERROR != 0u) {
        UARTE_ERROR = 0u;
        UARTE_ERRORSRC = UARTE_ERRORSRC; /* write-one-to-clear */
    }
    if (UARTE_ENDRX == 0u) {
        return 0;
    }
    UARTE_ENDRX = 0u;
    *byte = rx_buffers[rx_current];
    /* The shortcut restarted reception into the other buffer; once it has latched that pointer, point
     * the transfer after next at the buffer just read. */
    while (UARTE_RXSTARTED == 0u) {
    }
    UARTE_RXSTARTED = 0u;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_buffers[rx_current];
    rx_current ^= 1u;
    return 1;
}

void lnn_fw_uart_write(const uint8_t *data, size_t len)
{
    while (len > 0u) {
        size_t chunk = len < TX_CHUNK ? len : TX_CHUNK;
        size_t i;
        for (i = 0; i < chunk; i++) {
            tx_buffer[i] = data[i];
        }
        UARTE_TXD_PTR = (uint32_t)(uintptr_t)tx_buffer;
        UARTE_TXD_MAXCNT = (uint32_t)chunk;
        UARTE_ENDTX = 0u;
        UARTE_STARTTX = 1u;
        while (UARTE_ENDTX == 0u) {
        }
        UARTE_ENDTX = 0u;
        data += chunk;
        len -= chunk;
    }
}
