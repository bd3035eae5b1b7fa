/* bias_grad.cl - the bias gradient of one layer: the column sums of D.
 *   db[k] = sum_b D[b,k]
 * Shapes: D B x n, db n (=). One work-item per column, summing in batch order (deterministic,
 * no atomics). Twin: ref_bias_grad. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

__kernel void bias_grad(__global const float *restrict D, __global float *restrict db, uint B,
                        uint n)
{
    uint k = get_global_id(0);
    if (k >= n)
        return;
    float s = 0.0f;
    for (uint b = 0; b < B; b++)
        s += D[(ulong)b * n + k];
    db[k] = s;
}
