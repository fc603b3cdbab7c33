/* lnn_fw_uart_stm32_usart.c: STM32 USART, the F1/F2/F4 register layout (the same IP block; QEMU's
 * netduinoplus2 and stm32vldiscovery model it).
 *
 * Registers: SR +0x00 (bit7 TXE, bit5 RXNE, bit3 ORE), DR +0x04, BRR +0x08, CR1 +0x0C (bit13 UE, bit3 TE,
 * bit2 RE). The peripheral clock and the pins are enabled by the board's set-up writes before this runs.
 * BRR = f_PCLK / baud with 16x oversampling (mantissa and fraction in one rounded division).
 */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

#define USART_SR LNN_FW_REG32(LNN_FW_UART_BASE + 0x00u)
#define USART_DR LNN_FW_REG32(LNN_FW_UART_BASE + 0x04u)
#define USART_BRR LNN_FW_REG32(LNN_FW_UART_BASE + 0x08u)
#define USART_CR1 LNN_FW_REG32(LNN_FW_UART_BASE + 0x0Cu)

#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_UE (1u << 13)

#ifndef LNN_FW_UART_CLOCK_HZ
#define LNN_FW_UART_CLOCK_HZ LNN_FW_CLOCK_HZ
#endif

void lnn_fw_uart_init(void)
{
    uint32_t baud = (uint32_t)LNN_FW_UART_BAUD;
    USART_CR1 = 0u;
    USART_BRR = ((uint32_t)LNN_FW_UART_CLOCK_HZ + baud / 2u) / baud;
    USART_CR1 = CR1_UE | CR1_TE | CR1_RE;
}

int lnn_fw_uart_read(uint8_t *byte)
{
    /* Reading SR then DR also clears an overrun: the lost byte shows up as a CRC error and the host
     * retries. */
    if ((USART_SR & SR_RXNE) == 0u) {
        return 0;
    }
    *byte = (uint8_t)(USART_DR & 0xFFu);
    return 1;
}

void lnn_fw_uart_write(const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        while ((USART_SR & SR_TXE) == 0u) {
        }
        USART_DR = data[i];
    }
}
