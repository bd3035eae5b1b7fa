/* ref_activations.c - activations and their derivatives in double; twin of
 * kernels/activations.cl. Codes are clmlp_act. Overflow-safe like the kernels (C01). */
#include <math.h>

#include "clmlp.h"
#include "ref_kernels.h"

static double sigmoid(double z)
{
    if (z >= 0.0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z); /* exp of a negative number: no overflow */
    return e / (1.0 + e);
}

double ref_act_apply(int act, double z)
{
    switch (act) {
    case CLMLP_ACT_SIGMOID: return sigmoid(z);
    case CLMLP_ACT_TANH: return tanh(z);
    case CLMLP_ACT_RELU: return z > 0.0 ? z : 0.0;
    default: return z; /* identity; softmax layers hold logits */
    }
}

/* sigma'(z) written through a = sigma(z): sigmoid a(1-a), tanh 1-a^2, relu (a > 0). */
double ref_act_deriv_from_output(int act, double a)
{
    switch (act) {
    case CLMLP_ACT_SIGMOID: return a * (1.0 - a);
    case CLMLP_ACT_TANH: return 1.0 - a * a;
    case CLMLP_ACT_RELU: return a > 0.0 ? 1.0 : 0.0;
    default: return 1.0;
    }
}
