/* gather_batch.cl - copies the rows of one mini-batch out of the dataset on the device.
 *   X[b, :] = X_all[order[first + b], :],  labels[b] = labels_all[order[first + b]]
 * Shapes: X_all n x dim, order n, X count x dim (=), labels count (=).
 * A work-item copies GATHER_ROWS rows, 16 floats of each in turn: the rows sit at random
 * places in a dataset far larger than the caches, and one row at a time waits on memory
 * once per row; eight copied side by side keep eight streams of loads in flight. At batch 256
 * on one PoCL core of a Zen 5: 47-52 us against 64-102 us a row at a time (and ~620 us with a
 * work-item per element). The last work-item's rows past count repeat row count - 1 (the same
 * value stored again), so the copy loop has no branch.
 * Launch: (chunks, ceil(count / GATHER_ROWS)). Work-item (c, g) copies the 16-float chunks c,
 * c + chunks, ... of its rows, and the c = 0 items the labels and the last dim % 16 floats. A
 * CPU launches one chunk column (each work-item walks whole rows); a GPU ceil(dim / 16), so
 * that neighbouring threads copy neighbouring 64-byte pieces. vload16/vstore16 need only
 * element alignment. */
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
    uint b0 = get_global_id(1) * GATHER_ROWS, c = get_global_id(0);
    if (b0 >= count)
        return;
    uint step = 16 * get_global_size(0), full = dim / 16 * 16;
    __global const float *s[GATHER_ROWS];
    __global float *d[GATHER_ROWS];
#pragma unroll
    for (int r = 0; r < GATHER_ROWS; r++) {
        uint b = min(b0 + r, count - 1);
        ulong src = order[first + b];
        s[r] = X_all + src * dim;
        d[r] = X + (ulong)b * dim;
        if (c == 0)
            labels[b] = labels_all[src];
    }
    for (uint j = 16 * c; j < full; j += step)
#pragma unroll
        for (int r = 0; r < GATHER_ROWS; r++)
            vstore16(vload16(0, s[r] + j), 0, d[r] + j);
    if (c == 0)
        for (uint j = full; j < dim; j++)
#pragma unroll
            for (int r = 0; r < GATHER_ROWS; r++)
                d[r][j] = s[r][j];
}
