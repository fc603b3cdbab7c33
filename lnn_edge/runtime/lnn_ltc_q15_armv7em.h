/* lnn_ltc_q15_armv7em.h: the synapse loop of the fixed16 LTC step in Thumb-2 DSP assembly, for ARMv7E-M and
 * ARMv8-M Mainline with the DSP extension (Cortex-M4, M7, M33) with GCC, optimised builds. Part of the lnn-edge
 * runtime, included by lnn_ltc_q15.h only (when the model's shifts fit the encodings and its source indices 8
 * bits: LNN_LTC_ASM_ARMV7EM_FITS, and the interpolation weight fits SMLAWT: LNN_LTC_SIGMOID_SMLAWT); do not edit.
 *
 * What it computes: for count synapses from *records (with their erev from *erevs, both advanced past them),
 * g = lnn_ltc_q15_conductance(r, pre, table, shift) with LNN_LTC_SIGMOID_SMLAWT, then S += erev g, G += g, in
 * order: exactly the portable C loop of lnn_ltc_q15.h, which -DLNN_NO_ASM builds instead and which the tests run
 * against it in Unicorn, bit for bit. 15 instructions a synapse; GCC 12 compiles the C loop to 16 or 17,
 * depending on whether its register allocator keeps the rounding constant in a register, which changes from model
 * to model and core to core. Registers are GCC's choice (a frame pointer may hold r7): three scratch, the record,
 * erev and presynaptic pointers, the count, the table, the weight mask, the rounding constant and the sums S and
 * G. Unoptimised builds (-O0) take the C loop: GCC cannot find twelve registers for the operands there.
 * Immediates are compile-time constants of the model ("i" operands): SIG_INDEX_BITS, shift + SIG_FS, S_FRAC
 * and the weight's shift |shift - (16 - SIG_FS)|, whose direction the preprocessor picks.
 */
#ifndef LNN_LTC_Q15_ARMV7EM_H
#define LNN_LTC_Q15_ARMV7EM_H

#define LNN_LTC_Q15_ASM_SYNAPSES 1

/* lnn_ltc_q15_weight_x16(p, shift) in one AND with a shifted operand: the direction and amount of the shift. */
#define LNN_LTC_Q15_W_RIGHT(shift) ((shift) - (16 - LNN_LTC_SIG_FS))
#if LNN_LTC_Q15_W_RIGHT(LNN_LTC_S_Z_SHIFT) > 0
#define LNN_LTC_Q15_S_WEIGHT "and    %[p], %[mask], %[p], lsr %[w]\n\t"
#define LNN_LTC_Q15_S_W LNN_LTC_Q15_W_RIGHT(LNN_LTC_S_Z_SHIFT)
#elif LNN_LTC_Q15_W_RIGHT(LNN_LTC_S_Z_SHIFT) < 0
#define LNN_LTC_Q15_S_WEIGHT "and    %[p], %[mask], %[p], lsl %[w]\n\t"
#define LNN_LTC_Q15_S_W (-LNN_LTC_Q15_W_RIGHT(LNN_LTC_S_Z_SHIFT))
#else
#define LNN_LTC_Q15_S_WEIGHT "and    %[p], %[mask], %[p]\n\t"
#define LNN_LTC_Q15_S_W 0
#endif
#if LNN_LTC_Q15_W_RIGHT(LNN_LTC_Z_SHIFT) > 0
#define LNN_LTC_Q15_I_WEIGHT "and    %[p], %[mask], %[p], lsr %[w]\n\t"
#define LNN_LTC_Q15_I_W LNN_LTC_Q15_W_RIGHT(LNN_LTC_Z_SHIFT)
#elif LNN_LTC_Q15_W_RIGHT(LNN_LTC_Z_SHIFT) < 0
#define LNN_LTC_Q15_I_WEIGHT "and    %[p], %[mask], %[p], lsl %[w]\n\t"
#define LNN_LTC_Q15_I_W (-LNN_LTC_Q15_W_RIGHT(LNN_LTC_Z_SHIFT))
#else
#define LNN_LTC_Q15_I_WEIGHT "and    %[p], %[mask], %[p]\n\t"
#define LNN_LTC_Q15_I_W 0
#endif

/* The body of a sums function for one shift; weight: the AND above; skip_empty as in lnn_ltc_q15_armv6m.h. */
#define LNN_LTC_Q15_ARMV7EM_SUMS(shift, weight, w_amount, skip_empty)                                              \
    const lnn_ltc_q15_syn_t *r = *records;                                                                       \
    const int16_t *e = *erevs;                                                                                   \
    int32_t k = count;                                                                                           \
    int32_t s = *sum_s;                                                                                          \
    int32_t g = *sum_g;                                                                                          \
    const int32_t mask = (int32_t)((uint32_t)LNN_LTC_SIG_POS_MASK << (16 - LNN_LTC_SIG_FS));                     \
    const int32_t half = 1 << (LNN_LTC_S_FRAC - 1);                                                              \
    int32_t sw, c, p;                                                                                            \
    if ((skip_empty) && count <= 0) {                                                                            \
        return;                                                                                                  \
    }                                                                                                            \
    __asm__ volatile(                                                                                            \
        "1:\n\t"                                                                                                 \
        "ldrd   %[sw], %[c], [%[r]], #8\n\t"        /* sw = sigma | w << 16, c */                                \
        "uxtb   %[p], %[c]\n\t"                     /* the source index (fixed16: 8 bits) */                     \
        "ldrsh  %[p], [%[v], %[p], lsl #1]\n\t"     /* pre[src] */                                               \
        "smlabb %[p], %[sw], %[p], %[c]\n\t"        /* p = sigma pre[src] + c */                                 \
        "usat   %[c], %[bits], %[p], asr %[seg]\n\t" /* the segment, clamped */                                 \
        "ldr    %[c], [%[t], %[c], lsl #2]\n\t"     /* pair = T | (T' - T) << 16 */                              \
        weight                                      /* lnn_ltc_q15_weight_x16(p, shift) */                       \
        "smlawt %[c], %[p], %[c], %[c]\n\t"         /* sigmoid, in the low half */                               \
        "smlatb %[sw], %[sw], %[c], %[half]\n\t"                                                                 \
        "ldrsh  %[c], [%[e]], #2\n\t"               /* erev */                                                   \
        "asrs   %[sw], %[sw], %[sfrac]\n\t"         /* g = (w sigmoid + 2^(S_FRAC - 1)) >> S_FRAC */             \
        "add    %[g], %[g], %[sw]\n\t"              /* G += g */                                                 \
        "smlabb %[s], %[c], %[sw], %[s]\n\t"        /* S += erev g */                                            \
        "subs   %[k], %[k], #1\n\t"                                                                              \
        "bne    1b\n\t"                                                                                          \
        : [r] "+r"(r), [e] "+r"(e), [k] "+r"(k), [s] "+r"(s), [g] "+r"(g), [sw] "=&r"(sw), [c] "=&r"(c),         \
          [p] "=&r"(p)                                                                                           \
        : [v] "r"(pre), [t] "r"(table), [mask] "r"(mask), [half] "r"(half), [bits] "i"(LNN_LTC_SIG_INDEX_BITS),  \
          [seg] "i"((shift) + LNN_LTC_SIG_FS), [w] "i"(w_amount), [sfrac] "i"(LNN_LTC_S_FRAC)                    \
        : "cc", "memory");                                                                                       \
    *records = r;                                                                                                \
    *erevs = e;                                                                                                  \
    *sum_s = s;                                                                                                  \
    *sum_g = g

static inline void lnn_ltc_q15_sensory_sums(const lnn_ltc_q15_syn_t **records, const int16_t **erevs, int count,
                                            const int16_t *pre, const uint32_t *table, int32_t *sum_s,
                                            int32_t *sum_g)
{
    LNN_LTC_Q15_ARMV7EM_SUMS(LNN_LTC_S_Z_SHIFT, LNN_LTC_Q15_S_WEIGHT, LNN_LTC_Q15_S_W, 1);
}

static inline void lnn_ltc_q15_internal_sums(const lnn_ltc_q15_syn_t **records, const int16_t **erevs, int count,
                                             const int16_t *pre, const uint32_t *table, int32_t *sum_s,
                                             int32_t *sum_g)
{
    LNN_LTC_Q15_ARMV7EM_SUMS(LNN_LTC_Z_SHIFT, LNN_LTC_Q15_I_WEIGHT, LNN_LTC_Q15_I_W, 0);
}

#endif /* LNN_LTC_Q15_ARMV7EM_H */
