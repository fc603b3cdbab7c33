/* lnn_fw_startup.c: the vector table, memory initialisation and the default exception handlers.
 *
 * The table holds the 16 system entries only: the firmware polls its peripherals and enables no device
 * interrupt. Entry 0 is the initial stack pointer (_estack, from the linker script: the stack sits at the
 * bottom of RAM, below .data and .bss), entry 1 the reset handler (lnn_fw_reset.S). Every fault ends in
 * lnn_fw_fatal: under QEMU that exits the emulator with a status, so a crash shows up at once on the host
 * as a closed connection instead of a time-out.
 */
#include <stdint.h>

#include "lnn_fw_config.h"
#include "lnn_fw_crt.h"
#include "lnn_fw_hal.h"

extern uint32_t _estack[];

void lnn_fw_reset_handler(void);
void lnn_fw_c_start(void);
int main(void);

/* Exit statuses of lnn_fw_fatal (QEMU's exit code). */
#define FATAL_NMI 0x81u
#define FATAL_HARDFAULT 0x82u
#define FATAL_OTHER 0x83u

static void nmi_handler(void)
{
    lnn_fw_fatal(FATAL_NMI);
}

static void hardfault_handler(void)
{
    lnn_fw_fatal(FATAL_HARDFAULT);
}

static void other_handler(void)
{
    lnn_fw_fatal(FATAL_OTHER);
}

/* An entry is either the initial stack pointer or a handler: a union keeps this ISO C (no casts between
 * object and function pointers). */
typedef union {
    void (*handler)(void);
    uint32_t *stack_top;
} lnn_fw_vector_t;

__attribute__((section(".isr_vector"), used)) const lnn_fw_vector_t lnn_fw_vectors[16] = {
    {.stack_top = _estack},
    {.handler = lnn_fw_reset_handler},
    {.handler = nmi_handler},
    {.handler = hardfault_handler},
    {.handler = other_handler}, /* MemManage (v7-M/v8-M) */
    {.handler = other_handler}, /* BusFault */
    {.handler = other_handler}, /* UsageFault */
    {.handler = other_handler}, /* SecureFault (v8-M) */
    {.handler = 0},
    {.handler = 0},
    {.handler = 0},
    {.handler = other_handler}, /* SVCall */
    {.handler = other_handler}, /* DebugMonitor */
    {.handler = 0},
    {.handler = other_handler}, /* PendSV */
    {.handler = lnn_fw_systick_handler},
};

void lnn_fw_fatal(uint32_t status)
{
    lnn_fw_crt_halt(status);
}

void lnn_fw_c_start(void)
{
    lnn_fw_crt_init_memory();
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)
    /* VTOR exists from ARMv7-M on (not on the M0): point it at this table wherever the image sits. */
    LNN_FW_REG32(0xE000ED08u) = (uint32_t)(uintptr_t)lnn_fw_vectors;
#endif
    (void)main();
    lnn_fw_fatal(LNN_FW_FATAL_RETURNED);
}
