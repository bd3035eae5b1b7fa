/* activations.cl - the activations and their derivatives, defined once for every kernel.
 * Prepended by the host to each kernel file's source; kernel files include it themselves when
 * compiled stand-alone. Codes match clmlp_act in host/clmlp.h. Twin: host/ref/ref_activations.c.
 *
 * Overflow-safe forms (shared/cases C01): sigmoid never divides inf by inf, tanh is the
 * built-in (exact limits +-1), derivatives come from the stored activation a = sigma(z):
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

inline float act_apply(int act, float z)
{
    switch (act) {
    case ACT_SIGMOID: return act_sigmoid(z);
    case ACT_TANH: return tanh(z);
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

/* Rounded-up division, for tile counts. */
inline uint div_up(uint a, uint b) { return (a + b - 1) / b; }

#endif
