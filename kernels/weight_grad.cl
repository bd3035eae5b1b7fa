/* weight_grad.cl - the weight gradient of one layer, summed over the batch.
 *   dW = A_prev^T D,   dW[j,k] = sum_b A_prev[b,j] D[b,k]
 * Shapes: A_prev B x n_in, D B x n_out, dW n_in x n_out (=). D already carries the 1/B of the
 * batch mean, so this is the gradient of the mean loss. The notes' update dw_jk = eta delta_k a_j
 * is "W -= eta dW" here (D = -delta). The sum over b runs in order: deterministic.
 * Each work-item computes a WG_TM x WG_TN block of dW (rows j, columns k). Twin: ref_weight_grad. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#ifndef WG_TM
#define WG_TM 4
#endif
#ifndef WG_TN
#define WG_TN 8
#endif

__kernel void weight_grad(__global const float *restrict A_prev, __global const float *restrict D,
                          __global float *restrict dW, uint B, uint n_in, uint n_out)
{
    uint k0 = get_global_id(0) * WG_TN, j0 = get_global_id(1) * WG_TM;
    if (k0 >= n_out || j0 >= n_in)
        return;
    uint rowj[WG_TM], colk[WG_TN];
    for (int r = 0; r < WG_TM; r++)
        rowj[r] = min(j0 + r, n_in - 1);
    for (int c = 0; c < WG_TN; c++)
        colk[c] = min(k0 + c, n_out - 1);
    float acc[WG_TM][WG_TN];
    for (int r = 0; r < WG_TM; r++)
        for (int c = 0; c < WG_TN; c++)
            acc[r][c] = 0.0f;
    for (uint b = 0; b < B; b++) {
        __global const float *ab = A_prev + (ulong)b * n_in;
        __global const float *db = D + (ulong)b * n_out;
        float d[WG_TN];
        for (int c = 0; c < WG_TN; c++)
            d[c] = db[colk[c]];
        for (int r = 0; r < WG_TM; r++) {
            float a = ab[rowj[r]];
            for (int c = 0; c < WG_TN; c++)
                acc[r][c] = fma(a, d[c], acc[r][c]);
        }
    }
    for (int r = 0; r < WG_TM; r++) {
        if (j0 + r >= n_in)
            break;
        for (int c = 0; c < WG_TN; c++)
            if (k0 + c < n_out)
                dW[(ulong)(j0 + r) * n_out + k0 + c] = acc[r][c];
    }
}
