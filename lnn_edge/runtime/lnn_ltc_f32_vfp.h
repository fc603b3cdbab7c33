/* lnn_ltc_f32_vfp.h: the synapse loop of the float32 LTC step in VFP assembly, for GCC on a Thumb-2 core with a
 * single-precision FPU (Cortex-M4F: ARMv7E-M with FPv4-SP; Cortex-M7 and M33 with FPv5): where lnn_f32_vfp.h
 * defines LNN_VFP_ASM. Part of the lnn-edge runtime, included by lnn_ltc_f32.h only; do not edit.
 *
 * What it computes: for count >= 1 synapses from *records and *sources (both advanced past them),
 * g = w / (1 + lnn_ltc_f32_exp2_fast(b + a pre[src])), then num = num + g erev (one VMLA, two roundings) and
 * den = den + g, in order: exactly the portable C loop lnn_ltc_f32_synapse_sums of lnn_ltc_f32.h, which
 * -DLNN_NO_ASM builds instead and which the tests run against it in Unicorn, bit for bit. GCC takes 31
 * instructions a synapse, this 25 (one VLDM for the record, VMLA for each multiply-add). s0-s3 receive a, b, w,
 * erev and are then reused: t in s1, c0 + c1 r in s0, 1 + 2^t in s1, g in s2. Immediates ("i" operands): the
 * span, mask and shift of exp2_fast; the index load (LDRB or LDRH) follows LNN_LTC_INDEX_BYTES.
 */
#ifndef LNN_LTC_F32_VFP_H
#define LNN_LTC_F32_VFP_H

#if LNN_LTC_INDEX_BYTES == 1
#define LNN_LTC_F32_LOAD_INDEX "ldrb     %[d], [%[p]], #1\n\t"
#else
#define LNN_LTC_F32_LOAD_INDEX "ldrh     %[d], [%[p]], #2\n\t"
#endif

static inline void lnn_ltc_f32_synapse_sums(const lnn_ltc_f32_syn_t **records, const LNN_LTC_INDEX_T **sources,
                                            int count, const float *pre, float *num, float *den)
{
    const lnn_ltc_f32_syn_t *r = *records;
    const LNN_LTC_INDEX_T *p = *sources;
    float sum_n = *num;
    float sum_d = *den;
    uint32_t d;
    uint32_t u;
    float f;
    __asm__ volatile(
        "1:\n\t"
        LNN_LTC_F32_LOAD_INDEX
        "add      %[d], %[pre], %[d], lsl #2\n\t"
        "vldr     %[f], [%[d]]\n\t"             /* pre[src] */
        "vldmia   %[r]!, {s0-s3}\n\t"
        "vmla.f32 s1, s0, %[f]\n\t"             /* t = b + a pre */
        "vadd.f32 %[f], s1, %[magic]\n\t"       /* y = t + MAGIC */
        "vmov     %[u], %[f]\n\t"
        "add      %[d], %[u], %[neg_low]\n\t"
        "cmp      %[d], %[span]\n\t"
        "bhi      3f\n"                          /* |t| > 125 or NaN */
        "2:\n\t"
        "and      %[d], %[u], %[mask]\n\t"
        "ldr      %[d], [%[table], %[d], lsl #2]\n\t"
        "add      %[d], %[d], %[u], lsl %[shift]\n\t" /* bits of 2^(n/256) */
        "vsub.f32 %[f], %[f], %[magic]\n\t"
        "vsub.f32 %[f], s1, %[f]\n\t"           /* r = t - n/256 */
        "vmov.f32 s0, %[c0]\n\t"
        "vmla.f32 s0, %[f], %[c1]\n\t"          /* c0 + c1 r */
        "vmov     %[f], %[d]\n\t"
        "vmov.f32 s1, #1.0\n\t"
        "vmla.f32 s1, %[f], s0\n\t"             /* 1 + 2^t */
        "vdiv.f32 s2, s2, s1\n\t"               /* g */
        "vmla.f32 %[n], s2, s3\n\t"             /* num + g erev */
        "vadd.f32 %[dn], %[dn], s2\n\t"
        "subs     %[k], %[k], #1\n\t"
        "bne      1b\n\t"
        "b        4f\n"
        "3:\n\t"                                /* t = t < 0 ? -clamp : clamp (NaN: +clamp) */
        "vcmp.f32 s1, #0\n\t"
        "vmrs     APSR_nzcv, fpscr\n\t"
        "vmov.f32 s1, %[clamp]\n\t"
        "it       mi\n\t"
        "vnegmi.f32 s1, s1\n\t"
        "vadd.f32 %[f], s1, %[magic]\n\t"
        "vmov     %[u], %[f]\n\t"
        "b        2b\n"
        "4:\n"
        : [r] "+r"(r), [p] "+r"(p), [k] "+r"(count), [n] "+t"(sum_n), [dn] "+t"(sum_d), [d] "=&r"(d), [u] "=&r"(u),
          [f] "=&t"(f)
        : [pre] "r"(pre), [table] "r"(lnn_ltc_f32_exp2_table), [neg_low] "r"(0u - LNN_F32_EXP2_LOW),
          [magic] "t"(LNN_F32_EXP2_MAGIC), [c0] "t"(LNN_F32_EXP2_C0), [c1] "t"(LNN_F32_EXP2_C1),
          [clamp] "t"(LNN_F32_EXP2_CLAMP), [span] "i"(LNN_F32_EXP2_SPAN), [mask] "i"(LNN_F32_EXP2_MASK),
          [shift] "i"(LNN_F32_EXP2_SHIFT)
        : "s0", "s1", "s2", "s3", "cc", "memory");
    *records = r;
    *sources = p;
    *num = sum_n;
    *den = sum_d;
}

#endif /* LNN_LTC_F32_VFP_H */
