/* lnn_fw_cycles_mcycle.c: cycle counts from the RISC-V mcycle CSR (its low 32 bits: differences of two
 * reads are exact modulo 2^32, which is all the protocol asks for).
 *
 * mcycle counts core clock cycles on hardware. QEMU 7.2 has no cycle model: with -icount its mcycle follows
 * the virtual clock, which -icount advances by 2^shift ns per instruction, so the counts are instructions
 * (times 2^shift) and deterministic. Cores with the priv-1.11 mcountinhibit CSR may reset with their counters
 * stopped (the GD32VF103's Bumblebee): such boards set -DLNN_FW_MCOUNTINHIBIT=1 to start them. QEMU's FE310
 * (priv 1.10) has no mcountinhibit, and writing it there would trap, so it is not written by default.
 */
#include "lnn_fw_hal.h"

void lnn_fw_cycles_init(void)
{
#if defined(LNN_FW_MCOUNTINHIBIT)
    __asm__ volatile("csrw 0x320, zero"); /* mcountinhibit: mcycle (CY) and minstret (IR) counting */
#endif
}

uint32_t lnn_fw_cycles_now(void)
{
    uint32_t cycles;
    __asm__ volatile("csrr %0, mcycle" : "=r"(cycles));
    return cycles;
}
