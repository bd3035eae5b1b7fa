/* softmax_rows.cl - row-wise softmax of logits, for predictions.
 *   P[b,k] = exp((z_k - m) - log sum_j exp(z_j - m)),  m = max_j z_j (no overflow, C02)
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
    float m = z[0], s = 0.0f;
    for (uint k = 1; k < n; k++)
        m = fmax(m, z[k]);
    for (uint k = 0; k < n; k++)
        s += exp(z[k] - m);
    float ls = log(s);
    for (uint k = 0; k < n; k++)
        p[k] = exp((z[k] - m) - ls);
}
