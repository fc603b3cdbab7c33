/* lnn_ltc_q15_armv6m.h: the synapse loop of the fixed16 LTC step in Thumb-1 assembly, for ARMv6-M (Cortex-M0/M0+)
 * with GCC. Part of the lnn-edge runtime, included by lnn_ltc_q15.h only; do not edit.
 *
 * What it computes: for count synapses from *records (with their erev from *erevs, both advanced past them),
 * g = lnn_ltc_q15_conductance(r, pre, table, shift) and then S += erev g (LNN_LTC_ADD_PRODUCT), G += g, in order:
 * exactly the portable C loop of lnn_ltc_q15.h (with the ARMv6-M rounding branch of lnn_ltc_q15_conductance),
 * which -DLNN_NO_ASM builds instead and which the tests run against it in Unicorn, bit for bit. GCC 12 spills
 * most of that loop's values on Thumb-1's eight low registers (about 40 instructions a synapse, here 30).
 *
 * Registers: r0-r3 scratch, r4 the synapse record, r5 the end of the neuron's erev and r7 a negative byte offset
 * from it (counting up to 0 ends the loop), r6 the presynaptic values, r8/r9 the sums S and G, r10 the table,
 * r11 the rounding constant 2^(S_FRAC - 1) (callee-saved, so GCC may keep it across the division calls between
 * neurons). The shift amounts are compile-time constants of the model ("i" operands): shift + SIG_FS for the
 * segment, 32 - SIG_FS - shift and 32 - SIG_FS for the position, SIG_FS, S_FRAC and 32 - SIG_INDEX_BITS.
 */
#ifndef LNN_LTC_Q15_ARMV6M_H
#define LNN_LTC_Q15_ARMV6M_H

#define LNN_LTC_Q15_ASM_SYNAPSES 1

/* The loop; the operands are those of LNN_LTC_Q15_ARMV6M_SUMS below. */
#define LNN_LTC_Q15_ARMV6M_LOOP                                                                                    \
    ".syntax unified\n\t"           /* GCC passes Thumb-1 inline assembly in divided syntax */                  \
    "lsls   r7, r7, #1\n\t"                                                                                      \
    "adds   r5, r5, r7\n\t"         /* r5 = erev + count: the next neuron's start */                             \
    "rsbs   r7, r7, #0\n"           /* r7 = -2 count: the erev offset counts up to 0 */                          \
    "1:\n\t"                                                                                                     \
    "ldmia  r4!, {r0, r1}\n\t"      /* r0 = sigma | w << 16, r1 = c */                                           \
    "uxtb   r2, r1\n\t"             /* the source index (fixed16: 8 bits, lnn_edge.cells.ltc.quantize) */              \
    "lsls   r2, r2, #1\n\t"                                                                                      \
    "ldrsh  r2, [r6, r2]\n\t"       /* pre[src] */                                                               \
    "sxth   r3, r0\n\t"                                                                                          \
    "muls   r3, r2, r3\n\t"                                                                                      \
    "adds   r3, r3, r1\n\t"         /* p = sigma pre[src] + c */                                                 \
    "asrs   r1, r3, %[seg]\n\t"     /* segment: p >> (shift + SIG_FS) */                                        \
    "cmp    r1, %[last]\n\t"                                                                                     \
    "bhi    3f\n"                   /* below 0 or above the last segment: clamp */                               \
    "2:\n\t"                                                                                                     \
    "lsls   r1, r1, #2\n\t"                                                                                      \
    "add    r1, r10\n\t"                                                                                         \
    "ldr    r1, [r1]\n\t"           /* pair = T | (T' - T) << 16 */                                              \
    "lsls   r3, r3, %[up]\n\t"                                                                                   \
    "lsrs   r3, r3, %[down]\n\t"    /* position (p >> shift) & SIG_POS_MASK */                                   \
    "asrs   r2, r1, #16\n\t"                                                                                     \
    "muls   r3, r2, r3\n\t"                                                                                      \
    "asrs   r3, r3, %[fs]\n\t"                                                                                   \
    "uxth   r1, r1\n\t"                                                                                          \
    "adds   r3, r3, r1\n\t"         /* sigmoid */                                                                \
    "asrs   r0, r0, #16\n\t"                                                                                     \
    "muls   r0, r3, r0\n\t"                                                                                      \
    "add    r0, r11\n\t"                                                                                         \
    "asrs   r0, r0, %[sfrac]\n\t"   /* g = (w sigmoid + 2^(S_FRAC - 1)) >> S_FRAC */                             \
    "add    r9, r0\n\t"             /* G += g */                                                                 \
    "ldrsh  r2, [r5, r7]\n\t"                                                                                    \
    "muls   r2, r0, r2\n\t"                                                                                      \
    "add    r8, r2\n\t"             /* S += erev g */                                                            \
    "adds   r7, #2\n\t"                                                                                          \
    "bne    1b\n\t"                                                                                              \
    "b      4f\n"                                                                                                \
    "3:\n\t"                        /* p < 0: segment 0; else the last one (the end segments are flat) */        \
    "asrs   r1, r3, #31\n\t"                                                                                     \
    "mvns   r1, r1\n\t"                                                                                          \
    "lsrs   r1, r1, %[clamp]\n\t"                                                                                \
    "b      2b\n"                                                                                                \
    "4:\n\t"                                                                                                     \
    ".syntax divided\n"

/* The body of a sums function for one shift (LNN_LTC_S_Z_SHIFT or LNN_LTC_Z_SHIFT); skip_empty: return at once
 * when count <= 0 (sensory synapses: a neuron may have none; a wired neuron always has internal ones). */
#define LNN_LTC_Q15_ARMV6M_SUMS(shift, skip_empty)                                                                 \
    register const lnn_ltc_q15_syn_t *r __asm__("r4") = *records;                                                \
    register const int16_t *e __asm__("r5") = *erevs;                                                            \
    register const int16_t *v __asm__("r6") = pre;                                                               \
    register int32_t k __asm__("r7") = count;                                                                    \
    register int32_t s __asm__("r8") = *sum_s;                                                                   \
    register int32_t g __asm__("r9") = *sum_g;                                                                   \
    register const uint32_t *t __asm__("r10") = table;                                                           \
    register int32_t half __asm__("r11") = 1 << (LNN_LTC_S_FRAC - 1);                                            \
    if ((skip_empty) && count <= 0) {                                                                            \
        return;                                                                                                  \
    }                                                                                                            \
    __asm__ volatile(LNN_LTC_Q15_ARMV6M_LOOP                                                                     \
                     : "+r"(r), "+r"(e), "+r"(k), "+r"(s), "+r"(g) /* each pinned to its register above */       \
                     : "r"(v), "r"(t), "r"(half), [seg] "i"((shift) + LNN_LTC_SIG_FS),                             \
                       [last] "i"(LNN_LTC_SIG_SEGMENTS - 1), [up] "i"(32 - LNN_LTC_SIG_FS - (shift)),             \
                       [down] "i"(32 - LNN_LTC_SIG_FS), [fs] "i"(LNN_LTC_SIG_FS), [sfrac] "i"(LNN_LTC_S_FRAC),   \
                       [clamp] "i"(32 - LNN_LTC_SIG_INDEX_BITS)                                                  \
                     : "r0", "r1", "r2", "r3", "cc", "memory");                                                  \
    *records = r;                                                                                                \
    *erevs = e;                                                                                                  \
    *sum_s = s;                                                                                                  \
    *sum_g = g

static inline void lnn_ltc_q15_sensory_sums(const lnn_ltc_q15_syn_t **records, const int16_t **erevs, int count,
                                            const int16_t *pre, const uint32_t *table, int32_t *sum_s,
                                            int32_t *sum_g)
{
    LNN_LTC_Q15_ARMV6M_SUMS(LNN_LTC_S_Z_SHIFT, 1);
}

static inline void lnn_ltc_q15_internal_sums(const lnn_ltc_q15_syn_t **records, const int16_t **erevs, int count,
                                             const int16_t *pre, const uint32_t *table, int32_t *sum_s,
                                             int32_t *sum_g)
{
    LNN_LTC_Q15_ARMV6M_SUMS(LNN_LTC_Z_SHIFT, 0);
}

#endif /* LNN_LTC_Q15_ARMV6M_H */
