/* softmax_rows.cl - row-wise softmax of logits, for predictions.
 *   P[b,k] = exp((z_k - m) - ls),  m = max_j z_j (no overflow, C02),
 *   ls = log sum_j exp(z_j - m) = log1p(sum over j past the maximum of exp(z_j - m))
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
    uint best = 0;
    for (uint k = 1; k < n; k++)
        if (z[k] > z[best])
            best = k;
    float m = z[best], rest = 0.0f;
    for (uint k = 0; k < n; k++)
        if (k != best)
            rest += exp(z[k] - m);
    float ls = log1p(rest); /* not log(1 + rest): see output_delta_ce.cl */
    for (uint k = 0; k < n; k++)
        p[k] = exp((z[k] - m) - ls);
}
