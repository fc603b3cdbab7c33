/* lnn_fw_board_setup.c: the board's set-up as data: read-modify-write register operations from the
 * board's TOML ([[setup]] entries: addr, clear, set), applied in order before the UART starts.
 *
 * This keeps clock gating and pin muxing (e.g. STM32 RCC enables and GPIO alternate functions) out of the
 * drivers, so one USART driver serves every STM32 board. Boards without set-up (QEMU MPS2, micro:bit)
 * have an empty list.
 *
 * nRF52840 boards (cflags -DLNN_FW_NRF52840=1) also get three steps no register table can express, because
 * they read first: open the debug port as UICR asks, turn the instruction cache on, and start the crystal.
 */
#include "lnn_fw_config.h"
#include "lnn_fw_hal.h"

typedef struct {
    uint32_t addr;
    uint32_t clear;
    uint32_t set;
} lnn_fw_setup_write_t;

#if LNN_FW_SETUP_COUNT > 0
static const lnn_fw_setup_write_t setup_writes[LNN_FW_SETUP_COUNT] = LNN_FW_SETUP_WRITES;
#endif

#if defined(LNN_FW_NRF52840)
/* Register names and values as in Nordic's MDK (nrf52840.h, nrf52840_bitfields.h): base + struct offset. */
#define FICR_HW_PART LNN_FW_REG32(0x10000130u)       /* not in the PS: the MDK's errata checks read it */
#define FICR_HW_REVISION LNN_FW_REG32(0x10000134u)   /* idem */
#define UICR_APPROTECT LNN_FW_REG32(0x10001208u)     /* NRF_UICR->APPROTECT */
#define APPROTECT_DISABLE LNN_FW_REG32(0x40000558u)  /* NRF_APPROTECT->DISABLE */
#define CLOCK_TASKS_HFCLKSTART LNN_FW_REG32(0x40000000u)
#define CLOCK_TASKS_HFCLKSTOP LNN_FW_REG32(0x40000004u)
#define CLOCK_EVENTS_HFCLKSTARTED LNN_FW_REG32(0x40000100u)
#define NVMC_ICACHECNF LNN_FW_REG32(0x4001E540u)

#define FICR_HW_PART_NRF52840 0x08u
#define FICR_HW_REVISION_HARDENED_APPROTECT 0x05u /* build codes Fxx on (revision 3), per nrf52_erratas.h */
#define UICR_APPROTECT_PALL_MSK 0xFFu
#define UICR_APPROTECT_PALL_HWDISABLED 0x5Au
#define APPROTECT_DISABLE_SWDISABLE 0x5Au
#define NVMC_ICACHECNF_CACHEEN (1u << 0)

/* Polls of EVENTS_HFCLKSTARTED before giving up on the crystal. Each poll is a peripheral read, a compare and
 * a branch (4+ cycles at 64 MHz), so this waits at least ~6 ms: many times a working crystal's start-up. */
#define HFXO_START_POLLS 100000u

/* On hardened silicon the debug port locks at every reset unless the firmware opens it (what the MDK's
 * nrf52_handle_approtect does): only when UICR.APPROTECT says HwDisabled, so a part whose UICR asks for
 * protection keeps it. Older silicon has no APPROTECT.DISABLE register: leave it alone. */
static void nrf52840_open_debug_port(void)
{
    if (FICR_HW_PART != FICR_HW_PART_NRF52840 || FICR_HW_REVISION < FICR_HW_REVISION_HARDENED_APPROTECT) {
        return;
    }
    if ((UICR_APPROTECT & UICR_APPROTECT_PALL_MSK) == UICR_APPROTECT_PALL_HWDISABLED) {
        APPROTECT_DISABLE = APPROTECT_DISABLE_SWDISABLE;
    }
}

/* The cache is off after reset; cycle counts are measured with it on (CACHEPROFEN, the hit counters, off). */
static void nrf52840_enable_icache(void)
{
    NVMC_ICACHECNF |= NVMC_ICACHECNF_CACHEEN;
}

/* Nordic's UARTE chapter asks for the crystal's accuracy (the internal 64 MHz RC, HFINT, is far coarser). A board
 * without a working crystal must still boot: after a bounded wait the request is withdrawn and HFINT stays. */
static void nrf52840_start_hfxo(void)
{
    uint32_t polls;
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    for (polls = 0u; polls < HFXO_START_POLLS; polls++) {
        if (CLOCK_EVENTS_HFCLKSTARTED != 0u) {
            return;
        }
    }
    CLOCK_TASKS_HFCLKSTOP = 1u;
}
#endif

void lnn_fw_board_setup(void)
{
#if defined(LNN_FW_NRF52840)
    nrf52840_open_debug_port(); /* first, so a board that hangs later can still be reflashed */
    nrf52840_enable_icache();
    nrf52840_start_hfxo();
#endif
#if LNN_FW_SETUP_COUNT > 0
    unsigned i;
    for (i = 0; i < (unsigned)LNN_FW_SETUP_COUNT; i++) {
        uint32_t value = LNN_FW_REG32(setup_writes[i].addr);
        LNN_FW_REG32(setup_writes[i].addr) = (value & ~setup_writes[i].clear) | setup_writes[i].set;
    }
#endif
}
