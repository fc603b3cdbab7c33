/* lnn_status.h: the status codes of every lnn-edge kernel and generated model (part of the lnn-edge runtime).
 *
 * A kernel returns LNN_OK or one error; an error leaves the caller's state untouched. The generated
 * <name>.h repeats LNN_OK and LNN_ERR_NULL as <NAME>_OK and <NAME>_ERR_NULL (same values).
 */
#ifndef LNN_STATUS_H
#define LNN_STATUS_H

typedef enum {
    LNN_OK = 0,        /* success */
    LNN_ERR_NULL = -1, /* a NULL pointer argument (state, inputs or outputs) */
    LNN_ERR_ARG = -2   /* an argument out of its domain (reserved: today's kernels clamp dt instead, see c-api.md) */
} lnn_status_t;

/* A kernel's step function: inlined into its one caller, the generated <name>_step_dt, so the compiler
 * specialises it to the model's constants exactly as if it were written there (GCC's heuristics would otherwise
 * keep a large kernel out of line, at the cost of a call and of the folded parameter loads). */
#if defined(__GNUC__)
#define LNN_STEP_INLINE static inline __attribute__((always_inline))
#else
#define LNN_STEP_INLINE static inline
#endif

#endif /* LNN_STATUS_H */
