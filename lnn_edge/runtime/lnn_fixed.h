/* lnn_fixed.h: fixed-point helpers of the lnn-edge runtime (static inline, no globals). Do not edit: lnn-edge
 * export copies this file unchanged into DIR/lnn/.
 *
 * A value q in format Qf means q / 2^f. Right shifts of negative numbers must be arithmetic (GCC guarantees it
 * on every target; checked below). Rounding: lnn_rshift_round* rounds half up, lnn_div_round* rounds half away
 * from zero (the divisor is positive). These are the C twins of lnn_edge/quant/fixedpoint.py, tested against it.
 */
#ifndef LNN_FIXED_H
#define LNN_FIXED_H

#include <stdint.h>

#include "lnn_status.h"

#if ((-1) >> 1) != -1
#error "lnn-edge needs arithmetic right shifts of negative integers"
#endif

/* No libc in a step: GCC would otherwise turn the step's copy loops into memcpy calls. These headers are
 * included only by generated model sources, so the pragma covers exactly them. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(LNN_NO_LIBC_PRAGMA)
#define LNN_NO_LIBC_PRAGMA 1
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* x / 2^shift rounded half up (shift > 0), or x * 2^-shift (shift <= 0). */
static inline int32_t lnn_rshift_round32(int32_t x, int shift)
{
    if (shift > 0) {
        return (x + ((int32_t)1 << (shift - 1))) >> shift;
    }
    return x * ((int32_t)1 << (-shift)); /* a multiplication: left shifts of negatives are undefined */
}

static inline int64_t lnn_rshift_round64(int64_t x, int shift)
{
    if (shift > 0) {
        return (x + ((int64_t)1 << (shift - 1))) >> shift;
    }
    return x * ((int64_t)1 << (-shift));
}

/* num / den rounded half away from zero; den > 0. */
static inline int32_t lnn_div_round32(int32_t num, int32_t den)
{
    int32_t half = den >> 1;
    return num >= 0 ? (num + half) / den : (num - half) / den;
}

static inline int64_t lnn_div_round64(int64_t num, int64_t den)
{
    int64_t half = den >> 1;
    return num >= 0 ? (num + half) / den : (num - half) / den;
}

/* Division by one divisor used several times, for cores without a divide instruction (Cortex-M0): invert it
 * once with lnn_recip32, then lnn_div_recip gives trunc(n / d) exactly for |n| < 2^31. The quotient estimated
 * from three 16x16-bit partial products of |n| and rd never exceeds floor(|n| / d) and falls short of it by at
 * most 3 (rd is at most 1 below 2^32 / d, costing under 1/2; the dropped low product and two floors are each
 * below 1), which the remainder then corrects: the same bits as C's division in under half of __aeabi_idiv's
 * instructions. */
static inline uint32_t lnn_recip32(uint32_t d)
{
    return 0xFFFFFFFFu / d;
}

static inline int32_t lnn_div_recip(int32_t n, uint32_t d, uint32_t rd)
{
    uint32_t u = n < 0 ? 0u - (uint32_t)n : (uint32_t)n;
    uint32_t rh = rd >> 16;
    uint32_t q = (u >> 16) * rh + (((u >> 16) * (rd & 0xFFFFu)) >> 16) + (((u & 0xFFFFu) * rh) >> 16);
    uint32_t rem = u - q * d;
    while (rem >= d) {
        q++;
        rem -= d;
    }
    return n < 0 ? -(int32_t)q : (int32_t)q;
}

/* Saturation to the 16- and 32-bit ranges. */
static inline int16_t lnn_sat16(int32_t x)
{
    return (int16_t)(x < INT16_MIN ? INT16_MIN : (x > INT16_MAX ? INT16_MAX : x));
}

static inline int32_t lnn_sat32(int64_t x)
{
    return (int32_t)(x < INT32_MIN ? INT32_MIN : (x > INT32_MAX ? INT32_MAX : x));
}

/* Linear interpolation in a table of unsigned samples (the C twin of lnn_edge.quant.fixedpoint.InterpTable):
 * a >= 0 in the table's input format; segment a >> frac_shift, position a & (2^frac_shift - 1), result
 * low + rshift_round((high - low) * position, frac_shift); from a >= limit on, the last sample table[last]. */
static inline int32_t lnn_interp_u16(const uint16_t *table, int32_t a, int32_t limit, int frac_shift, int last)
{
    int32_t low;
    int32_t high;
    int index;
    if (a >= limit) {
        return (int32_t)table[last];
    }
    index = (int)(a >> frac_shift);
    low = (int32_t)table[index];
    high = (int32_t)table[index + 1];
    return low + lnn_rshift_round32((high - low) * (a & (((int32_t)1 << frac_shift) - 1)), frac_shift);
}

static inline int64_t lnn_interp_u32(const uint32_t *table, int64_t a, int64_t limit, int frac_shift, int last)
{
    int64_t low;
    int64_t high;
    int index;
    if (a >= limit) {
        return (int64_t)table[last];
    }
    index = (int)(a >> frac_shift);
    low = (int64_t)table[index];
    high = (int64_t)table[index + 1];
    return low + lnn_rshift_round64((high - low) * (a & (((int64_t)1 << frac_shift) - 1)), frac_shift);
}

#endif /* LNN_FIXED_H */
