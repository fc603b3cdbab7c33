/* lnn_fw_riscv_reset.S: the RISC-V reset entry, the trap vector and the semihosting exit, in assembly because
 * they run before (or outside) C.
 *
 * The linker script (lnn_fw_riscv.ld.in) puts lnn_fw_reset_handler first in flash: the boot ROM (QEMU
 * sifive_e's mask ROM, the FE310's, the GD32VF103's boot alias) jumps to the start of the image. It sets the
 * stack pointer and the global pointer, points mtvec at the trap vector (direct mode), and calls
 * lnn_fw_c_start (lnn_fw_riscv_startup.c), which initialises memory and calls main. The firmware enables
 * no interrupt: every trap is an exception (illegal instruction, misaligned or faulting access, ebreak) and
 * ends in lnn_fw_riscv_trap, which stops the board with a status.
 */
    .section .text.lnn_fw_reset_handler, "ax", @progbits
    .global lnn_fw_reset_handler
    .type lnn_fw_reset_handler, @function
lnn_fw_reset_handler:
    .option push
    .option norelax /* gp is not set yet: the first load of gp must not be relaxed to a gp-relative one */
    la gp, __global_pointer$
    .option pop
    la sp, _estack
    la t0, lnn_fw_trap_vector
    csrw mtvec, t0
    call lnn_fw_c_start
1:
    j 1b
    .size lnn_fw_reset_handler, . - lnn_fw_reset_handler

/* mtvec in direct mode needs a 4-byte aligned base. The trap's cause and address go to C as arguments. */
    .section .text.lnn_fw_trap_vector, "ax", @progbits
    .global lnn_fw_trap_vector
    .type lnn_fw_trap_vector, @function
    .balign 4
lnn_fw_trap_vector:
    csrr a0, mcause
    csrr a1, mepc
    la sp, _estack /* a trap may come from a broken stack: restart it, the firmware stops anyway */
    call lnn_fw_riscv_trap
2:
    j 2b
    .size lnn_fw_trap_vector, . - lnn_fw_trap_vector

/* void lnn_fw_semihost_exit(uint32_t status): SYS_EXIT_EXTENDED (a0 = 0x20) with a1 pointing at
 * {ADP_Stopped_ApplicationExit (0x20026), status}; QEMU with -semihosting-config enable=on exits with that
 * status. RISC-V's semihosting call is the three-instruction sequence slli/ebreak/srai, uncompressed and
 * within one page (hence norvc and the alignment). Without a semihosting host the ebreak traps, so only
 * emulated boards call it. */
    .section .text.lnn_fw_semihost_exit, "ax", @progbits
    .global lnn_fw_semihost_exit
    .type lnn_fw_semihost_exit, @function
    .balign 16
lnn_fw_semihost_exit:
    addi sp, sp, -16
    li t0, 0x20026
    sw t0, 0(sp)
    sw a0, 4(sp)
    li a0, 0x20
    mv a1, sp
    .option push
    .option norvc
    .balign 16
    slli zero, zero, 0x1f
    ebreak
    srai zero, zero, 7
    .option pop
3:
    j 3b
    .size lnn_fw_semihost_exit, . - lnn_fw_semihost_exit
