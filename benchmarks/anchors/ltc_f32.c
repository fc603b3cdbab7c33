/* ltc_f32.c: the "straightforward float32 port" anchor of issues 6 and 17 (not lnn-edge's runtime).
 *
 * What a user porting ncps's LTC to C by hand would write: dense [source][destination] arrays multiplied by
 * their masks (every pair gets its sigmoid, connected or not), the logistic function through libm's expf, the
 * semi-implicit step of ncps (ode_unfolds unfolds, epsilon in the denominator), float32 throughout. On a core
 * without an FPU every float operation is a soft-float call. benchmarks/anchors.py writes anchor_ltc_data.h
 * (the sizes and the arrays of one model, positivity already applied) and counts anchor_step_dt in Unicorn
 * exactly as lnn-edge's bench counts <name>_step_dt.
 */
#include <math.h>

#include "anchor_ltc_data.h"

static float logistic(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* One step: v is the state (ANCHOR_N floats), input the raw inputs, elapsed the time since the last step. */
int anchor_step_dt(float *v, const float *input, float elapsed, float *y)
{
    float x[ANCHOR_S];
    float sensory_num[ANCHOR_N];
    float sensory_den[ANCHOR_N];
    float next[ANCHOR_N];
    float cm_t[ANCHOR_N];
    int i, j, k;

    for (j = 0; j < ANCHOR_S; j++) {
        x[j] = input[j] * input_w[j] + input_b[j];
    }
    for (i = 0; i < ANCHOR_N; i++) {
        float num = 0.0f, den = 0.0f;
        for (j = 0; j < ANCHOR_S; j++) {
            float a = sensory_mask[j][i] * sensory_w[j][i] *
                      logistic(sensory_sigma[j][i] * (x[j] - sensory_mu[j][i]));
            num += a * sensory_erev[j][i];
            den += a;
        }
        sensory_num[i] = num;
        sensory_den[i] = den;
        cm_t[i] = cm[i] / (elapsed / (float)ANCHOR_UNFOLDS);
    }
    for (k = 0; k < ANCHOR_UNFOLDS; k++) {
        for (i = 0; i < ANCHOR_N; i++) {
            float num = sensory_num[i], den = sensory_den[i];
            for (j = 0; j < ANCHOR_N; j++) {
                float a = mask[j][i] * w[j][i] * logistic(sigma[j][i] * (v[j] - mu[j][i]));
                num += a * erev[j][i];
                den += a;
            }
            next[i] = (cm_t[i] * v[i] + gleak[i] * vleak[i] + num) / (cm_t[i] + gleak[i] + den + ANCHOR_EPSILON);
        }
        for (i = 0; i < ANCHOR_N; i++) {
            v[i] = next[i];
        }
    }
    for (i = 0; i < ANCHOR_M; i++) {
        y[i] = v[i] * output_w[i] + output_b[i];
    }
    return 0;
}
