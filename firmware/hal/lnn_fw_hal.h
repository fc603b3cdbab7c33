/* lnn_fw_hal.h: the thin hardware layer under the portable application.
 *
 * One implementation of each group is linked per board (lnn-edge build picks the files from the board's
 * TOML): board set-up (clock gates and pin muxing as register writes), one UART driver, one cycle
 * counter. Everything is polled: the only interrupt is SysTick, which extends its 24-bit counter.
 */
#ifndef LNN_FW_HAL_H
#define LNN_FW_HAL_H

#include <stddef.h>
#include <stdint.h>

/* Memory-mapped register access. */
#define LNN_FW_REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* Apply the board's set-up register writes (peripheral clocks, UART pins); see the [[setup]] tables of the board files. */
void lnn_fw_board_setup(void);

/* UART: 8N1 at the board's baud rate, polled. */
void lnn_fw_uart_init(void);
/* Returns 1 and stores a byte if one was waiting, else 0 (never blocks). */
int lnn_fw_uart_read(uint8_t *byte);
/* Sends len bytes, waiting while the transmitter is busy. */
void lnn_fw_uart_write(const uint8_t *data, size_t len);

/* SysTick as a free-running counter, extended to 32 bits across its 24-bit wraps by its interrupt. Armed
 * right after the UART: in QEMU 7.2 an armed timer is also what makes UART reception prompt. */
void lnn_fw_systick_start(void);
uint32_t lnn_fw_systick_now(void);
void lnn_fw_systick_handler(void);

/* The cycle counter the board names (DWT CYCCNT or SysTick). lnn_fw_cycles_init arms SysTick too. */
void lnn_fw_cycles_init(void);
uint32_t lnn_fw_cycles_now(void);

/* Stop after a fault: under QEMU (semihosting) exit with status, on hardware spin. */
void lnn_fw_fatal(uint32_t status);
void lnn_fw_semihost_exit(uint32_t status);

#endif /* LNN_FW_HAL_H */
