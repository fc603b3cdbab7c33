/* lnn_fw_cycles_systick.c: cycle counts from SysTick (M0/M0+, which have no DWT cycle counter, and every
 * QEMU machine, where the DWT is not modelled and reads 0). */
#include "lnn_fw_hal.h"

void lnn_fw_cycles_init(void)
{
    lnn_fw_systick_start();
}

uint32_t lnn_fw_cycles_now(void)
{
    return lnn_fw_systick_now();
}
