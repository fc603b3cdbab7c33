/* lnn_fw_systick.c: SysTick as a free-running 32-bit counter.
 *
 * SysTick is a 24-bit down-counter on every Cortex-M core (ARMv6-M and later; QEMU models it on every
 * machine). It runs from the processor clock with the largest reload, and its interrupt counts wraps, so
 * lnn_fw_systick_now() returns ticks since start modulo 2^32. Under QEMU with -icount the ticks are
 * proportional to executed instructions, which makes them deterministic.
 * Registers: SYST_CSR 0xE000E010 (bit0 enable, bit1 interrupt, bit2 processor clock), SYST_RVR 0xE000E014,
 * SYST_CVR 0xE000E018; ICSR 0xE000ED04 bit26 PENDSTSET.
 */
#include "lnn_fw_hal.h"

#define SYST_CSR LNN_FW_REG32(0xE000E010u)
#define SYST_RVR LNN_FW_REG32(0xE000E014u)
#define SYST_CVR LNN_FW_REG32(0xE000E018u)
#define SCB_ICSR LNN_FW_REG32(0xE000ED04u)

#define RELOAD 0x00FFFFFFu
#define CSR_ENABLE_INT_CPU 0x7u
#define ICSR_PENDSTSET (1u << 26)

static volatile uint32_t wraps;

void lnn_fw_systick_handler(void)
{
    wraps++;
}

void lnn_fw_systick_start(void)
{
    wraps = 0u;
    SYST_RVR = RELOAD;
    SYST_CVR = 0u; /* any write clears the counter; it reloads on the next tick */
    SYST_CSR = CSR_ENABLE_INT_CPU;
}

uint32_t lnn_fw_systick_now(void)
{
    uint32_t count;
    uint32_t value;
    do {
        count = wraps;
        value = SYST_CVR;
    } while (count != wraps);
    /* A wrap whose interrupt is still pending: if the value was read after it (it is then high, just
     * reloaded), count it here. */
    if ((SCB_ICSR & ICSR_PENDSTSET) != 0u && value > (RELOAD >> 1)) {
        count++;
    }
    return count * (RELOAD + 1u) + (RELOAD - value);
}
