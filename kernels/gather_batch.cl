/* gather_batch.cl - copies the rows of one mini-batch out of the dataset on the device.
 *   X[b, :] = X_all[order[first + b], :],  labels[b] = labels_all[order[first + b]]
 * Shapes: X_all n x dim, order n, X count x dim (=), labels count (=).
 * A work-item copies GATHER_ROWS rows, 16 floats of each in turn: the rows sit at random
 * places in a dataset far larger than the caches, and one row at a time waits on memory
 * once per row; eight copied side by side keep eight streams of loads in flight. At batch 256
 * on one PoCL core of a Zen 5: 47-52 us against 64-102 us a row at a time (and ~620 us with a
 * work-item per element). The last work-item's rows past count repeat row count - 1 (the same
 * value stored again), so the copy loop has no branch. Launched as (1, ceil(count /
 * GATHER_ROWS)); items with get_global_id(0) > 0 return. vload16/vstore16 need only element
 * alignment. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

/* Rows per work-item; the host launches ceil(count / GATHER_ROWS) (GATHER_ROWS in cl_engine.c). */
#define GATHER_ROWS 8

__kernel void gather_batch(__global const float *restrict X_all,
                           __global const int *restrict labels_all,
                           __global const uint *restrict order, uint first, uint count, uint dim,
                           __global float *restrict X, __global int *restrict labels)
{
    uint b0 = get_global_id(1) * GATHER_ROWS;
    if (b0 >= count || get_global_id(0) > 0)
        return;
    __global const float *s[GATHER_ROWS];
    __global float *d[GATHER_ROWS];
#pragma unroll
    for (int r = 0; r < GATHER_ROWS; r++) {
        uint b = min(b0 + r, count - 1);
        ulong src = order[first + b];
        s[r] = X_all + src * dim;
        d[r] = X + (ulong)b * dim;
        labels[b] = labels_all[src];
    }
    uint j = 0;
    for (; j + 16 <= dim; j += 16)
#pragma unroll
        for (int r = 0; r < GATHER_ROWS; r++)
            vstore16(vload16(0, s[r] + j), 0, d[r] + j);
    for (; j < dim; j++)
#pragma unroll
        for (int r = 0; r < GATHER_ROWS; r++)
            d[r][j] = s[r][j];
}
