/* forward_layer.cl - one layer forward, GEMM with the bias and activation fused.
 *   Z = A_prev W + b,  A = act(Z)        (A holds the logits Z when act is softmax)
 * Shapes: A_prev B x n_in, W n_in x n_out, b n_out, A B x n_out (=). All row-major.
 * Each work-item computes an FWD_TM x FWD_TN block of A in registers (rows b, columns k):
 * global size (ceil(n_out/FWD_TN), ceil(B/FWD_TM)) rounded up to the local size; work-items
 * past the edge return. Edge tiles clamp their loads into the matrix and skip their stores,
 * so the inner loop has no branches. Twin: ref_forward_layer in host/ref/ref_kernels.c. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#ifndef FWD_TM
#define FWD_TM 4
#endif
#ifndef FWD_TN
#define FWD_TN 8
#endif

__kernel void forward_layer(__global const float *restrict A_prev, __global const float *restrict W,
                            __global const float *restrict bias, __global float *restrict A,
                            uint B, uint n_in, uint n_out, int act)
{
    uint k0 = get_global_id(0) * FWD_TN, b0 = get_global_id(1) * FWD_TM;
    if (k0 >= n_out || b0 >= B)
        return;
    __global const float *row[FWD_TM];
    for (int r = 0; r < FWD_TM; r++)
        row[r] = A_prev + (ulong)min(b0 + r, B - 1) * n_in;
    uint col[FWD_TN];
    for (int c = 0; c < FWD_TN; c++)
        col[c] = min(k0 + c, n_out - 1);
    float acc[FWD_TM][FWD_TN];
    for (int r = 0; r < FWD_TM; r++)
        for (int c = 0; c < FWD_TN; c++)
            acc[r][c] = 0.0f;
    for (uint j = 0; j < n_in; j++) {
        __global const float *wj = W + (ulong)j * n_out;
        float w[FWD_TN];
        for (int c = 0; c < FWD_TN; c++)
            w[c] = wj[col[c]];
        for (int r = 0; r < FWD_TM; r++) {
            float a = row[r][j];
            for (int c = 0; c < FWD_TN; c++)
                acc[r][c] = fma(a, w[c], acc[r][c]);
        }
    }
    for (int r = 0; r < FWD_TM; r++) {
        if (b0 + r >= B)
            break;
        for (int c = 0; c < FWD_TN; c++)
            if (k0 + c < n_out)
                A[(ulong)(b0 + r) * n_out + k0 + c] = act_apply(act, acc[r][c] + bias[k0 + c]);
    }
}
