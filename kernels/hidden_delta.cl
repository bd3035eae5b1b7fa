/* hidden_delta.cl - the hidden delta recursion, one layer back.
 *   D_prev = (D W^T) * act'(A_prev),   act' from the stored activation (a(1-a), 1-a^2, a>0)
 *   D_prev[b,j] = act'(A_prev[b,j]) sum_k D[b,k] W[j,k]
 * Shapes: D B x n_out, W n_in x n_out, A_prev B x n_in, D_prev B x n_in (=).
 * In the notes' terms, delta_j = sum_k delta_k w_jk sigma'(j), with our D = -delta.
 * Two kernels compute it: hidden_delta from W itself (below), and hidden_delta_t (further
 * down) from a transposed copy W^T made by transpose.cl. The engine uses hidden_delta_t from
 * 32 rows on, where it is ~2x faster (10x for a 10-unit layer), and hidden_delta for smaller
 * batches, where the transpose costs more than it saves.
 *
 * hidden_delta: each work-item computes an HD_TM x HD_TN block of D_prev: rows b0.. (samples), columns j0..
 * (units of the layer below). Global size (ceil(n_in/HD_TN), ceil(B/HD_TM)), rounded up to the
 * local size; work-items past the edge return.
 * Why this shape: the sum runs along k, which is contiguous in both D and W (W^T is never
 * formed), so each output is a dot product of two contiguous rows: HD_TM rows of D and HD_TN
 * rows of W are read HD_V floats at a time, and each of the HD_TM x HD_TN accumulators is a
 * vector of HD_V partial sums (HD_TM + HD_TN loads for HD_TM x HD_TN vector FMAs). The
 * partial sums are added pairwise at the end, then the last n_out mod HD_V terms are added
 * with scalar fmas: a fixed order for a given build, whatever the work sizes.
 * Edges: rows and columns past the matrix are clamped for loading (no branch in the inner
 * loop) and not stored. HD_V is 1, 2, 4, 8 or 16. Twin: ref_hidden_delta. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#ifndef HD_TM
#define HD_TM 4
#endif
#ifndef HD_TN
#define HD_TN 4
#endif
#ifndef HD_V
#define HD_V 16
#endif

#ifndef CLMLP_VEC_HELPERS
#include "vec.cl"
#endif

/* Pairwise sum of the lanes of a vector of HD_V floats. */
#if HD_V == 1
#define HD_HSUM(v) (v)
#elif HD_V == 2
#define HD_HSUM(v) ((v).s0 + (v).s1)
#elif HD_V == 4
#define HD_HSUM(v) hd_hsum4(v)
#elif HD_V == 8
#define HD_HSUM(v) hd_hsum4((v).lo + (v).hi)
#elif HD_V == 16
#define HD_HSUM(v) hd_hsum8((v).lo + (v).hi)
#else
#error "HD_V must be 1, 2, 4, 8 or 16"
#endif
/* The loops over r and c must be unrolled so the accumulators stay in registers: PoCL's build
 * does not unroll them by itself and otherwise keeps them in memory (5x slower). */
inline float hd_hsum4(float4 v) { float2 s = v.lo + v.hi; return s.s0 + s.s1; }
inline float hd_hsum8(float8 v) { return hd_hsum4(v.lo + v.hi); }

__kernel void hidden_delta(__global const float *restrict D, __global const float *restrict W,
                           __global const float *restrict A_prev, __global float *restrict D_prev,
                           uint B, uint n_in, uint n_out, int act_prev)
{
    uint j0 = get_global_id(0) * HD_TN, b0 = get_global_id(1) * HD_TM;
    if (j0 >= n_in || b0 >= B)
        return;
    __global const float *drow[HD_TM], *wrow[HD_TN];
#pragma unroll
    for (int r = 0; r < HD_TM; r++)
        drow[r] = D + (ulong)min(b0 + r, B - 1) * n_out;
#pragma unroll
    for (int c = 0; c < HD_TN; c++)
        wrow[c] = W + (ulong)min(j0 + c, n_in - 1) * n_out;
    VEC(HD_V) acc[HD_TM][HD_TN];
#pragma unroll
    for (int r = 0; r < HD_TM; r++)
#pragma unroll
        for (int c = 0; c < HD_TN; c++)
            acc[r][c] = (VEC(HD_V))0.0f;
    uint k = 0;
    for (; k + HD_V <= n_out; k += HD_V) {
        VEC(HD_V) w[HD_TN];
#pragma unroll
        for (int c = 0; c < HD_TN; c++)
            w[c] = VLOAD(HD_V, wrow[c] + k);
#pragma unroll
        for (int r = 0; r < HD_TM; r++) {
            VEC(HD_V) d = VLOAD(HD_V, drow[r] + k);
#pragma unroll
            for (int c = 0; c < HD_TN; c++)
                acc[r][c] = fma(d, w[c], acc[r][c]);
        }
    }
    float s[HD_TM][HD_TN];
#pragma unroll
    for (int r = 0; r < HD_TM; r++)
#pragma unroll
        for (int c = 0; c < HD_TN; c++)
            s[r][c] = HD_HSUM(acc[r][c]);
    for (; k < n_out; k++) {
        float w[HD_TN];
#pragma unroll
        for (int c = 0; c < HD_TN; c++)
            w[c] = wrow[c][k];
#pragma unroll
        for (int r = 0; r < HD_TM; r++) {
            float d = drow[r][k];
#pragma unroll
            for (int c = 0; c < HD_TN; c++)
                s[r][c] = fma(d, w[c], s[r][c]);
        }
    }
#pragma unroll
    for (int r = 0; r < HD_TM; r++) {
        if (b0 + r >= B)
            break;
#pragma unroll
        for (int c = 0; c < HD_TN; c++) {
            if (j0 + c >= n_in)
                break;
            ulong i = (ulong)(b0 + r) * n_in + j0 + c;
            D_prev[i] = s[r][c] * act_deriv_from_output(act_prev, A_prev[i]);
        }
    }
}

/* ---- hidden_delta_t: the same product from a transposed copy of W ----
 *   D_prev[b,j] = act'(A_prev[b,j]) sum_k D[b,k] WT[k,j],   WT = W^T (n_out x n_in, from
 *   transpose.cl)
 * Shapes: D B x n_out, WT n_out x n_in, A_prev B x n_in, D_prev B x n_in (=).
 * Why: with W^T the sum runs down the rows of WT, and a row of WT is contiguous along j, so this
 * is forward_layer's loop exactly: per k, one vector load of HT_TN columns of WT and HT_TM
 * broadcast FMAs, with no horizontal sums (hidden_delta above needs HD_TM x HD_TN of them, and
 * its narrow layers, n_out = 10, run mostly in its scalar tail). On PoCL this runs at the
 * forward kernel's speed; the transpose of the small hidden weight matrices costs less than the
 * time saved for batches of 16 and more (BENCHMARKS.md). Each output is one fma chain over k in
 * order, then the product with act'. Work-item block HT_TM x HT_TN (rows b, columns j), global
 * size (ceil(n_in/HT_TN), ceil(B/HT_TM)); edges as in forward_layer.cl. HT_TN is 2, 4, 8, 16 or
 * 32.
 * Twin: ref_hidden_delta_t. */
#ifndef HT_TM
#define HT_TM 8
#endif
#ifndef HT_TN
#define HT_TN 16
#endif
#if HT_TN != 2 && HT_TN != 4 && HT_TN != 8 && HT_TN != 16 && HT_TN != 32
#error "HT_TN must be 2, 4, 8, 16 or 32"
#endif

/* act_deriv_from_output of activations.cl on a vector a of N floats, lane by lane the same
 * formulas. */
#define HT_DERIV(N, a)                                                                            \
    (act_prev == ACT_SIGMOID ? (a) * (1.0f - (a))                                                 \
     : act_prev == ACT_TANH  ? 1.0f - (a) * (a)                                                   \
     : act_prev == ACT_RELU  ? select((VEC(N))0.0f, (VEC(N))1.0f, (a) > 0.0f)                     \
                             : (VEC(N))1.0f)

/* Columns [j, j + N * NV) for all HT_TM rows, as NV vectors of N per row, while they fit
 * below jend (NV = 2 for HT_TN 32, as in forward_layer.cl). */
#define HT_STRIP(N, NV)                                                                           \
    for (; j + N * NV <= jend; j += N * NV) {                                                     \
        VEC(N) acc[HT_TM][NV];                                                                    \
        VEC_BLOCK_SUM(N, NV, HT_TM, acc, drow, WT + j, n_out, n_in);                              \
        _Pragma("unroll") for (int r = 0; r < HT_TM; r++) {                                       \
            if (b0 + r >= B)                                                                      \
                break;                                                                            \
            _Pragma("unroll") for (int v = 0; v < NV; v++) {                                      \
                ulong i = (ulong)(b0 + r) * n_in + j + v * N;                                     \
                VEC(N) a = VLOAD(N, A_prev + i);                                                  \
                VSTORE(N, acc[r][v] * HT_DERIV(N, a), D_prev + i);                                \
            }                                                                                     \
        }                                                                                         \
    }

__kernel void hidden_delta_t(__global const float *restrict D, __global const float *restrict WT,
                             __global const float *restrict A_prev,
                             __global float *restrict D_prev, uint B, uint n_in, uint n_out,
                             int act_prev)
{
    uint j0 = get_global_id(0) * HT_TN, b0 = get_global_id(1) * HT_TM;
    if (j0 >= n_in || b0 >= B)
        return;
    __global const float *drow[HT_TM];
#pragma unroll
    for (int r = 0; r < HT_TM; r++)
        drow[r] = D + (ulong)min(b0 + r, B - 1) * n_out;
    uint j = j0, jend = min(j0 + HT_TN, n_in);
#if HT_TN == 32
    HT_STRIP(16, 2)
    HT_STRIP(16, 1)
#else
    HT_STRIP(HT_TN, 1)
#endif
#if HT_TN > 8
    HT_STRIP(8, 1)
#endif
#if HT_TN > 4
    HT_STRIP(4, 1)
#endif
#if HT_TN > 2
    HT_STRIP(2, 1)
#endif
    HT_STRIP(1, 1)
}
