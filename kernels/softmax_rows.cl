/* softmax_rows.cl - row-wise softmax of logits, for predictions.
 *   P[b,k] = exp((z_k - m) - ls),  m = max_j z_j (no overflow, C02),
 *   ls = log sum_j exp(z_j - m), from softmax_log_sum (activations.cl)
 * Shapes: Z B x n, P B x n (=). One work-item per row (sample). Twin: ref_softmax_rows. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

__kernel void softmax_rows(__global const float *restrict Z, __global float *restrict P, uint B,
                           uint n)
{
    uint b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *z = Z + (ulong)b * n;
    __global float *p = P + (ulong)b * n;
    uint best;
    float m, ls = softmax_log_sum(z, n, &best, &m);
    for (uint k = 0; k < n; k++)
        p[k] = exp((z[k] - m) - ls);
}
