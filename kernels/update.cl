/* update.cl - the Adam step, a pass of its own over every parameter, one work-item each.
 * (SGD and momentum have no pass: weight_grad and weight_grad_narrow step each parameter in
 * their epilogues as soon as its gradient is summed, by the rules of update_rules.cl. Adam's
 * square root and division stay out of the GEMMs.)
 *   adam_update:  g' = g + l2 p;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *                 p -= lr_t m / (sqrt(v) + eps_t),  lr_t and eps_t fold in the bias
 *                 corrections (computed once on the host, Kingma and Ba, section 2)
 * g is dL/dp (our D is the gradient, so the step subtracts); l2 adds weight decay l2 * p to it
 * (the host passes 0 for biases). Shapes: every buffer n (p, m, v updated in place).
 * Twin: ref_adam_update. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

__kernel void adam_update(__global float *restrict p, __global float *restrict m,
                          __global float *restrict v, __global const float *restrict g, uint n,
                          float lr_t, float beta1, float beta2, float eps_t, float l2)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float gi = g[i] + l2 * p[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr_t * mi / (sqrt(vi) + eps_t);
}
