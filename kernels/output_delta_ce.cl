/* output_delta_ce.cl - softmax + cross-entropy: error term, per-sample loss and correctness.
 *   m = max_k z_k (at index best),  ls = log sum_k exp(z_k - m) = log1p(rest),
 *   rest = sum over k != best of exp(z_k - m)                 (never overflows: shared/cases C02)
 *   loss[first+b] = (m - z[label]) + ls   (not -log p_y, which is inf once p_y underflows to 0;
 *                   and not (m + ls) - z[label], which loses ls in the rounding of m when the
 *                   logits are large: C02 case D, logits 1e4, needs ln 4 to 1e-5)
 *   D[b,k] = (exp((z_k - m) - ls) - y_k) / B
 *   correct[first+b] = (argmax_k z == label)   (ties go to the lowest index)
 * ls is log1p of the terms past the maximum, not log of 1 + them (softmax_log_sum in
 * activations.cl says why); the packed path below computes the same sum from its packed exps.
 * Softmax runs over the classes of one sample (a row), never over the batch (C05).
 * Shapes: Z B x n (logits), labels B, D B x n (=).
 *
 * A work-item takes CE_ROWS samples. With up to CE_PACK classes (the usual 10) their values
 * are packed back to back into float16s for the two exps, and the rows' log1p taken as one
 * float8, so they run 16 (8) lanes at a time: the scalar exps cost ~5 ns a value in this
 * kernel, and it took 28 us of a 1240 us step at batch 256 on one core of a Zen 5 (as much as
 * the SGD update of all 235k parameters), against ~0.3 ns a value for a float16 exp (11 us,
 * BENCHMARKS.md). Wider rows run one value at a time. Both evaluate the same formulas in the
 * same order; a vector exp may round differently from a scalar one (both within OpenCL's 3
 * ulp), so the two paths agree to a few ulp, not bit for bit.
 * Twin: ref_output_delta_ce. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif

#define CE_ROWS 8
#define CE_PACK 16

/* exp of t[0 .. count) in place, 16 lanes at a time (count a multiple of 16). */
static inline void exp_packed(float *t, uint count)
{
    for (uint i = 0; i < count; i += 16)
        vstore16(exp(vload16(0, t + i)), 0, t + i);
}

/* One sample of more than CE_PACK classes, one value at a time. */
static inline void ce_row(__global const float *z, int label, __global float *d, float inv_b,
                          uint n, float *loss, int *correct)
{
    uint best;
    float m, ls = softmax_log_sum(z, n, &best, &m);
    for (uint k = 0; k < n; k++)
        d[k] = (exp((z[k] - m) - ls) - (k == (uint)label ? 1.0f : 0.0f)) * inv_b;
    *loss = (m - z[label]) + ls;
    *correct = best == (uint)label;
}

__kernel void output_delta_ce(__global const float *restrict Z, __global const int *restrict labels,
                              __global float *restrict D, __global float *restrict loss,
                              __global int *restrict correct, uint B, uint n, uint first)
{
    uint b0 = get_global_id(0) * CE_ROWS;
    if (b0 >= B)
        return;
    uint rows = min((uint)CE_ROWS, B - b0);
    float inv_b = 1.0f / (float)B;
    if (n > CE_PACK) {
        for (uint r = 0; r < rows; r++) {
            uint b = b0 + r;
            float l;
            int ok;
            ce_row(Z + (ulong)b * n, labels[b], D + (ulong)b * n, inv_b, n, &l, &ok);
            loss[first + b] = l;
            correct[first + b] = ok;
        }
        return;
    }
    /* The rows' values back to back in t (row r at r * n), zeros after them. */
    __global const float *z = Z + (ulong)b0 * n;
    uint count = rows * n, padded = (count + 15) / 16 * 16;
    float t[CE_ROWS * CE_PACK], m[CE_ROWS], ls[CE_ROWS];
    uint best[CE_ROWS];
    for (uint r = 0; r < rows; r++) {
        best[r] = argmax_row(z + r * n, n);
        m[r] = z[r * n + best[r]];
        for (uint k = 0; k < n; k++)
            t[r * n + k] = z[r * n + k] - m[r];
    }
    for (uint i = count; i < padded; i++)
        t[i] = 0.0f;
    exp_packed(t, padded);
    for (uint r = 0; r < CE_ROWS; r++) {
        float rest = 0.0f;
        if (r < rows) {
            t[r * n + best[r]] = 0.0f; /* the maximum's exp(0) = 1 is not part of rest */
            for (uint k = 0; k < n; k++)
                rest += t[r * n + k];
        }
        ls[r] = rest; /* rows past the batch: log1p(0), unused */
    }
    vstore8(log1p(vload8(0, ls)), 0, ls);
    for (uint r = 0; r < rows; r++)
        for (uint k = 0; k < n; k++)
            t[r * n + k] = (z[r * n + k] - m[r]) - ls[r];
    exp_packed(t, padded);
    for (uint r = 0; r < rows; r++) {
        uint b = b0 + r;
        int label = labels[b];
        for (uint k = 0; k < n; k++)
            D[(ulong)b * n + k] = (t[r * n + k] - (k == (uint)label ? 1.0f : 0.0f)) * inv_b;
        loss[first + b] = (m[r] - z[r * n + label]) + ls[r];
        correct[first + b] = best[r] == (uint)label;
    }
}
