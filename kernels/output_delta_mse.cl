/* output_delta_mse.cl - output error term, per-sample loss and correctness for MSE.
 *   D[b,k] = (2/B) (a[b,k] - y[b,k]) act'(a[b,k])     y = one-hot(labels[b])
 *   loss[first+b] = sum_k (a[b,k] - y[b,k])^2          (the batch mean is taken on the host)
 *   correct[first+b] = (argmax_k a[b,k] == labels[b])  (ties go to the lowest index)
 * The notes' delta_k = 2 (y - yhat) sigma'(k) is -B D here: we store dL/dZ of the batch mean.
 * Shapes: A B x n, labels B, D B x n (=), loss and correct: written at first..first+B-1.
 * One work-item per sample. Twin: ref_output_delta_mse. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

__kernel void output_delta_mse(__global const float *restrict A, __global const int *restrict labels,
                               __global float *restrict D, __global float *restrict loss,
                               __global int *restrict correct, uint B, uint n, int act, uint first)
{
    uint b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *a = A + (ulong)b * n;
    __global float *d = D + (ulong)b * n;
    int label = labels[b];
    float scale = 2.0f / (float)B, sum = 0.0f;
    uint best = 0;
    for (uint k = 0; k < n; k++) {
        float diff = a[k] - (k == (uint)label ? 1.0f : 0.0f);
        sum += diff * diff;
        d[k] = scale * diff * act_deriv_from_output(act, a[k]);
        if (a[k] > a[best])
            best = k;
    }
    loss[first + b] = sum;
    correct[first + b] = best == (uint)label;
}
