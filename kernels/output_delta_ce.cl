/* output_delta_ce.cl - softmax + cross-entropy: error term, per-sample loss and correctness.
 *   m = max_k z_k,  ls = log sum_k exp(z_k - m)               (never overflows: shared/cases C02)
 *   loss[first+b] = (m - z[label]) + ls   (not -log p_y, which is inf once p_y underflows to 0;
 *                   and not (m + ls) - z[label], which loses ls in the rounding of m when the
 *                   logits are large: C02 case D, logits 1e4, needs ln 4 to 1e-5)
 *   D[b,k] = (exp((z_k - m) - ls) - y_k) / B
 *   correct[first+b] = (argmax_k z == label)   (ties go to the lowest index)
 * Softmax runs over the classes of one sample (a row), never over the batch (C05).
 * Shapes: Z B x n (logits), labels B, D B x n (=). One work-item per sample.
 * Twin: ref_output_delta_ce. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

__kernel void output_delta_ce(__global const float *restrict Z, __global const int *restrict labels,
                              __global float *restrict D, __global float *restrict loss,
                              __global int *restrict correct, uint B, uint n, uint first)
{
    uint b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *z = Z + (ulong)b * n;
    __global float *d = D + (ulong)b * n;
    uint best = 0;
    for (uint k = 1; k < n; k++)
        if (z[k] > z[best])
            best = k;
    float m = z[best], s = 0.0f;
    for (uint k = 0; k < n; k++)
        s += exp(z[k] - m);
    float ls = log(s);
    int label = labels[b];
    float inv_b = 1.0f / (float)B;
    for (uint k = 0; k < n; k++)
        d[k] = (exp((z[k] - m) - ls) - (k == (uint)label ? 1.0f : 0.0f)) * inv_b;
    loss[first + b] = (m - z[label]) + ls;
    correct[first + b] = best == (uint)label;
}
