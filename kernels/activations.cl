/* activations.cl - the activations and their derivatives, defined once for every kernel.
 * Prepended by the host to each kernel file's source; kernel files include it themselves when
 * compiled stand-alone. Codes match clmlp_act in host/clmlp.h. Twin: host/ref/ref_activations.c.
 *
 * Overflow-safe forms (shared/cases C01): sigmoid never divides inf by inf, tanh is the
 * built-in with its limits made exact (TANH_ONE), derivatives come from the stored activation
 * a = sigma(z):
 *   sigmoid' = a (1 - a),  tanh' = 1 - a^2,  relu' = (a > 0),  identity' = 1.
 * Softmax outputs are handled by the loss kernels (their layer stores logits). */
#ifndef CLMLP_ACTIVATIONS_CL
#define CLMLP_ACTIVATIONS_CL

#define ACT_IDENTITY 0
#define ACT_SIGMOID 1
#define ACT_TANH 2
#define ACT_RELU 3
#define ACT_SOFTMAX 4

inline float act_sigmoid(float z)
{
    /* exp of a non-positive number only: never overflows. */
    if (z >= 0.0f)
        return 1.0f / (1.0f + exp(-z));
    float e = exp(z);
    return e / (1.0f + e);
}

/* From |z| >= TANH_ONE on, tanh(z) correctly rounded to float is +-1: 1 - tanh z =
 * 2 / (e^2z + 1) falls below 2^-25, half an ulp below 1, at z = 13 ln 2 = 9.0109. PoCL's
 * built-in tanh returns +-(1 - 2^-24) there, all the way to +-inf (within OpenCL's 5 ulp), so
 * a saturated tanh unit had tanh' = 1 - a^2 = 1.2e-7 instead of 0, and on huge inputs the
 * device and the C reference trained differently (found by a helper trying to break the
 * kernels). TANH_EXACT(z, one) is tanh with those limits exact, for a float or a vector z;
 * `one` is 1.0f of z's type. */
#define TANH_ONE 9.011f
#define TANH_EXACT(z, one) select(tanh(z), copysign(one, z), fabs(z) >= TANH_ONE)

inline float act_apply(int act, float z)
{
    switch (act) {
    case ACT_SIGMOID: return act_sigmoid(z);
    case ACT_TANH: return fabs(z) >= TANH_ONE ? copysign(1.0f, z) : tanh(z);
    case ACT_RELU: return fmax(z, 0.0f);
    default: return z; /* identity, and softmax logits */
    }
}

inline float act_deriv_from_output(int act, float a)
{
    switch (act) {
    case ACT_SIGMOID: return a * (1.0f - a);
    case ACT_TANH: return 1.0f - a * a;
    case ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}

/* Index of the largest of z[0 .. n) (the lowest on ties): a sample's predicted class. */
inline uint argmax_row(__global const float *z, uint n)
{
    uint best = 0;
    for (uint k = 1; k < n; k++)
        if (z[k] > z[best])
            best = k;
    return best;
}

/* The softmax's log-sum of one row of logits, kept in two parts (the twins' log_sum_exp):
 * log sum_k exp(z_k) = m + ls with m = z[*best], the maximum, and ls = log1p(rest), rest the
 * sum of exp(z_k - m) over k != *best. Never overflows (C02), and neither part is lost in the
 * other's rounding: not ls in m + ls when m is large, nor rest in 1 + rest when many classes
 * sit far below the maximum (1000 classes, 999 of them 20 below: ls 2.06e-6, not 0). Used by
 * output_delta_ce (rows wider than its packed path) and softmax_rows. Returns ls. */
inline float softmax_log_sum(__global const float *z, uint n, uint *best, float *m)
{
    *best = argmax_row(z, n);
    *m = z[*best];
    float rest = 0.0f;
    for (uint k = 0; k < n; k++)
        if (k != *best)
            rest += exp(z[k] - *m);
    return log1p(rest);
}

/* Rounded-up division, for tile counts. */
inline uint div_up(uint a, uint b) { return (a + b - 1) / b; }

#endif
