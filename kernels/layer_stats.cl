/* layer_stats.cl - per-column partial sums of one layer's training diagnostics (vanishing
 * gradients), reduced once on the host when asked (host/engine.c).
 *   part[(col0+k)*4 + 0] = sum_b |D[b,k]|                         (error terms reaching unit k)
 *   part[(col0+k)*4 + 1] = ||dW[:,k]|| = sqrt(sum_j dW[j,k]^2)     (weight gradient into unit k)
 *   part[(col0+k)*4 + 2] = ||W[:,k]||                             (weights into unit k)
 *   part[(col0+k)*4 + 3] = #{b : A[b,k] is saturated}             (a count, exact in float up to
 *                                                                  2^24 = the largest batch)
 * "Saturated" depends on the layer's activation: sigmoid a <= 1e-3 or a >= 1 - 1e-3, tanh
 * |a| >= 1 - 1e-3 (within 1e-3 of the bounds, where sigma' < 1e-3); relu a <= 0 (inactive, so
 * a column whose count is B is dead on the whole batch); identity and softmax logits never.
 * Shapes: A and D B x n_out, dW and W n_in x n_out, part: 4 floats per column written at
 * columns col0 .. col0+n_out-1 (=), so all layers share one buffer.
 * One work-item per column k; every sum runs in index order: deterministic, no atomics.
 * The norms are scaled (col_norm): a plain float sum of squares overflows for entries past
 * ~1.8e19 and, worse for a vanishing-gradient diagnostic, underflows for entries below ~1e-19
 * (their squares are subnormal or 0: a 30-layer sigmoid net's first-layer gradient, ~1e-21 per
 * entry, came out with a few bits right, and 0 where subnormals flush). The host squares them
 * in double to sum the columns.
 * Twin: ref_layer_stats. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

#define LS_FIELDS 4
#define LS_SAT_EPS 1e-3f

inline int ls_saturated(int act, float a)
{
    switch (act) {
    case ACT_SIGMOID: return a <= LS_SAT_EPS || a >= 1.0f - LS_SAT_EPS;
    case ACT_TANH: return fabs(a) >= 1.0f - LS_SAT_EPS;
    case ACT_RELU: return a <= 0.0f;
    default: return 0;
    }
}

/* ||x[0], x[stride], ... (n entries)||_2 without overflow or underflow: the largest magnitude m,
 * then m sqrt(sum (x_j / m)^2), each quotient within [-1, 1] (LAPACK's nrm2 idea, in two
 * passes). 0 for a zero column; NaN when an entry is NaN (fmax would skip it, so it is looked
 * for: an all-NaN column must not read as a vanished 0), else inf when one is inf. */
inline float col_norm(__global const float *x, uint n, uint stride)
{
    float m = 0.0f;
    int nan_seen = 0;
    for (uint j = 0; j < n; j++) {
        float a = fabs(x[(ulong)j * stride]);
        nan_seen |= isnan(a);
        m = fmax(m, a);
    }
    if (nan_seen)
        return NAN;
    if (m == 0.0f || isinf(m))
        return m;
    float s = 0.0f;
    for (uint j = 0; j < n; j++) {
        float q = x[(ulong)j * stride] / m;
        s = fma(q, q, s);
    }
    return m * sqrt(s);
}

__kernel void layer_stats(__global const float *restrict A, __global const float *restrict D,
                          __global const float *restrict dW, __global const float *restrict W,
                          __global float *restrict part, uint B, uint n_in, uint n_out, int act,
                          uint col0)
{
    uint k = get_global_id(0);
    if (k >= n_out)
        return;
    float abs_d = 0.0f, sat = 0.0f;
    for (uint b = 0; b < B; b++) {
        ulong i = (ulong)b * n_out + k;
        abs_d += fabs(D[i]);
        sat += ls_saturated(act, A[i]) ? 1.0f : 0.0f;
    }
    __global float *p = part + (ulong)(col0 + k) * LS_FIELDS;
    p[0] = abs_d;
    p[1] = col_norm(dW + k, n_in, n_out);
    p[2] = col_norm(W + k, n_in, n_out);
    p[3] = sat;
}
