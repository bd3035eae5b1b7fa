/* gather_batch.cl - copies the rows of one mini-batch out of the dataset on the device.
 *   X[b, :] = X_all[order[first + b], :],  labels[b] = labels_all[order[first + b]]
 * Shapes: X_all n x dim, order n, X count x dim (=), labels count (=).
 * One work-item per (feature, row); features are the fast dimension for contiguous copies. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

__kernel void gather_batch(__global const float *restrict X_all,
                           __global const int *restrict labels_all,
                           __global const uint *restrict order, uint first, uint count, uint dim,
                           __global float *restrict X, __global int *restrict labels)
{
    uint j = get_global_id(0), b = get_global_id(1);
    if (b >= count || j >= dim)
        return;
    ulong src = order[first + b];
    X[(ulong)b * dim + j] = X_all[src * dim + j];
    if (j == 0)
        labels[b] = labels_all[src];
}
