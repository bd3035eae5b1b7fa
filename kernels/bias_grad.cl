/* bias_grad.cl - the bias gradient of one layer: the column sums of D.
 *   db[k] = sum_b D[b,k]
 * Shapes: D B x n, db n (=). Each work-item sums BG_TN neighbouring columns as one vector, in
 * batch order (deterministic, no atomics, the same additions as one work-item per column).
 * Global size ceil(n/BG_TN) (a larger one is fine: work-items past the edge return).
 * Why vectors: on a CPU (PoCL) a work-item is one loop iteration and the loop over b keeps
 * PoCL from vectorising across work-items; one float16 row load per b does it instead. A
 * partial last tile runs strips of 8, 4, 2 and 1 columns. BG_TN is 1, 2, 4, 8 or 16 (1 on GPUs,
 * where one column per thread makes a warp's loads contiguous). Twin: ref_bias_grad. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#ifndef BG_TN
#define BG_TN 16
#endif

#ifndef CLMLP_VEC_HELPERS
#include "vec.cl"
#endif

#if BG_TN != 1 && BG_TN != 2 && BG_TN != 4 && BG_TN != 8 && BG_TN != 16
#error "BG_TN must be 1, 2, 4, 8 or 16"
#endif

/* Columns [k, k+N), N at a time while they fit below kend. */
#define BG_STRIP(N)                                                                               \
    for (; k + N <= kend; k += N) {                                                               \
        VEC(N) s = (VEC(N))0.0f;                                                                  \
        __global const float *d = D + k;                                                          \
        for (uint b = 0; b < B; b++, d += n)                                                      \
            s += VLOAD(N, d);                                                                     \
        VSTORE(N, s, db + k);                                                                     \
    }

__kernel void bias_grad(__global const float *restrict D, __global float *restrict db, uint B,
                        uint n)
{
    uint k0 = get_global_id(0) * BG_TN;
    if (k0 >= n)
        return;
    uint k = k0, kend = min(k0 + BG_TN, n);
    BG_STRIP(BG_TN)
#if BG_TN > 8
    BG_STRIP(8)
#endif
#if BG_TN > 4
    BG_STRIP(4)
#endif
#if BG_TN > 2
    BG_STRIP(2)
#endif
#if BG_TN > 1
    BG_STRIP(1)
#endif
}
