/* lnn_fw_cycles_mcycle.c: cycle counts from the RISC-V mcycle CSR (its low 32 bits: differences of two
 * reads are exact modulo 2^32, which is all the protocol asks for).
 *
 * mcycle counts core clock cycles on hardware. QEMU 7.2 has no cycle model: with -icount its mcycle follows
 * the virtual clock, which -icount advances by 2^shift ns per instruction, so the counts are instructions
 * (times 2^shift) and deterministic. Cores with the priv-1.11 mcountinhibit CSR may reset with their counters
 * stopped (the GD32VF103's Bumblebee): such boards set -DLNN_FW_MCOUNTINHIBIT=1 to start them. QEMU's FE310
 * (priv 1.10) has no mcountinhibit, and writing it there would trap, so it is not written by default.
 *
 * The ESP32-C3 has no mcycle at all (reading it traps). Its boards set -DLNN_FW_ESP32C3_PCCR=1: the core's
 * machine performance counter then counts clock cycles instead (ESP32-C3 TRM, "Performance Counter": mpcer
 * 0x7E0 selects the event, bit 0 = cycles; mpcmr 0x7E1 bit 0 enables counting; mpccr 0x7E2 is the count).
 */
#include "lnn_fw_hal.h"

void lnn_fw_cycles_init(void)
{
#if defined(LNN_FW_MCOUNTINHIBIT)
    __asm__ volatile("csrw 0x320, zero"); /* mcountinhibit: mcycle (CY) and minstret (IR) counting */
#endif
#if defined(LNN_FW_ESP32C3_PCCR)
    __asm__ volatile("csrwi 0x7E0, 1"); /* mpcer: count clock cycles */
    __asm__ volatile("csrwi 0x7E1, 1"); /* mpcmr: counting on */
#endif
}

uint32_t lnn_fw_cycles_now(void)
{
    uint32_t cycles;
#if defined(LNN_FW_ESP32C3_PCCR)
    __asm__ volatile("csrr %0, 0x7E2" : "=r"(cycles)); /* mpccr */
#else
    __asm__ volatile("csrr %0, mcycle" : "=r"(cycles));
#endif
    return cycles;
}
