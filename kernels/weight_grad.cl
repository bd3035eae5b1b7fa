/* weight_grad.cl - the weight and bias gradients of one layer, summed over the batch.
 *   dW = A_prev^T D,   dW[j,k] = sum_b A_prev[b,j] D[b,k]
 *   db[k] = sum_b D[b,k]
 * Shapes: A_prev B x n_in, D B x n_out, dW n_in x n_out (=), db n_out (=). D already carries the
 * 1/B of the batch mean, so this is the gradient of the mean loss. The notes' update
 * dw_jk = eta delta_k a_j is "W -= eta dW" here (D = -delta). Each dW output is one fma chain
 * over b in order, each db output one chain of additions over b in order: deterministic, no
 * atomics, whatever the work sizes.
 *
 * The bias gradient rides along (it was its own kernel, one launch per layer, ~5 us each on
 * PoCL): every work-item adds up the rows of D it loads anyway (on the FP add ports, beside
 * the FMAs), and those of the first row block (j0 = 0) store the sums.
 *
 * Each work-item computes a WG_TM x WG_TN block of dW: rows j0.. (inputs), columns k0..
 * (units). Global size (ceil(n_out/WG_TN), ceil(n_in/WG_TM)), rounded up to the local size;
 * work-items past the edge return. Why this shape: the same as forward_layer.cl, with b as the
 * summed index: per b, the WG_TN columns of row b of D are one vector load, and the WG_TM
 * entries A_prev[b, j0..] are broadcast scalars: one load and WG_TM vector FMAs.
 * Edges: the last row block moves back inside n_in and stores only its own rows (rows are
 * clamped one by one only when n_in < WG_TM); a partial column tile runs strips of 16 (when
 * WG_TN is 32), 8, 4, 2 and 1 columns (never reading past a row). WG_TN is 2, 4, 8, 16 or 32
 * (two float16 per row, as in forward_layer.cl).
 *
 * The optimizer step rides along as well (update_rules.cl): with `update` not UPDATE_NONE, a
 * work-item steps the weights and biases whose gradients it has just stored (and their
 * moments), so the step needs no pass of its own. W, bias, mW, mb, vW, vb are the parameters
 * and their first and second moments; lr, mu, beta2, eps and l2 the rule's settings.
 * Twin: ref_weight_grad, then the optimizer's twin on its dW and db (ref_sgd_update, ...). */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#ifndef WG_TM
#define WG_TM 8
#endif
#ifndef WG_TN
#define WG_TN 16
#endif

#ifndef CLMLP_VEC_HELPERS
#include "vec.cl"
#endif
#ifndef CLMLP_UPDATE_RULES
#include "update_rules.cl"
#endif

#if WG_TN != 2 && WG_TN != 4 && WG_TN != 8 && WG_TN != 16 && WG_TN != 32
#error "WG_TN must be 2, 4, 8, 16 or 32"
#endif

/* Columns [k, k + N * NV) for all WG_TM rows js.. of the block, as NV vectors of N per row,
 * while they fit below kend; IX(r) is the offset of row js + r in a row of A_prev. Stores only
 * the rows from j0 on (see the kernel). NV = 2 (WG_TN 32) feeds each broadcast A value to two
 * vector FMAs. The loops over r and v must be unrolled: then acc[][] lives in registers
 * (without the pragma PoCL's build keeps it in memory and runs 5x slower). */
#define WG_STRIP(N, NV, IX)                                                                       \
    for (; k + N * NV <= kend; k += N * NV) {                                                     \
        VEC(N) acc[WG_TM][NV], colsum[NV];                                                        \
        _Pragma("unroll") for (int v = 0; v < NV; v++) {                                          \
            colsum[v] = (VEC(N))0.0f;                                                             \
            _Pragma("unroll") for (int r = 0; r < WG_TM; r++)                                     \
                acc[r][v] = (VEC(N))0.0f;                                                         \
        }                                                                                         \
        __global const float *d = D + k, *a = A_prev + js;                                        \
        for (uint b = 0; b < B; b++, d += n_out, a += n_in) {                                     \
            VEC(N) dv[NV];                                                                        \
            _Pragma("unroll") for (int v = 0; v < NV; v++)                                        \
                dv[v] = VLOAD(N, d + v * N);                                                      \
            _Pragma("unroll") for (int r = 0; r < WG_TM; r++) {                                   \
                float a_ = a[IX(r)];                                                              \
                _Pragma("unroll") for (int v = 0; v < NV; v++)                                    \
                    acc[r][v] = fma((VEC(N))a_, dv[v], acc[r][v]);                                \
            }                                                                                     \
            _Pragma("unroll") for (int v = 0; v < NV; v++)                                        \
                colsum[v] += dv[v];                                                               \
        }                                                                                         \
        _Pragma("unroll") for (int r = 0; r < WG_TM; r++)                                         \
            if (js + r >= j0 && js + r < n_in)                                                    \
                _Pragma("unroll") for (int v = 0; v < NV; v++) {                                  \
                    ulong o_ = (ulong)(js + r) * n_out + k + v * N;                               \
                    VSTORE(N, acc[r][v], dW + o_);                                                \
                    APPLY_UPDATE(N, W + o_, mW + o_, vW + o_, acc[r][v], l2);                     \
                }                                                                                 \
        if (j0 == 0)                                                                              \
            _Pragma("unroll") for (int v = 0; v < NV; v++) {                                      \
                VSTORE(N, colsum[v], db + k + v * N);                                             \
                ulong c_ = k + v * N;                                                             \
                APPLY_UPDATE(N, bias + c_, mb + c_, vb + c_, colsum[v], 0.0f);                    \
            }                                                                                     \
    }

/* The strips of all widths for one kind of row offset IX. */
#if WG_TN == 32
#define WG_STRIP_BULK(IX) WG_STRIP(16, 2, IX) WG_STRIP(16, 1, IX)
#else
#define WG_STRIP_BULK(IX) WG_STRIP(WG_TN, 1, IX)
#endif
#if WG_TN > 8
#define WG_STRIP_8(IX) WG_STRIP(8, 1, IX)
#else
#define WG_STRIP_8(IX)
#endif
#if WG_TN > 4
#define WG_STRIP_4(IX) WG_STRIP(4, 1, IX)
#else
#define WG_STRIP_4(IX)
#endif
#if WG_TN > 2
#define WG_STRIP_2(IX) WG_STRIP(2, 1, IX)
#else
#define WG_STRIP_2(IX)
#endif
#define WG_STRIPS(IX)                                                                             \
    WG_STRIP_BULK(IX) WG_STRIP_8(IX) WG_STRIP_4(IX) WG_STRIP_2(IX) WG_STRIP(1, 1, IX)
#define WG_ROW_DIRECT(r) (r)
#define WG_ROW_CLAMPED(r) jr[r]

__kernel void weight_grad(__global const float *restrict A_prev, __global const float *restrict D,
                          __global float *restrict dW, __global float *restrict db, uint B,
                          uint n_in, uint n_out, __global float *restrict W,
                          __global float *restrict bias, __global float *restrict mW,
                          __global float *restrict mb, __global float *restrict vW,
                          __global float *restrict vb, int update, float lr, float mu,
                          float beta2, float eps, float l2)
{
    uint k0 = get_global_id(0) * WG_TN, j0 = get_global_id(1) * WG_TM;
    if (k0 >= n_out || j0 >= n_in)
        return;
    /* The block's rows are js..js+WG_TM-1 with js = j0, except the last block of a layer
     * whose n_in is not a multiple of WG_TM: it moves back to end at row n_in - 1 (overlapping
     * the block before, whose rows it computes again but does not store). Then the WG_TM
     * values of row b of A_prev sit at constant offsets from one pointer, so each broadcast is
     * a plain memory operand of its FMA: with the rows clamped one by one instead, each needed
     * its own index register, and Intel cores split such indexed FMAs into two micro-ops
     * (weight_grad 5-10% slower on one core of a Xeon, BENCHMARKS.md). Only a layer with
     * fewer than WG_TM inputs clamps. Each dW value is the same fma chain either way. */
    uint k = k0, kend = min(k0 + WG_TN, n_out);
    if (n_in >= WG_TM) {
        uint js = min(j0, n_in - WG_TM);
        WG_STRIPS(WG_ROW_DIRECT)
    } else {
        uint js = 0, jr[WG_TM];
#pragma unroll
        for (int r = 0; r < WG_TM; r++)
            jr[r] = min(j0 + r, n_in - 1);
        WG_STRIPS(WG_ROW_CLAMPED)
    }
}
