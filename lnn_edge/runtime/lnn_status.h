/* lnn_status.h: the status codes of every lnn-edge kernel and generated model (part of the lnn-edge runtime).
 *
 * A kernel returns LNN_OK or one error; an error leaves the caller's state untouched. The generated
 * <name>.h repeats them as <NAME>_OK, <NAME>_ERR_NULL and <NAME>_ERR_ARG (same values).
 */
#ifndef LNN_STATUS_H
#define LNN_STATUS_H

typedef enum {
    LNN_OK = 0,        /* success */
    LNN_ERR_NULL = -1, /* a NULL pointer argument (state, inputs or outputs) */
    LNN_ERR_ARG = -2   /* an argument out of its domain: a float32 elapsed time dt that is NaN, <= 0 (LTC) or < 0
                        * (CfC). A fixed-point dt has no such error: it is clamped as the emulator clamps it. */
} lnn_status_t;

/* A kernel's step function: inlined into its one caller, the generated <name>_step_dt, so the compiler
 * specialises it to the model's constants exactly as if it were written there (GCC's heuristics would otherwise
 * keep a large kernel out of line, at the cost of a call and of the folded parameter loads). */
/* LNN_OK, or LNN_ERR_ARG if the float32 elapsed time dt is NaN or below its domain: dt > 0 where positive_only
 * (the LTC divides by it), dt >= 0 otherwise (the CfC's time gate is defined at dt = 0). Written so that a NaN
 * fails both comparisons. */
static inline int lnn_check_dt_f32(float dt, int positive_only)
{
    if (positive_only ? !(dt > 0.0f) : !(dt >= 0.0f)) {
        return LNN_ERR_ARG;
    }
    return LNN_OK;
}

#if defined(__GNUC__)
#define LNN_STEP_INLINE static inline __attribute__((always_inline))
#else
#define LNN_STEP_INLINE static inline
#endif

#endif /* LNN_STATUS_H */
