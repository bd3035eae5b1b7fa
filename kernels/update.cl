/* update.cl - the parameter update step, one work-item per parameter.
 * g is dL/dp (our D is the gradient, so every rule subtracts). l2 adds weight decay l2 * p to
 * the gradient (the host passes 0 for biases).
 *   sgd_update:      p -= lr (g + l2 p)
 *   momentum_update: v = mu v + (g + l2 p);  p -= lr v                 (heavy ball, as PyTorch)
 *   adam_update:     m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *                    p -= lr_t m / (sqrt(v) + eps_t),  lr_t and eps_t fold in the bias
 *                    corrections (computed once on the host, Kingma and Ba, section 2)
 * Shapes: every buffer n (p, v, m updated in place). Twins: ref_sgd_update, ref_momentum_update,
 * ref_adam_update. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

__kernel void sgd_update(__global float *restrict p, __global const float *restrict g, uint n,
                         float lr, float l2)
{
    uint i = get_global_id(0);
    if (i < n)
        p[i] -= lr * (g[i] + l2 * p[i]);
}

__kernel void momentum_update(__global float *restrict p, __global float *restrict v,
                              __global const float *restrict g, uint n, float lr, float mu, float l2)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float vi = mu * v[i] + (g[i] + l2 * p[i]);
    v[i] = vi;
    p[i] -= lr * vi;
}

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
