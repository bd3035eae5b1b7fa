/* hidden_delta.cl - the hidden delta recursion, one layer back.
 *   D_prev = (D W^T) * act'(A_prev),   act' from the stored activation (a(1-a), 1-a^2, a>0)
 * Shapes: D B x n_out, W n_in x n_out, A_prev B x n_in, D_prev B x n_in (=).
 * In the notes' terms, delta_j = sum_k delta_k w_jk sigma'(j), with our D = -delta.
 * Each work-item computes an HD_TM x HD_TN block of D_prev (rows b, columns j); edges as in
 * forward_layer.cl. Twin: ref_hidden_delta. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#ifndef HD_TM
#define HD_TM 4
#endif
#ifndef HD_TN
#define HD_TN 8
#endif

__kernel void hidden_delta(__global const float *restrict D, __global const float *restrict W,
                           __global const float *restrict A_prev, __global float *restrict D_prev,
                           uint B, uint n_in, uint n_out, int act_prev)
{
    uint j0 = get_global_id(0) * HD_TN, b0 = get_global_id(1) * HD_TM;
    if (j0 >= n_in || b0 >= B)
        return;
    __global const float *drow[HD_TM];
    for (int r = 0; r < HD_TM; r++)
        drow[r] = D + (ulong)min(b0 + r, B - 1) * n_out;
    __global const float *wrow[HD_TN];
    for (int c = 0; c < HD_TN; c++)
        wrow[c] = W + (ulong)min(j0 + c, n_in - 1) * n_out;
    float acc[HD_TM][HD_TN];
    for (int r = 0; r < HD_TM; r++)
        for (int c = 0; c < HD_TN; c++)
            acc[r][c] = 0.0f;
    for (uint k = 0; k < n_out; k++) {
        float w[HD_TN];
        for (int c = 0; c < HD_TN; c++)
            w[c] = wrow[c][k];
        for (int r = 0; r < HD_TM; r++) {
            float d = drow[r][k];
            for (int c = 0; c < HD_TN; c++)
                acc[r][c] = fma(d, w[c], acc[r][c]);
        }
    }
    for (int r = 0; r < HD_TM; r++) {
        if (b0 + r >= B)
            break;
        for (int c = 0; c < HD_TN; c++) {
            if (j0 + c >= n_in)
                break;
            ulong i = (ulong)(b0 + r) * n_in + j0 + c;
            D_prev[i] = acc[r][c] * act_deriv_from_output(act_prev, A_prev[i]);
        }
    }
}
