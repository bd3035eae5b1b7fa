/* gather_batch.cl - copies the rows of one mini-batch out of the dataset on the device.
 *   X[b, :] = X_all[order[first + b], :],  labels[b] = labels_all[order[first + b]]
 * Shapes: X_all n x dim, order n, X count x dim (=), labels count (=).
 * One work-item per row copies it with 16-wide vector loads and stores: a row is contiguous in
 * both buffers, and a work-item per element cost ~620 us per step at batch 256 on PoCL against
 * ~100 us for this. Launched as (1, count); items with get_global_id(0) > 0 return, so a launch
 * over (dim, count) is also correct. vload16/vstore16 need only element alignment. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

__kernel void gather_batch(__global const float *restrict X_all,
                           __global const int *restrict labels_all,
                           __global const uint *restrict order, uint first, uint count, uint dim,
                           __global float *restrict X, __global int *restrict labels)
{
    uint b = get_global_id(1);
    if (b >= count || get_global_id(0) > 0)
        return;
    ulong src = order[first + b];
    __global const float *s = X_all + src * dim;
    __global float *d = X + (ulong)b * dim;
    uint j = 0;
    for (; j + 16 <= dim; j += 16)
        vstore16(vload16(0, s + j), 0, d + j);
    for (; j < dim; j++)
        d[j] = s[j];
    labels[b] = labels_all[src];
}
