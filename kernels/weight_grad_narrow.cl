/* weight_grad_narrow.cl - weight_grad for a narrow layer (fewer units than a weight_grad tile
 * is wide, e.g. the 10-unit output layer): the same sums, vectorised along the inputs j.
 *   dW = A_prev^T D,   dW[j,k] = sum_b A_prev[b,j] D[b,k];   db[k] = sum_b D[b,k]
 * Shapes: A_prev B x n_in, D B x n_out, dW n_in x n_out (=), db n_out (=).
 *
 * Why: weight_grad runs its vectors along the units k. With n_out = 10 a float16 is 10/16 used
 * (or a float8 and a float2, two passes), so the product runs at ~60% of the FMA rate. Here a
 * work-item owns WGN_TJ consecutive inputs j (WGN_JV float16 vectors of A_prev's row b, which is
 * contiguous along j) and every unit k, k taken in strips of 8, 4, 2, 1 accumulators per
 * vector; row b of D gives broadcast scalars. Every lane is used.
 *
 * Each dW[j,k] is the same fma chain over b in order as in weight_grad, and each db[k] the same
 * chain of additions, so the two kernels give bit-identical results (the kernel test checks
 * that as well as the twin). The first work-item (j0 = 0) adds up the columns of D for db. The results are
 * stored transposed from registers (one scalar per output: n_in * n_out of them, against
 * B * n_in * n_out FMAs). Global size ceil(n_in / WGN_TJ); work-items past the edge return.
 * The last work-item of a row that is not a multiple of WGN_TJ long loads lane by lane (never
 * past A_prev). The optimizer step of its epilogue and its arguments are weight_grad's
 * (update_rules.cl). Twin: ref_weight_grad_narrow (= ref_weight_grad). */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#ifndef CLMLP_VEC_HELPERS
#include "vec.cl"
#endif
#ifndef CLMLP_UPDATE_RULES
#include "update_rules.cl"
#endif

#define WGN_JV 2                /* float16 vectors along j per work-item */
#define WGN_TJ (16 * WGN_JV)    /* inputs j per work-item */

/* Row b of A_prev, inputs [j0, j0 + WGN_TJ), into av[]: vector loads when the block is whole,
 * lane by lane (zeros past n_in) when it is the short last one. */
#define WGN_LOAD_A(a)                                                                             \
    _Pragma("unroll") for (int v = 0; v < WGN_JV; v++) {                                          \
        if (whole)                                                                                \
            av[v] = vload16(0, (a) + 16 * v);                                                     \
        else                                                                                      \
            VLOAD_PART(16, (a) + 16 * v, (uint)clamp((int)n_in - (int)(j0 + 16 * v), 0, 16),      \
                       av[v]);                                                                    \
    }

/* Units [k, k + KB) for all WGN_TJ inputs, KB at a time while they fit below n_out. */
#define WGN_STRIP(KB)                                                                             \
    for (; k + KB <= n_out; k += KB) {                                                            \
        float16 acc[KB][WGN_JV], av[WGN_JV];                                                      \
        float colsum[KB];                                                                         \
        _Pragma("unroll") for (int c = 0; c < KB; c++) colsum[c] = 0.0f;                          \
        _Pragma("unroll") for (int c = 0; c < KB; c++)                                            \
            _Pragma("unroll") for (int v = 0; v < WGN_JV; v++)                                    \
                acc[c][v] = (float16)0.0f;                                                        \
        __global const float *a = A_prev + j0, *d = D + k;                                        \
        for (uint b = 0; b < B; b++, a += n_in, d += n_out) {                                     \
            WGN_LOAD_A(a)                                                                         \
            _Pragma("unroll") for (int c = 0; c < KB; c++)                                        \
                _Pragma("unroll") for (int v = 0; v < WGN_JV; v++)                                \
                    acc[c][v] = fma((float16)d[c], av[v], acc[c][v]);                             \
            if (j0 == 0)                                                                          \
                _Pragma("unroll") for (int c = 0; c < KB; c++) colsum[c] += d[c];                 \
        }                                                                                         \
        if (j0 == 0)                                                                              \
            _Pragma("unroll") for (int c = 0; c < KB; c++) {                                      \
                db[k + c] = colsum[c];                                                            \
                APPLY_UPDATE(1, bias + k + c, mb + k + c, vb + k + c, colsum[c], 0.0f);           \
            }                                                                                     \
        _Pragma("unroll") for (int c = 0; c < KB; c++)                                            \
            _Pragma("unroll") for (int v = 0; v < WGN_JV; v++) {                                  \
                float t[16];                                                                      \
                vstore16(acc[c][v], 0, t);                                                        \
                uint jb = j0 + 16 * v;                                                            \
                for (uint i = 0; i < 16 && jb + i < n_in; i++) {                                  \
                    ulong o_ = (ulong)(jb + i) * n_out + k + c;                                   \
                    dW[o_] = t[i];                                                                \
                    APPLY_UPDATE(1, W + o_, mW + o_, vW + o_, t[i], l2);                          \
                }                                                                                 \
            }                                                                                     \
    }

__kernel void weight_grad_narrow(__global const float *restrict A_prev,
                                 __global const float *restrict D, __global float *restrict dW,
                                 __global float *restrict db, uint B, uint n_in, uint n_out,
                                 __global float *restrict W, __global float *restrict bias,
                                 __global float *restrict mW, __global float *restrict mb,
                                 __global float *restrict vW, __global float *restrict vb,
                                 int update, float lr, float mu, float beta2, float eps,
                                 float l2)
{
    uint j0 = get_global_id(0) * WGN_TJ;
    if (j0 >= n_in)
        return;
    int whole = j0 + WGN_TJ <= n_in;
    uint k = 0;
    WGN_STRIP(8)
    WGN_STRIP(4)
    WGN_STRIP(2)
    WGN_STRIP(1)
}
