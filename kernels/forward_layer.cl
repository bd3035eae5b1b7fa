/* forward_layer.cl - one layer forward, GEMM with the bias and activation fused.
 *   Z = A_prev W + b,  A = act(Z)        (A holds the logits Z when act is softmax)
 * Shapes: A_prev B x n_in, W n_in x n_out, b n_out, A B x n_out (=). All row-major.
 *
 * Each work-item computes an FWD_TM x FWD_TN block of A in registers: rows b0.. (samples),
 * columns k0.. (units). Global size (ceil(n_out/FWD_TN), ceil(B/FWD_TM)), rounded up to the
 * local size; work-items past the edge return. The result does not depend on the local size.
 *
 * Why this shape: W is contiguous along k, so the FWD_TN columns of one W row are one vector
 * load (vloadN), and each of the FWD_TM rows of A_prev contributes one broadcast scalar: per j,
 * one vector load and FWD_TM vector FMAs. On a CPU (PoCL) a work-item is one loop iteration,
 * so the vector types are what reaches the SIMD units (PoCL's implicit vectoriser does not
 * vectorise a work-item loop that contains the j loop). FWD_TN is 2, 4, 8, 16 or 32; 32 is two
 * float16 per row, so each broadcast A value feeds two FMAs: on cores with two 512-bit FMA
 * ports one broadcast per FMA left them a quarter idle (host/cl/cl_program.c).
 *
 * Edges: rows past B are clamped for loading (no branch in the inner loop) and not stored.
 * Columns: a full tile runs one strip of FWD_TN columns; the last, partial tile runs strips of
 * 16 (when FWD_TN is 32), 8, 4, 2 and 1 columns, so a narrow layer (n_out = 10) stays
 * vectorised and never reads past a row. Each output is one fma chain over j in order, then
 * + b, then the activation by the vector built-ins (same formulas, same OpenCL ulp bounds as
 * the scalar ones).
 * Twin: ref_forward_layer in host/ref/ref_kernels.c. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#ifndef FWD_TM
#define FWD_TM 8
#endif
#ifndef FWD_TN
#define FWD_TN 16
#endif

#ifndef CLMLP_VEC_HELPERS
#include "vec.cl"
#endif

#if FWD_TN != 2 && FWD_TN != 4 && FWD_TN != 8 && FWD_TN != 16 && FWD_TN != 32
#error "FWD_TN must be 2, 4, 8, 16 or 32"
#endif

/* act_apply of activations.cl on a vector z of N floats, lane by lane the same formulas: the
 * built-ins then run vectorised (PoCL's scalar tanh/exp calls cost more than the GEMM).
 * Sigmoid: exp(-|z|) is exp(-z) for z >= 0 and exp(z) below, as in act_sigmoid. */
#define FWD_ACT(N, z)                                                                             \
    switch (act) {                                                                                \
    case ACT_SIGMOID: {                                                                           \
        VEC(N) e_ = exp(-fabs(z));                                                                \
        z = select(e_, (VEC(N))1.0f, z >= 0.0f) / (1.0f + e_);                                    \
        break;                                                                                    \
    }                                                                                             \
    case ACT_TANH: z = TANH_EXACT(z, (VEC(N))1.0f); break;                                        \
    case ACT_RELU: z = fmax(z, 0.0f); break;                                                      \
    default: break; /* identity, and softmax logits */                                            \
    }

/* Floats of FWD_TM rows of N columns, rounded up to whole float16s. */
#define FWD_PACK(N) ((FWD_TM * (N) + 15) / 16 * 16)

/* Columns [k, k + N * NV) for all FWD_TM rows, as NV vectors of N per row (NV = 2 for FWD_TN
 * 32), while they fit below kend: the block sum (VEC_BLOCK_SUM in vec.cl), then the epilogue.
 * The epilogue's loops must be unrolled too. */
#define FWD_STRIP(N, NV)                                                                          \
    for (; k + N * NV <= kend; k += N * NV) {                                                     \
        VEC(N) acc[FWD_TM][NV];                                                                   \
        VEC_BLOCK_SUM(N, NV, FWD_TM, acc, row, W + k, n_in, n_out);                               \
        if (N == 16) {                                                                            \
            _Pragma("unroll") for (int r = 0; r < FWD_TM; r++) {                                  \
                if (b0 + r >= B)                                                                  \
                    break;                                                                        \
                _Pragma("unroll") for (int v = 0; v < NV; v++) {                                  \
                    VEC(N) z = acc[r][v] + VLOAD(N, bias + k + v * N);                            \
                    FWD_ACT(N, z);                                                                \
                    VSTORE(N, z, A + (ulong)(b0 + r) * n_out + k + v * N);                        \
                }                                                                                 \
            }                                                                                     \
        } else {                                                                                  \
            /* A narrow strip: the FWD_TM rows' N columns packed into float16s, so that the       \
             * activation runs once per 16 values and not once per row on a short vector (the     \
             * tanh or exp of a float2 costs as much as of a float16: 10-unit layers ran their    \
             * epilogue at a quarter of the speed). The lanes past FWD_TM * N hold 0. */          \
            VEC(N) bv = VLOAD(N, bias + k); /* NV is 1 here */                                    \
            float t[FWD_PACK(N)];                                                                 \
            _Pragma("unroll") for (int r = 0; r < FWD_TM; r++)                                    \
                VSTORE(N, acc[r][0] + bv, t + r * N);                                             \
            _Pragma("unroll") for (int i = FWD_TM * N; i < FWD_PACK(N); i++) t[i] = 0.0f;         \
            _Pragma("unroll") for (int i = 0; i < FWD_PACK(N) / 16; i++) {                        \
                float16 z = vload16(i, t);                                                        \
                FWD_ACT(16, z);                                                                   \
                vstore16(z, i, t);                                                                \
            }                                                                                     \
            _Pragma("unroll") for (int r = 0; r < FWD_TM; r++) {                                  \
                if (b0 + r >= B)                                                                  \
                    break;                                                                        \
                VSTORE(N, VLOAD(N, t + r * N), A + (ulong)(b0 + r) * n_out + k);                  \
            }                                                                                     \
        }                                                                                         \
    }

__kernel void forward_layer(__global const float *restrict A_prev, __global const float *restrict W,
                            __global const float *restrict bias, __global float *restrict A,
                            uint B, uint n_in, uint n_out, int act)
{
    uint k0 = get_global_id(0) * FWD_TN, b0 = get_global_id(1) * FWD_TM;
    if (k0 >= n_out || b0 >= B)
        return;
    __global const float *row[FWD_TM];
#pragma unroll
    for (int r = 0; r < FWD_TM; r++)
        row[r] = A_prev + (ulong)min(b0 + r, B - 1) * n_in;
    uint k = k0, kend = min(k0 + FWD_TN, n_out);
#if FWD_TN == 32
    FWD_STRIP(16, 2)
    FWD_STRIP(16, 1)
#else
    FWD_STRIP(FWD_TN, 1)
#endif
#if FWD_TN > 8
    FWD_STRIP(8, 1)
#endif
#if FWD_TN > 4
    FWD_STRIP(4, 1)
#endif
#if FWD_TN > 2
    FWD_STRIP(2, 1)
#endif
    FWD_STRIP(1, 1)
}

/* forward_layer_t - the same layer forward for a narrow layer (n_out <= 16), from W^T
 * (n_out x n_in, hidden_delta_t's copy) in dot form: each output is a dot product of a row of
 * A_prev and a row of W^T, both contiguous along j, so float16 vectors run along j with every
 * lane used. (forward_layer runs its vectors along k: for 10 units that is a float8 and a
 * float2 per row and step, at the FMA cost of two full vectors, and rows of W 40 bytes apart.)
 * A work-item computes FWT_TM rows and every output, two outputs at a time; each output is 16
 * fma chains over j (lane i takes j = i, i+16, ...) summed by a fixed tree at the end:
 * deterministic, a different rounding order from forward_layer's (within the same
 * dot-product bound, which the tree's log2(16) depth only tightens). Global size
 * (1, ceil(B/FWT_TM)); work-items past the edge return. Edges: rows clamped for loading and
 * not stored; the last partial 16 of j loaded lane by lane. On one PoCL core, 256 x 128 x 10
 * alone: 9.2-9.3 us against forward_layer's 12.0-14.6 (softmax logits), 10.2-10.4 against
 * 13.1-16.0 (sigmoid output) (`clmlp bench --alone-reps`, BENCHMARKS.md). Twin:
 * ref_forward_layer_t. */
#define FWT_TM 8

/* The sum of the 16 lanes, by halves: always the same tree. */
static inline float fwt_hsum16(float16 v)
{
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

/* acc0/acc1 += the rows' float16 at j times v0/v1, for all FWT_TM rows. */
#define FWT_STEP(LOAD_A)                                                                          \
    _Pragma("unroll") for (int r = 0; r < FWT_TM; r++) {                                          \
        float16 a;                                                                                \
        LOAD_A;                                                                                   \
        acc0[r] = fma(a, v0, acc0[r]);                                                            \
        acc1[r] = fma(a, v1, acc1[r]);                                                            \
    }

__kernel void forward_layer_t(__global const float *restrict A_prev,
                              __global const float *restrict WT, __global const float *restrict bias,
                              __global float *restrict A, uint B, uint n_in, uint n_out, int act)
{
    uint b0 = get_global_id(1) * FWT_TM;
    if (b0 >= B || n_out > 16)
        return;
    __global const float *row[FWT_TM];
#pragma unroll
    for (int r = 0; r < FWT_TM; r++)
        row[r] = A_prev + (ulong)min(b0 + r, B - 1) * n_in;
    uint j_full = n_in / 16 * 16, tail = n_in - j_full;
    float z[FWT_TM][16];
    for (uint c = 0; c < n_out; c += 2) {
        /* outputs c and c + 1 (c again when n_out is odd: computed twice, stored once) */
        __global const float *w0 = WT + (ulong)c * n_in;
        __global const float *w1 = WT + (ulong)min(c + 1, n_out - 1) * n_in;
        float16 acc0[FWT_TM], acc1[FWT_TM], v0, v1;
#pragma unroll
        for (int r = 0; r < FWT_TM; r++)
            acc0[r] = acc1[r] = (float16)0.0f;
        for (uint j = 0; j < j_full; j += 16) {
            v0 = vload16(0, w0 + j);
            v1 = vload16(0, w1 + j);
            FWT_STEP(a = vload16(0, row[r] + j))
        }
        if (tail) {
            VLOAD_PART(16, w0 + j_full, tail, v0);
            VLOAD_PART(16, w1 + j_full, tail, v1);
            FWT_STEP(VLOAD_PART(16, row[r] + j_full, tail, a))
        }
#pragma unroll
        for (int r = 0; r < FWT_TM; r++) {
            z[r][c] = fwt_hsum16(acc0[r]);
            z[r][c + 1] = fwt_hsum16(acc1[r]); /* c + 1 <= 15: c is even and n_out <= 16 */
        }
    }
    /* Bias, then the activation on the rows packed back to back (FWT_TM * n_out values in
     * ceil(FWT_TM * n_out / 16) float16s, not one mostly idle float16 per row: tanh and exp
     * cost per vector), then the stores. */
    float t[FWT_TM * 16];
    uint packed = 0;
#pragma unroll
    for (int r = 0; r < FWT_TM; r++)
        for (uint k = 0; k < n_out; k++)
            t[packed++] = z[r][k] + bias[k];
    for (uint i = packed; i < FWT_TM * 16; i++)
        t[i] = 0.0f;
    for (uint i = 0; i < packed; i += 16) {
        float16 v = vload16(0, t + i);
        FWD_ACT(16, v);
        vstore16(v, 0, t + i);
    }
    for (uint r = 0; r < FWT_TM && b0 + r < B; r++)
        for (uint k = 0; k < n_out; k++)
            A[(ulong)(b0 + r) * n_out + k] = t[r * n_out + k];
}
