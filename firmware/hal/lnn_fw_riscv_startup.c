/* lnn_fw_riscv_startup.c: memory initialisation and the trap handler of the RISC-V firmware (the Cortex-M
 * one is lnn_fw_startup.c).
 *
 * lnn_fw_reset_handler (lnn_fw_riscv_reset.S) sets sp, gp and mtvec and calls lnn_fw_c_start. Every trap
 * ends in lnn_fw_fatal: under QEMU that exits the emulator with a status, so a crash shows up at once on the
 * host as a closed connection instead of a time-out.
 */
#include <stdint.h>

#include "lnn_fw_config.h"
#include "lnn_fw_crt.h"
#include "lnn_fw_hal.h"

void lnn_fw_c_start(void);
void lnn_fw_riscv_trap(uint32_t mcause, uint32_t mepc);
int main(void);

/* Exit statuses of lnn_fw_fatal (QEMU's exit code), as on Cortex-M: an exception is the HardFault's 0x82. */
#define FATAL_INTERRUPT 0x81u
#define FATAL_EXCEPTION 0x82u

#define MCAUSE_INTERRUPT (1u << 31)

void lnn_fw_riscv_trap(uint32_t mcause, uint32_t mepc)
{
    (void)mepc; /* kept in a1 for a debugger: the faulting instruction */
    lnn_fw_fatal((mcause & MCAUSE_INTERRUPT) != 0u ? FATAL_INTERRUPT : FATAL_EXCEPTION);
}

void lnn_fw_fatal(uint32_t status)
{
    lnn_fw_crt_halt(status);
}

void lnn_fw_c_start(void)
{
    lnn_fw_crt_init_memory();
    (void)main();
    lnn_fw_fatal(LNN_FW_FATAL_RETURNED);
}
