/* lnn_fw_reset.S: the reset handler and the semihosting exit, in assembly because they run before (or
 * outside) C.
 *
 * On cores with an FPU, CP10/CP11 are enabled (CPACR |= 0xF << 20) before any C runs: GCC may use FP
 * registers anywhere, even in the .data/.bss loops. On ARMv8-M mainline the main stack limit register is
 * set to the bottom of the stack so an overflow faults instead of corrupting data. Then lnn_fw_c_start
 * (lnn_fw_startup.c) initialises memory and calls main.
 */
    .syntax unified
    .thumb

    .section .text.lnn_fw_reset_handler, "ax", %progbits
    .global lnn_fw_reset_handler
    .type lnn_fw_reset_handler, %function
    .thumb_func
lnn_fw_reset_handler:
    ldr r0, =_estack
    mov sp, r0
#if defined(__ARM_ARCH_8M_MAIN__)
    ldr r0, =_sstack
    msr msplim, r0
#endif
#if defined(__ARM_FP)
    ldr r0, =0xE000ED88
    ldr r1, [r0]
    ldr r2, =0x00F00000
    orrs r1, r1, r2
    str r1, [r0]
    dsb
    isb
#endif
    bl lnn_fw_c_start
1:
    b 1b
    .size lnn_fw_reset_handler, . - lnn_fw_reset_handler

/* void lnn_fw_semihost_exit(uint32_t status): SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit
 * (0x20026) and status; QEMU with -semihosting-config enable=on exits with that status. Without a
 * semihosting host the bkpt faults, so only emulated boards call it. */
    .section .text.lnn_fw_semihost_exit, "ax", %progbits
    .global lnn_fw_semihost_exit
    .type lnn_fw_semihost_exit, %function
    .thumb_func
lnn_fw_semihost_exit:
    sub sp, #8
    ldr r1, =0x20026
    str r1, [sp]
    str r0, [sp, #4]
    movs r0, #0x20
    mov r1, sp
    bkpt 0xAB
2:
    b 2b
    .size lnn_fw_semihost_exit, . - lnn_fw_semihost_exit
    .ltorg
