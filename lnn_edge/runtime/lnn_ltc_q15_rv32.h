/* lnn_ltc_q15_rv32.h: the synapse loop of the fixed16 LTC step in RV32 assembly (RV32I + M: RV32IMC, RV32IMAC),
 * with GCC. Part of the lnn-edge runtime, included by lnn_ltc_q15.h only; do not edit.
 *
 * What it computes: for count synapses from *records (with their erev from *erevs, both advanced past them),
 * g = lnn_ltc_q15_conductance(r, pre, table, shift) and then S += erev g (LNN_LTC_ADD_PRODUCT), G += g, in order:
 * exactly the portable C loop of lnn_ltc_q15.h, which -DLNN_NO_ASM builds instead and which the tests run against
 * it in Unicorn, bit for bit.
 *
 * Why assembly: RV32 has no halfword extraction from a register. GCC 12 compiles the C loop to 33 instructions a
 * synapse: each 16-bit field of a packed word (sigma and w of a record, T and T' - T of a sigmoid segment) costs a
 * shift pair or an AND with 0xFFFF after its word load, and the clamp's fix-up sits on the common path. Here each
 * field is one halfword load from its own address (RV32 is little-endian: the low half of a word comes first, so
 * sigma is at offset 0, w at 2, T at 0, T' - T at 2), and two synapses share an iteration's pointer increments and
 * branch: 27.5 instructions a synapse when the segment is in range, plus 2 (even count) or 5 (odd) a call (the
 * out-of-line clamps sit before the loop, so that its last branch falls through).
 *
 * Per synapse: lw c; lh sigma; the source's byte offset 2 src from c's low SRC_BITS bits (two shifts); lh pre;
 * p = sigma pre + c; segment p >> (shift + SIG_FS), clamped out of line (p < 0: 0, else the last segment: the
 * end segments are flat); lhu T, lh T' - T; sigmoid = T + ((T' - T) position >> SIG_FS) with position =
 * (p >> shift) & SIG_POS_MASK, as srli, slli, mulhsu, add: the two shifts leave position times 2^(32 - SIG_FS) (an
 * unsigned word), and the high word of its product with the signed slope is floor((T' - T) position / 2^SIG_FS),
 * the C's product and arithmetic shift exactly, in one instruction fewer; lh w; g = (w sigmoid + 2^(S_FRAC - 1))
 * >> S_FRAC; G += g; lh erev; S += erev g.
 * The loop ends when the erev pointer reaches the neuron's end. The shift amounts are compile-time constants of
 * the model ("i" operands); 2^(S_FRAC - 1) and the last segment are in registers (neither fits an immediate that
 * add / bgtu take). Registers are GCC's choice (operands below): r and e the record and erev pointers, end the
 * neuron's last erev + 1, v the presynaptic values, t the table, s and g the sums, a, b, c scratch.
 */
#ifndef LNN_LTC_Q15_RV32_H
#define LNN_LTC_Q15_RV32_H

#define LNN_LTC_Q15_ASM_SYNAPSES 1

/* One synapse: the record at r + rec, its erev at e + ev; clamp / back: the labels of its out-of-line clamp and of
 * the instruction after the clamp. */
#define LNN_LTC_Q15_RV32_SYNAPSE(rec, ev, clamp, back)                                                               \
    "lw     %[c], " #rec "+4(%[r])\n\t"  /* c */                                                                     \
    "lh     %[a], " #rec "(%[r])\n\t"    /* sigma */                                                                 \
    "slli   %[b], %[c], %[src_up]\n\t"                                                                               \
    "srli   %[b], %[b], %[src_down]\n\t" /* 2 src: c's low SRC_BITS bits, times 2 */                                 \
    "add    %[b], %[b], %[v]\n\t"                                                                                    \
    "lh     %[b], 0(%[b])\n\t"           /* pre[src] */                                                              \
    "mul    %[a], %[a], %[b]\n\t"                                                                                    \
    "add    %[a], %[a], %[c]\n\t"        /* p = sigma pre[src] + c */                                                \
    "srai   %[b], %[a], %[seg]\n\t"      /* segment: p >> (shift + SIG_FS) */                                        \
    "bgtu   %[b], %[last], " #clamp "b\n" /* below 0 or above the last segment: clamp */                             \
    #back ":\n\t"                                                                                                    \
    "slli   %[b], %[b], 2\n\t"                                                                                       \
    "add    %[b], %[b], %[t]\n\t"                                                                                    \
    "lhu    %[c], 0(%[b])\n\t"           /* T */                                                                     \
    "lh     %[b], 2(%[b])\n\t"           /* T' - T */                                                                \
    "srli   %[a], %[a], %[zs]\n\t"                                                                                   \
    "slli   %[a], %[a], %[top]\n\t"      /* position << (32 - SIG_FS): p's bits [shift, shift + SIG_FS) on top */    \
    "mulhsu %[a], %[b], %[a]\n\t"        /* ((T' - T) position) >> SIG_FS: the high word of the 64-bit product */    \
    "add    %[a], %[a], %[c]\n\t"        /* sigmoid */                                                               \
    "lh     %[b], " #rec "+2(%[r])\n\t"  /* w */                                                                     \
    "mul    %[a], %[a], %[b]\n\t"                                                                                    \
    "add    %[a], %[a], %[half]\n\t"                                                                                 \
    "srai   %[a], %[a], %[sfrac]\n\t"    /* g = (w sigmoid + 2^(S_FRAC - 1)) >> S_FRAC */                            \
    "lh     %[b], " #ev "(%[e])\n\t"     /* erev */                                                                  \
    "add    %[g], %[g], %[a]\n\t"        /* G += g */                                                                \
    "mul    %[b], %[b], %[a]\n\t"                                                                                    \
    "add    %[s], %[s], %[b]\n\t"        /* S += erev g */

/* The clamp of a segment out of range, then back: p < 0 gives segment 0, else the last one (the end segments are
 * flat). */
#define LNN_LTC_Q15_RV32_CLAMP(clamp, back)                                                                          \
    #clamp ":\n\t"                                                                                                   \
    "slti   %[b], %[a], 0\n\t"                                                                                       \
    "addi   %[b], %[b], -1\n\t"                                                                                      \
    "and    %[b], %[b], %[last]\n\t"                                                                                 \
    "j      " #back "f\n"

/* The body of a sums function for one shift (LNN_LTC_S_Z_SHIFT or LNN_LTC_Z_SHIFT); skip_empty: return at once
 * when count <= 0 (sensory synapses: a neuron may have none; a wired neuron always has internal ones). Two
 * synapses per iteration (the pointer increments and the branch shared); an odd count enters at the second,
 * with both pointers moved back one synapse. */
#define LNN_LTC_Q15_RV32_SUMS(shift, skip_empty)                                                                     \
    const lnn_ltc_q15_syn_t *r = *records;                                                                           \
    const int16_t *e = *erevs;                                                                                       \
    const int16_t *end = e + count;                                                                                  \
    int32_t s = *sum_s;                                                                                              \
    int32_t g = *sum_g;                                                                                              \
    const int32_t half = 1 << (LNN_LTC_S_FRAC - 1);                                                                  \
    const int32_t last = LNN_LTC_SIG_SEGMENTS - 1;                                                                   \
    int32_t a, b, c;                                                                                                 \
    if ((skip_empty) && count <= 0) {                                                                                \
        return;                                                                                                      \
    }                                                                                                                \
    __asm__ volatile(                                                                                                \
        "andi   %[a], %[k], 1\n\t"                                                                                   \
        "beqz   %[a], 1f\n\t"                                                                                        \
        "addi   %[r], %[r], -8\n\t"          /* odd count: start at the second synapse of an iteration */            \
        "addi   %[e], %[e], -2\n\t"                                                                                  \
        "j      5f\n"                                                                                                \
        LNN_LTC_Q15_RV32_CLAMP(3, 2)          /* before the loop, so that its last branch falls through */           \
        LNN_LTC_Q15_RV32_CLAMP(6, 7)                                                                                 \
        "1:\n\t"                                                                                                     \
        LNN_LTC_Q15_RV32_SYNAPSE(0, 0, 3, 2)                                                                         \
        "5:\n\t"                                                                                                     \
        LNN_LTC_Q15_RV32_SYNAPSE(8, 2, 6, 7)                                                                         \
        "addi   %[r], %[r], 16\n\t"                                                                                  \
        "addi   %[e], %[e], 4\n\t"                                                                                   \
        "bne    %[e], %[end], 1b\n"                                                                                  \
        : [r] "+r"(r), [e] "+r"(e), [s] "+r"(s), [g] "+r"(g), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c)               \
        : [k] "r"(count), [v] "r"(pre), [t] "r"(table), [end] "r"(end), [half] "r"(half), [last] "r"(last),          \
          [src_up] "i"(32 - LNN_LTC_SRC_BITS), [src_down] "i"(31 - LNN_LTC_SRC_BITS),                                \
          [seg] "i"((shift) + LNN_LTC_SIG_FS), [zs] "i"(shift), [top] "i"(32 - LNN_LTC_SIG_FS),                      \
          [sfrac] "i"(LNN_LTC_S_FRAC)                                                                                \
        : "memory");                                                                                                 \
    *records = r;                                                                                                    \
    *erevs = e;                                                                                                      \
    *sum_s = s;                                                                                                      \
    *sum_g = g

static inline void lnn_ltc_q15_sensory_sums(const lnn_ltc_q15_syn_t **records, const int16_t **erevs, int count,
                                            const int16_t *pre, const uint32_t *table, int32_t *sum_s,
                                            int32_t *sum_g)
{
    LNN_LTC_Q15_RV32_SUMS(LNN_LTC_S_Z_SHIFT, 1);
}

static inline void lnn_ltc_q15_internal_sums(const lnn_ltc_q15_syn_t **records, const int16_t **erevs, int count,
                                             const int16_t *pre, const uint32_t *table, int32_t *sum_s,
                                             int32_t *sum_g)
{
    LNN_LTC_Q15_RV32_SUMS(LNN_LTC_Z_SHIFT, 0);
}

#endif /* LNN_LTC_Q15_RV32_H */
