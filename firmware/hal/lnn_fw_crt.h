/* lnn_fw_crt.h: what the two start-ups share, the C run-time's memory initialisation and the final halt.
 *
 * Included by lnn_fw_startup.c (Cortex-M) and lnn_fw_riscv_startup.c (RISC-V), each of which adds its own
 * vectors and traps. Static inline rather than a shared .c file: that way each start-up compiles to the code it had
 * when the two were written out (a shared object file measured 8 to 32 B more flash per firmware).
 */
#ifndef LNN_FW_CRT_H
#define LNN_FW_CRT_H

#include <stdint.h>

#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

/* Exit status of lnn_fw_fatal when main returns, on both architectures. */
#define LNN_FW_FATAL_RETURNED 0x84u

/* From the linker script: .data's load address and bounds, and .bss's bounds (word aligned). */
extern uint32_t _sidata[];
extern uint32_t _sdata[];
extern uint32_t _edata[];
extern uint32_t _sbss[];
extern uint32_t _ebss[];

/* Copy .data from flash and zero .bss: before this, no C global holds its value. */
static inline void lnn_fw_crt_init_memory(void)
{
    uint32_t *src = _sidata;
    uint32_t *dst = _sdata;
    while (dst < _edata) {
        *dst++ = *src++;
    }
    for (dst = _sbss; dst < _ebss; dst++) {
        *dst = 0u;
    }
}

/* Stop for good: under QEMU (semihosting) exit the emulator with status, so that a crash reaches the host at once
 * as a closed connection instead of a time-out; on hardware spin. */
static inline void lnn_fw_crt_halt(uint32_t status)
{
#if LNN_FW_SEMIHOSTING
    lnn_fw_semihost_exit(status);
#else
    (void)status;
#endif
    for (;;) {
    }
}

#endif /* LNN_FW_CRT_H */
