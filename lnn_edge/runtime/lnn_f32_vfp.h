/* lnn_f32_vfp.h: the float32 multiply-add in VFP assembly, for GCC on a Thumb-2 core with a single-precision FPU
 * (Cortex-M4F: ARMv7E-M with FPv4-SP; Cortex-M7 and M33 with FPv5). Part of the lnn-edge runtime; included by
 * lnn_f32.h. Do not edit.
 *
 * lnn_mla_f32(acc, a, b) computes acc + a * b with two roundings, the product and then the sum: exactly the
 * portable C expression ((acc) + (a) * (b)) of lnn_f32.h compiled with -ffp-contract=off. GCC never emits VMLA
 * itself, although VMLA rounds after the product and after the sum (it is not fused). The accumulator is the
 * first operand of the sum in both, so even NaN payloads agree. Defining LNN_NO_ASM selects the portable C.
 */
#ifndef LNN_F32_VFP_H
#define LNN_F32_VFP_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) && \
    !defined(LNN_NO_ASM)
#define LNN_VFP_ASM 1

static inline float lnn_mla_f32(float acc, float a, float b)
{
    __asm__("vmla.f32 %0, %1, %2" : "+t"(acc) : "t"(a), "t"(b));
    return acc;
}
#endif

#endif /* LNN_F32_VFP_H */
