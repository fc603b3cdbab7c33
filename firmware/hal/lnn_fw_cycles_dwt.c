/* lnn_fw_cycles_dwt.c: cycle counts from the DWT cycle counter (CYCCNT) of M3/M4/M7/M33 hardware.
 *
 * DEMCR 0xE000EDFC bit24 TRCENA powers the DWT; DWT_CTRL 0xE0001000 bit0 CYCCNTENA starts CYCCNT
 * (0xE0001004). The Cortex-M7's DWT is locked until 0xC5ACCE55 is written to its lock access register
 * (0xE0001FB0); the write is harmless where there is no lock. SysTick is armed as well (it is what wakes
 * QEMU's UART models and costs nothing on hardware).
 */
#include "lnn_fw_hal.h"

#define DEMCR LNN_FW_REG32(0xE000EDFCu)
#define DWT_CTRL LNN_FW_REG32(0xE0001000u)
#define DWT_CYCCNT LNN_FW_REG32(0xE0001004u)
#define DWT_LAR LNN_FW_REG32(0xE0001FB0u)

#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_CYCCNTENA 1u
#define DWT_UNLOCK 0xC5ACCE55u

void lnn_fw_cycles_init(void)
{
    lnn_fw_systick_start();
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = DWT_UNLOCK;
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}

uint32_t lnn_fw_cycles_now(void)
{
    return DWT_CYCCNT;
}
