/* test_kernels.c - every OpenCL kernel against its CPU twin (host/ref) on random inputs of
 * awkward shapes, with outputs poisoned to NaN and guarded by sentinels.
 *
 * Tolerances. The twins sum in double and round once; the kernels sum n float products with
 * fma. Higham's bound for a float dot product (Accuracy and Stability of Numerical Algorithms,
 * eq. 3.5) is |err| <= gamma_n * sum |x_i y_i| with gamma_n = n u / (1 - n u), u = 2^-24. We
 * compute sum |x_i y_i| per element by running the same twin on |inputs|, and allow
 * (n + 2) u times it (the +2 covers the bias add and the final rounding), plus 16 u |want| for
 * the activation or derivative evaluated in float (OpenCL allows exp 3 ulp, tanh 5 ulp, and
 * sigma' = a(1-a) adds 2 more), plus 1e-30 so exact zeros compare. A transposed index, a
 * skipped term or a wrong activation breaks this bound by orders of magnitude. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_kernels.h"
#include "testutil.h"

/* B, n_in, n_out: every awkward size in every position, a layer wider than a work-group. */
static const size_t shapes[][3] = {
    {1, 1, 1},     {3, 17, 1},    {17, 3, 255},  {255, 784, 17}, {3, 784, 255},
    {1, 255, 784}, {17, 1, 3},    {255, 17, 10}, {64, 784, 256}, {13, 37, 1000},
};
#define N_SHAPES (sizeof shapes / sizeof *shapes)
static const int acts[] = {CLMLP_ACT_IDENTITY, CLMLP_ACT_SIGMOID, CLMLP_ACT_TANH, CLMLP_ACT_RELU};

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

/* bound[i] = (n + 2) u abs_sum[i] + 16 u |want[i]| + 1e-30 */
static float *gemm_bound(const float *abs_sum, const float *want, size_t len, size_t n)
{
    float *bound = malloc(len * sizeof *bound);
    ck_assert_ptr_nonnull(bound);
    for (size_t i = 0; i < len; i++)
        bound[i] = (float)((double)(n + 2) * TU_U * abs_sum[i] + 16 * TU_U * fabsf(want[i]) + 1e-30);
    return bound;
}

/* The twins of forward_layer and forward_layer_t share one signature (W or W^T as the matrix). */
typedef void (*forward_twin)(const float *A_prev, const float *W, const float *bias, float *A,
                             size_t B, size_t n_in, size_t n_out, int act);

/* Runs a forward kernel on random data for every activation and checks it against its twin
 * within the dot-product bound: global gx x gy, local lx x ly, the matrix argument given as
 * the twin reads it. */
static void check_forward(const char *kernel, forward_twin twin, size_t B, size_t n_in,
                          size_t n_out, uint64_t seed, size_t gx, size_t gy, size_t lx, size_t ly)
{
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, seed);
    float *A = tu_random(&rng, B * n_in, -1, 1), *W = tu_random(&rng, n_in * n_out, -1, 1);
    float *b = tu_random(&rng, n_out, -1, 1);
    float *absA = tu_abs(A, B * n_in), *absW = tu_abs(W, n_in * n_out), *absb = tu_abs(b, n_out);
    float *want = malloc(B * n_out * 4), *got = malloc(B * n_out * 4), *sum = malloc(B * n_out * 4);
    twin(absA, absW, absb, sum, B, n_in, n_out, CLMLP_ACT_IDENTITY);
    cl_mem dA = tu_cl_in(&t, A, B * n_in), dW = tu_cl_in(&t, W, n_in * n_out);
    cl_mem db = tu_cl_in(&t, b, n_out);
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        cl_mem dOut = tu_cl_out(&t, B * n_out);
        TU_RUN(&t, kernel, gx, gy, lx, ly, TU_MEM(dA), TU_MEM(dW), TU_MEM(db), TU_MEM(dOut),
               TU_U32(B), TU_U32(n_in), TU_U32(n_out), TU_I32(acts[a]));
        tu_cl_read(&t, dOut, got, B * n_out);
        twin(A, W, b, want, B, n_in, n_out, acts[a]);
        float *bound = gemm_bound(sum, want, B * n_out, n_in);
        ck_assert_msg(tu_close(kernel, got, want, B * n_out, bound, 0, 0),
                      "%s B=%zu n_in=%zu n_out=%zu act=%d", kernel, B, n_in, n_out, acts[a]);
        free(bound);
        clReleaseMemObject(dOut);
    }
    clReleaseMemObject(dA), clReleaseMemObject(dW), clReleaseMemObject(db);
    free(A), free(W), free(b), free(absA), free(absW), free(absb), free(want), free(got), free(sum);
    tu_cl_close(&t);
}

START_TEST(forward_layer_matches_twin)
{
    size_t B = shapes[_i][0], n_in = shapes[_i][1], n_out = shapes[_i][2];
    clmlp_tiles tiles = tu_tiles();
    check_forward("forward_layer", ref_forward_layer, B, n_in, n_out, 1000 + (uint64_t)_i,
                  div_up(n_out, tiles.fwd_tn), div_up(B, tiles.fwd_tm), 8, 8);
}
END_TEST

/* forward_layer_t: the forward pass of a narrow layer (n_out <= 15) from W^T, in dot form (16
 * lanes along j, then a fixed tree): within the same bound of its twin as forward_layer, on
 * narrow shapes with every kind of edge (n_in below, at and off a multiple of 16; odd n_out; B
 * off a multiple of the 8-row block). */
static const size_t narrow_shapes[][3] = {
    {1, 1, 1}, {3, 17, 3}, {17, 16, 10}, {255, 784, 10}, {256, 128, 10}, {13, 33, 15}, {8, 5, 2},
};
START_TEST(forward_layer_t_matches_twin)
{
    size_t B = narrow_shapes[_i][0], n_in = narrow_shapes[_i][1], n_out = narrow_shapes[_i][2];
    check_forward("forward_layer_t", ref_forward_layer_t, B, n_in, n_out, 1500 + (uint64_t)_i, 1,
                  div_up(B, 8), 1, 4);
}
END_TEST

/* tanh at saturation: from |z| = 13 ln 2 = 9.0109 on, tanh(z) rounded to float is exactly +-1,
 * and a saturated unit's tanh' = 1 - a^2 must be 0 (PoCL's built-in gave +-(1 - 2^-24) up to
 * +-inf: tanh' = 1.2e-7, and the device and the C reference trained apart on huge inputs).
 * z = the rows of a one-input layer with W = 1 and b = 0, through forward_layer (one unit, and
 * 16) and forward_layer_t: exactly the twin's value past the threshold, within the kernel
 * bound below it. */
START_TEST(tanh_saturates_exactly)
{
    static const float zs[] = {9.02f, -9.02f, 10, -10, 20, 88, -89, 1e4f, 1e30f, -3e38f,
                               INFINITY, -INFINITY, 9.0f, -8.5f, 0.5f, -1e-8f, 0, 3};
    size_t B = sizeof zs / sizeof *zs;
    tu_cl t;
    tu_cl_open(&t);
    for (size_t n_out = 1; n_out <= 16; n_out += 15) {
        float *W = malloc(n_out * 4), *b = calloc(n_out, 4), *want = malloc(B * n_out * 4);
        float *got = malloc(B * n_out * 4);
        for (size_t k = 0; k < n_out; k++)
            W[k] = 1.0f;
        ref_forward_layer(zs, W, b, want, B, 1, n_out, CLMLP_ACT_TANH);
        cl_mem dA = tu_cl_in(&t, zs, B), dW = tu_cl_in(&t, W, n_out), db = tu_cl_in(&t, b, n_out);
        for (int kernel = 0; kernel < 2; kernel++) {
            const char *name = kernel ? "forward_layer_t" : "forward_layer";
            cl_mem dOut = tu_cl_out(&t, B * n_out);
            if (kernel)
                TU_RUN(&t, name, 1, div_up(B, 8), 1, 4, TU_MEM(dA), TU_MEM(dW), TU_MEM(db),
                       TU_MEM(dOut), TU_U32(B), TU_U32(1), TU_U32(n_out), TU_I32(CLMLP_ACT_TANH));
            else
                TU_RUN(&t, name, div_up(n_out, t.tiles.fwd_tn), div_up(B, t.tiles.fwd_tm), 8, 8,
                       TU_MEM(dA), TU_MEM(dW), TU_MEM(db), TU_MEM(dOut), TU_U32(B), TU_U32(1),
                       TU_U32(n_out), TU_I32(CLMLP_ACT_TANH));
            tu_cl_read(&t, dOut, got, B * n_out);
            for (size_t i = 0; i < B * n_out; i++) {
                float z = zs[i / n_out];
                if (fabsf(z) > 9.0109134f)
                    ck_assert_msg(got[i] == want[i] && fabsf(got[i]) == 1.0f,
                                  "%s: tanh(%g) = %.9g, want exactly %g", name, z, got[i], want[i]);
                else
                    ck_assert_msg(fabsf(got[i] - want[i]) <= 16 * TU_U * fabsf(want[i]) + 1e-30,
                                  "%s: tanh(%g) = %.9g, want %.9g", name, z, got[i], want[i]);
            }
            clReleaseMemObject(dOut);
        }
        clReleaseMemObject(dA), clReleaseMemObject(dW), clReleaseMemObject(db);
        free(W), free(b), free(want), free(got);
    }
    tu_cl_close(&t);
}
END_TEST

START_TEST(hidden_delta_matches_twin)
{
    size_t B = shapes[_i][0], n_in = shapes[_i][1], n_out = shapes[_i][2];
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 2000 + (uint64_t)_i);
    float *D = tu_random(&rng, B * n_out, -1, 1), *W = tu_random(&rng, n_in * n_out, -1, 1);
    float *Z = tu_random(&rng, B * n_in, -3, 3), *Aprev = malloc(B * n_in * 4);
    float *absD = tu_abs(D, B * n_out), *absW = tu_abs(W, n_in * n_out);
    float *want = malloc(B * n_in * 4), *got = malloc(B * n_in * 4), *sum = malloc(B * n_in * 4);
    ref_hidden_delta(absD, absW, Z, sum, B, n_in, n_out, CLMLP_ACT_IDENTITY);
    cl_mem dD = tu_cl_in(&t, D, B * n_out), dW = tu_cl_in(&t, W, n_in * n_out);
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        for (size_t i = 0; i < B * n_in; i++) /* a real activation, so sigma'(a) is meaningful */
            Aprev[i] = (float)ref_act_apply(acts[a], Z[i]);
        cl_mem dA = tu_cl_in(&t, Aprev, B * n_in), dOut = tu_cl_out(&t, B * n_in);
        TU_RUN(&t, "hidden_delta", div_up(n_in, t.tiles.hd_tn),
               div_up(B, t.tiles.hd_tm), 8, 8, TU_MEM(dD), TU_MEM(dW), TU_MEM(dA),
               TU_MEM(dOut), TU_U32(B), TU_U32(n_in), TU_U32(n_out), TU_I32(acts[a]));
        tu_cl_read(&t, dOut, got, B * n_in);
        ref_hidden_delta(D, W, Aprev, want, B, n_in, n_out, acts[a]);
        float *bound = gemm_bound(sum, want, B * n_in, n_out);
        ck_assert_msg(tu_close("hidden_delta", got, want, B * n_in, bound, 0, 0),
                      "hidden_delta B=%zu n_in=%zu n_out=%zu act=%d", B, n_in, n_out, acts[a]);
        free(bound);
        clReleaseMemObject(dA), clReleaseMemObject(dOut);
    }
    clReleaseMemObject(dD), clReleaseMemObject(dW);
    free(D), free(W), free(Z), free(Aprev), free(absD), free(absW), free(want), free(got), free(sum);
    tu_cl_close(&t);
}
END_TEST

/* The transposed path of the hidden delta: transpose (exact) then hidden_delta_t. The
 * transpose's global size is in blocks of 8 x 32 (8 x TR_C in kernels/transpose.cl). */
START_TEST(transpose_and_hidden_delta_t_match_twins)
{
    size_t B = shapes[_i][0], n_in = shapes[_i][1], n_out = shapes[_i][2];
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 2500 + (uint64_t)_i);
    float *D = tu_random(&rng, B * n_out, -1, 1), *W = tu_random(&rng, n_in * n_out, -1, 1);
    float *Z = tu_random(&rng, B * n_in, -3, 3), *Aprev = malloc(B * n_in * 4);
    float *WT = malloc(n_in * n_out * 4), *WTgot = malloc(n_in * n_out * 4);
    float *absD = tu_abs(D, B * n_out), *absWT = malloc(n_in * n_out * 4);
    float *want = malloc(B * n_in * 4), *got = malloc(B * n_in * 4), *sum = malloc(B * n_in * 4);
    cl_mem dD = tu_cl_in(&t, D, B * n_out), dW = tu_cl_in(&t, W, n_in * n_out);
    cl_mem dWT = tu_cl_out(&t, n_in * n_out);
    TU_RUN(&t, "transpose", div_up(n_in, 8), div_up(n_out, 32), 8, 8, TU_MEM(dW), TU_MEM(dWT),
           TU_U32(n_in), TU_U32(n_out));
    tu_cl_read(&t, dWT, WTgot, n_in * n_out);
    ref_transpose(W, WT, n_in, n_out);
    ck_assert_msg(memcmp(WTgot, WT, n_in * n_out * 4) == 0, "transpose %zu x %zu differs", n_in,
                  n_out);
    for (size_t i = 0; i < n_in * n_out; i++)
        absWT[i] = fabsf(WT[i]);
    ref_hidden_delta_t(absD, absWT, Z, sum, B, n_in, n_out, CLMLP_ACT_IDENTITY);
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        for (size_t i = 0; i < B * n_in; i++) /* a real activation, so sigma'(a) is meaningful */
            Aprev[i] = (float)ref_act_apply(acts[a], Z[i]);
        cl_mem dA = tu_cl_in(&t, Aprev, B * n_in), dOut = tu_cl_out(&t, B * n_in);
        TU_RUN(&t, "hidden_delta_t", div_up(n_in, t.tiles.ht_tn),
               div_up(B, t.tiles.ht_tm), 8, 8, TU_MEM(dD), TU_MEM(dWT), TU_MEM(dA),
               TU_MEM(dOut), TU_U32(B), TU_U32(n_in), TU_U32(n_out), TU_I32(acts[a]));
        tu_cl_read(&t, dOut, got, B * n_in);
        ref_hidden_delta_t(D, WT, Aprev, want, B, n_in, n_out, acts[a]);
        float *bound = gemm_bound(sum, want, B * n_in, n_out);
        ck_assert_msg(tu_close("hidden_delta_t", got, want, B * n_in, bound, 0, 0),
                      "hidden_delta_t B=%zu n_in=%zu n_out=%zu act=%d", B, n_in, n_out, acts[a]);
        /* the same product as hidden_delta's twin from W itself */
        ref_hidden_delta(D, W, Aprev, want, B, n_in, n_out, acts[a]);
        ck_assert(tu_close("hidden_delta_t vs W", got, want, B * n_in, bound, 0, 0));
        free(bound);
        clReleaseMemObject(dA), clReleaseMemObject(dOut);
    }
    clReleaseMemObject(dD), clReleaseMemObject(dW), clReleaseMemObject(dWT);
    free(D), free(W), free(Z), free(Aprev), free(WT), free(WTgot), free(absD), free(absWT);
    free(want), free(got), free(sum);
    tu_cl_close(&t);
}
END_TEST

/* The codes of the gradient kernels' `update` argument (kernels/update_rules.cl). */
enum { UPDATE_NONE, UPDATE_SGD, UPDATE_MOMENTUM, UPDATE_ADAM };

/* The parameters a gradient kernel steps (with their first and second moments), and the
 * rule's settings: lr and mu (Adam: lr_t and beta1), beta2, eps (eps_t), l2. */
typedef struct {
    cl_mem W, b, mW, mb, vW, vb;
    float lr, mu, beta2, eps, l2;
} step_args;

#define STEP_LR 0.05f
#define STEP_MU 0.9f
#define STEP_BETA2 0.999f
#define STEP_EPS 1e-8f
#define STEP_L2 1e-3f

/* Runs weight_grad or weight_grad_narrow (`kernel`) over the whole layer as the engine does:
 * dW and db stored, and with update != UPDATE_NONE the parameters in *p stepped too (p may be
 * NULL without an update: dW and db stand in for buffers the kernel then never touches). */
static void run_weight_grad(tu_cl *t, const char *kernel, cl_mem dA, cl_mem dD, cl_mem dW,
                            cl_mem db, size_t B, size_t n_in, size_t n_out, const step_args *p,
                            int update)
{
    step_args none = {dW, db, dW, db, dW, db, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (!p)
        p = &none;
    int wide = strcmp(kernel, "weight_grad") == 0;
    TU_RUN(t, kernel, wide ? div_up(n_out, t->tiles.wg_tn) : div_up(n_in, 32),
           wide ? div_up(n_in, t->tiles.wg_tm) : 0, wide ? 8 : 4, wide ? 8 : 0, TU_MEM(dA),
           TU_MEM(dD), TU_MEM(dW), TU_MEM(db), TU_U32(B), TU_U32(n_in), TU_U32(n_out),
           TU_MEM(p->W), TU_MEM(p->b), TU_MEM(p->mW), TU_MEM(p->mb), TU_MEM(p->vW), TU_MEM(p->vb),
           TU_I32(update), TU_F32(p->lr), TU_F32(p->mu), TU_F32(p->beta2), TU_F32(p->eps),
           TU_F32(p->l2));
}

/* weight_grad: dW and db (both outputs NaN-poisoned, so an element not written fails) within
 * the dot-product bound of the twin (a db sum is a dot product with ones). Then
 * weight_grad_narrow (vectors along the inputs, 32 per work-item): within the same bounds of its
 * twin, and bit-identical to weight_grad in both outputs, whose fma and addition chains it
 * repeats. It runs on every shape, wide ones too, so its edges (n_in not a multiple of 32) are
 * covered. */
START_TEST(weight_and_bias_grad_match_twins)
{
    size_t B = shapes[_i][0], n_in = shapes[_i][1], n_out = shapes[_i][2];
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 3000 + (uint64_t)_i);
    float *A = tu_random(&rng, B * n_in, -1, 1), *D = tu_random(&rng, B * n_out, -1, 1);
    float *absA = tu_abs(A, B * n_in), *absD = tu_abs(D, B * n_out);
    size_t nw = n_in * n_out;
    float *want = malloc(nw * 4), *got = malloc(nw * 4), *sum = malloc(nw * 4);
    float *want_b = malloc(n_out * 4), *got_b = malloc(n_out * 4), *sum_b = malloc(n_out * 4);
    cl_mem dA = tu_cl_in(&t, A, B * n_in), dD = tu_cl_in(&t, D, B * n_out);
    cl_mem dW = tu_cl_out(&t, nw), db = tu_cl_out(&t, n_out);
    run_weight_grad(&t, "weight_grad", dA, dD, dW, db, B, n_in, n_out, NULL, UPDATE_NONE);
    tu_cl_read(&t, dW, got, nw);
    tu_cl_read(&t, db, got_b, n_out);
    ref_weight_grad(A, D, want, want_b, B, n_in, n_out);
    ref_weight_grad(absA, absD, sum, sum_b, B, n_in, n_out);
    float *bound = gemm_bound(sum, want, nw, B), *bound_b = gemm_bound(sum_b, want_b, n_out, B);
    ck_assert_msg(tu_close("weight_grad", got, want, nw, bound, 0, 0),
                  "weight_grad B=%zu n_in=%zu n_out=%zu", B, n_in, n_out);
    ck_assert_msg(tu_close("weight_grad db", got_b, want_b, n_out, bound_b, 0, 0),
                  "weight_grad db B=%zu n_in=%zu n_out=%zu", B, n_in, n_out);

    float *narrow = malloc(nw * 4), *narrow_b = malloc(n_out * 4);
    cl_mem dWn = tu_cl_out(&t, nw), dbn = tu_cl_out(&t, n_out);
    run_weight_grad(&t, "weight_grad_narrow", dA, dD, dWn, dbn, B, n_in, n_out, NULL,
                    UPDATE_NONE);
    tu_cl_read(&t, dWn, narrow, nw);
    tu_cl_read(&t, dbn, narrow_b, n_out);
    ref_weight_grad_narrow(A, D, want, want_b, B, n_in, n_out);
    ck_assert_msg(tu_close("weight_grad_narrow", narrow, want, nw, bound, 0, 0),
                  "weight_grad_narrow B=%zu n_in=%zu n_out=%zu", B, n_in, n_out);
    ck_assert_msg(tu_close("weight_grad_narrow db", narrow_b, want_b, n_out, bound_b, 0, 0),
                  "weight_grad_narrow db B=%zu n_in=%zu n_out=%zu", B, n_in, n_out);
    ck_assert_msg(memcmp(narrow, got, nw * 4) == 0 && memcmp(narrow_b, got_b, n_out * 4) == 0,
                  "weight_grad_narrow differs from weight_grad B=%zu n_in=%zu n_out=%zu", B, n_in,
                  n_out);
    clReleaseMemObject(dA), clReleaseMemObject(dD), clReleaseMemObject(dW), clReleaseMemObject(db);
    clReleaseMemObject(dWn), clReleaseMemObject(dbn);
    free(A), free(D), free(absA), free(absD), free(want), free(got), free(sum), free(want_b);
    free(got_b), free(sum_b), free(bound), free(bound_b), free(narrow), free(narrow_b);
    tu_cl_close(&t);
}
END_TEST

/* Reads n floats of buffer d into a new array. */
static float *read_new(tu_cl *t, cl_mem d, size_t n)
{
    float *h = malloc(n * sizeof *h);
    tu_cl_read(t, d, h, n);
    return h;
}

/* The optimizer steps in the gradient kernels' epilogues (SGD, momentum and Adam, with weight
 * decay on W and none on b), both kernels, every shape: the stepped W, b and moments against the
 * twins (ref_sgd_update, ref_momentum_update, ref_adam_update) applied to the gradient the kernel
 * stored. A few float operations per element (Adam: a square root and a division, each within
 * OpenCL's bounds) against twins that round once from double: 1e-6 relative, 1e-7 absolute. A
 * parameter stepped twice or not at all is off by about lr g, orders of magnitude more. The
 * stored gradients are bit-identical to those of the same kernel without the update: stepping
 * changes nothing else. */
START_TEST(gradient_kernels_step_parameters)
{
    size_t B = shapes[_i][0], n_in = shapes[_i][1], n_out = shapes[_i][2], nw = n_in * n_out;
    static const char *const kernels[] = {"weight_grad", "weight_grad_narrow"};
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 3500 + (uint64_t)_i);
    float *A = tu_random(&rng, B * n_in, -1, 1), *D = tu_random(&rng, B * n_out, -1, 1);
    /* parameters, first moments (momentum's velocity), second moments (Adam's, >= 0) */
    float *host[6] = {tu_random(&rng, nw, -1, 1),     tu_random(&rng, n_out, -1, 1),
                      tu_random(&rng, nw, -0.1f, 0.1f), tu_random(&rng, n_out, -0.1f, 0.1f),
                      tu_random(&rng, nw, 0, 0.01f),    tu_random(&rng, n_out, 0, 0.01f)};
    cl_mem dA = tu_cl_in(&t, A, B * n_in), dD = tu_cl_in(&t, D, B * n_out);
    for (int k = 0; k < 2; k++)
        for (int update = UPDATE_SGD; update <= UPDATE_ADAM; update++) {
            const char *name = kernels[k];
            cl_mem dW0 = tu_cl_out(&t, nw), db0 = tu_cl_out(&t, n_out);
            run_weight_grad(&t, name, dA, dD, dW0, db0, B, n_in, n_out, NULL, UPDATE_NONE);
            cl_mem dW = tu_cl_out(&t, nw), db = tu_cl_out(&t, n_out), dev[6];
            for (int i = 0; i < 6; i++)
                dev[i] = tu_cl_in(&t, host[i], i % 2 ? n_out : nw);
            step_args p = {dev[0], dev[1], dev[2], dev[3], dev[4], dev[5],
                           STEP_LR, STEP_MU, STEP_BETA2, STEP_EPS, STEP_L2};
            run_weight_grad(&t, name, dA, dD, dW, db, B, n_in, n_out, &p, update);
            float *g0 = read_new(&t, dW0, nw), *gb0 = read_new(&t, db0, n_out);
            float *g = read_new(&t, dW, nw), *gb = read_new(&t, db, n_out);
            ck_assert_msg(memcmp(g, g0, nw * 4) == 0 && memcmp(gb, gb0, n_out * 4) == 0,
                          "%s update %d changed the gradient B=%zu n_in=%zu n_out=%zu", name,
                          update, B, n_in, n_out);
            float *got[6], *want[6];
            for (int i = 0; i < 6; i++) {
                size_t n = i % 2 ? n_out : nw;
                got[i] = read_new(&t, dev[i], n);
                want[i] = malloc(n * 4);
                memcpy(want[i], host[i], n * 4);
            }
            for (int b = 0; b < 2; b++) { /* weights (with l2), then biases */
                size_t n = b ? n_out : nw;
                float *grad = b ? gb : g, l2 = b ? 0.0f : STEP_L2;
                if (update == UPDATE_SGD)
                    ref_sgd_update(want[b], grad, n, STEP_LR, l2);
                else if (update == UPDATE_MOMENTUM)
                    ref_momentum_update(want[b], want[2 + b], grad, n, STEP_LR, STEP_MU, l2);
                else
                    ref_adam_update(want[b], want[2 + b], want[4 + b], grad, n, STEP_LR, STEP_MU,
                                    STEP_BETA2, STEP_EPS, l2);
            }
            static const char *const what[6] = {"W", "b", "first moment W", "first moment b",
                                                "second moment W", "second moment b"};
            for (int i = 0; i < 6; i++)
                ck_assert_msg(tu_close(what[i], got[i], want[i], i % 2 ? n_out : nw, NULL, 1e-7,
                                       1e-6),
                              "%s update %d: %s, B=%zu n_in=%zu n_out=%zu", name, update, what[i],
                              B, n_in, n_out);
            for (int i = 0; i < 6; i++)
                clReleaseMemObject(dev[i]), free(got[i]), free(want[i]);
            clReleaseMemObject(dW0), clReleaseMemObject(db0), clReleaseMemObject(dW);
            clReleaseMemObject(db);
            free(g0), free(gb0), free(g), free(gb);
        }
    clReleaseMemObject(dA), clReleaseMemObject(dD);
    free(A), free(D);
    for (int i = 0; i < 6; i++)
        free(host[i]);
    tu_cl_close(&t);
}
END_TEST

/* Output deltas: row-wise, n terms. D and loss within 1e-6 absolute plus 1e-5 relative (a
 * handful of float exp/log evaluations of at most 1000 terms, C02/C15); correctness flags
 * exactly; positions before `first` must stay unwritten (NaN). */
static void check_output_delta(size_t B, size_t n, int loss_kind, int act, uint64_t seed)
{
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, seed);
    size_t first = 5;
    float *Z = tu_random(&rng, B * n, -8, 8);
    int32_t *labels = malloc(B * sizeof *labels);
    for (size_t b = 0; b < B; b++)
        labels[b] = (int32_t)clmlp_rng_below(&rng, n);
    if (loss_kind == CLMLP_LOSS_MSE)
        for (size_t i = 0; i < B * n; i++)
            Z[i] = (float)ref_act_apply(act, Z[i]);
    float *D = malloc(B * n * 4), *Dg = malloc(B * n * 4);
    float *loss = malloc((first + B) * 4), *lossg = malloc((first + B) * 4);
    int32_t *ok = malloc((first + B) * 4), *okg = malloc((first + B) * 4);
    cl_mem dZ = tu_cl_in(&t, Z, B * n), dy = tu_cl_in(&t, labels, B);
    cl_mem dD = tu_cl_out(&t, B * n), dl = tu_cl_out(&t, first + B), dok = tu_cl_out(&t, first + B);
    if (loss_kind == CLMLP_LOSS_CE) {
        /* As the engine launches it: 8 samples per work-item (CE_ROWS), the last one partial. */
        TU_RUN(&t, "output_delta_ce", div_up(B, 8), 0, 1, 0, TU_MEM(dZ), TU_MEM(dy), TU_MEM(dD),
               TU_MEM(dl), TU_MEM(dok), TU_U32(B), TU_U32(n), TU_U32(first));
        ref_output_delta_ce(Z, labels, D, loss, ok, B, n, first);
    } else {
        TU_RUN(&t, "output_delta_mse", B, 0, 64, 0, TU_MEM(dZ), TU_MEM(dy), TU_MEM(dD), TU_MEM(dl),
               TU_MEM(dok), TU_U32(B), TU_U32(n), TU_I32(act), TU_U32(first));
        ref_output_delta_mse(Z, labels, D, loss, ok, B, n, act, first);
    }
    tu_cl_read(&t, dD, Dg, B * n);
    tu_cl_read(&t, dl, lossg, first + B);
    tu_cl_read(&t, dok, okg, first + B);
    ck_assert(tu_close("output delta D", Dg, D, B * n, NULL, 1e-6, 1e-5));
    ck_assert(tu_close("output delta loss", lossg + first, loss + first, B, NULL, 1e-6, 1e-5));
    for (size_t i = 0; i < first; i++)
        ck_assert_msg(isnan(lossg[i]), "loss[%zu] before the batch's first position was written", i);
    ck_assert_mem_eq(okg + first, ok + first, B * sizeof *ok);
    clReleaseMemObject(dZ), clReleaseMemObject(dy), clReleaseMemObject(dD);
    clReleaseMemObject(dl), clReleaseMemObject(dok);
    free(Z), free(labels), free(D), free(Dg), free(loss), free(lossg), free(ok), free(okg);
    tu_cl_close(&t);
}

static const size_t delta_shapes[][2] = {{1, 1}, {3, 10}, {17, 3}, {255, 17}, {1000, 10}, {13, 1000}};

START_TEST(output_delta_ce_matches_twin)
{
    check_output_delta(delta_shapes[_i][0], delta_shapes[_i][1], CLMLP_LOSS_CE, CLMLP_ACT_SOFTMAX,
                       4000 + (uint64_t)_i);
}
END_TEST

START_TEST(output_delta_mse_matches_twin)
{
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++)
        check_output_delta(delta_shapes[_i][0], delta_shapes[_i][1], CLMLP_LOSS_MSE, acts[a],
                           5000 + (uint64_t)_i);
}
END_TEST

START_TEST(softmax_rows_matches_twin)
{
    size_t B = delta_shapes[_i][0], n = delta_shapes[_i][1];
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 6000 + (uint64_t)_i);
    float *Z = tu_random(&rng, B * n, -50, 50), *P = malloc(B * n * 4), *Pg = malloc(B * n * 4);
    cl_mem dZ = tu_cl_in(&t, Z, B * n), dP = tu_cl_out(&t, B * n);
    TU_RUN(&t, "softmax_rows", B, 0, 64, 0, TU_MEM(dZ), TU_MEM(dP), TU_U32(B), TU_U32(n));
    tu_cl_read(&t, dP, Pg, B * n);
    ref_softmax_rows(Z, P, B, n);
    /* probabilities: 1e-6 absolute (C02), relative 1e-5 for the few exp/log in float */
    ck_assert(tu_close("softmax_rows", Pg, P, B * n, NULL, 1e-6, 1e-5));
    for (size_t b = 0; b < B; b++) {
        double s = 0;
        for (size_t k = 0; k < n; k++)
            s += Pg[b * n + k];
        ck_assert_msg(fabs(s - 1.0) < 1e-5 * (1 + n / 100.0), "row %zu sums to %.9g", b, s);
    }
    clReleaseMemObject(dZ), clReleaseMemObject(dP);
    free(Z), free(P), free(Pg);
    tu_cl_close(&t);
}
END_TEST

/* Rows that broke a softmax before (found by a helper trying to break output_delta_ce): the
 * maximum tied at 1e30 or 3e38, where lse = m + ls loses ls even in double (C02's kind), and
 * many classes far below the maximum, whose terms are each under half an ulp of 1, so a float
 * sum that starts from the maximum's 1 drops them all (ls 0 instead of 2.06e-6). Each row,
 * repeated for 9 samples (a full and a partial work-item of output_delta_ce), must give the
 * loss of the same formula in long double, and the kernels must match their twins. */
static const struct {
    size_t n, label;
    float top, rest; /* z = {top, rest, rest, ...} unless `tie`: z = {rest, top, top, ...} */
    int tie;
} softmax_rows_hard[] = {
    {2, 0, 1e30f, 1e30f, 0},   {2, 1, -1e30f, -1e30f, 0}, {10, 1, 3e38f, -3e38f, 1},
    {1000, 0, 0, -20, 0},      {18, 0, 0, -16.637f, 0},   {16, 0, 0, -16.637f, 0},
    {10, 9, 5, -1e4f, 0},
};

static double hard_row_loss(const float *z, size_t n, size_t label)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (z[k] > z[best])
            best = k;
    long double m = z[best], rest = 0;
    for (size_t k = 0; k < n; k++)
        if (k != best)
            rest += expl((long double)z[k] - m);
    return (double)((m - z[label]) + log1pl(rest));
}

START_TEST(softmax_hard_rows_match)
{
    size_t n = softmax_rows_hard[_i].n, label = softmax_rows_hard[_i].label, B = 9, first = 2;
    tu_cl t;
    tu_cl_open(&t);
    float *Z = malloc(B * n * 4), *D = malloc(B * n * 4), *Dg = malloc(B * n * 4);
    float *P = malloc(B * n * 4), *Pg = malloc(B * n * 4);
    float *loss = malloc((first + B) * 4), *lossg = malloc((first + B) * 4);
    int32_t *labels = malloc(B * 4), *ok = malloc((first + B) * 4), *okg = malloc((first + B) * 4);
    float top = softmax_rows_hard[_i].top, rest = softmax_rows_hard[_i].rest;
    for (size_t b = 0; b < B; b++) {
        labels[b] = (int32_t)label;
        for (size_t k = 0; k < n; k++)
            Z[b * n + k] = (k == 0) != (softmax_rows_hard[_i].tie != 0) ? top : rest;
    }
    cl_mem dZ = tu_cl_in(&t, Z, B * n), dy = tu_cl_in(&t, labels, B);
    cl_mem dD = tu_cl_out(&t, B * n), dl = tu_cl_out(&t, first + B), dok = tu_cl_out(&t, first + B);
    cl_mem dP = tu_cl_out(&t, B * n);
    TU_RUN(&t, "output_delta_ce", div_up(B, 8), 0, 1, 0, TU_MEM(dZ), TU_MEM(dy), TU_MEM(dD),
           TU_MEM(dl), TU_MEM(dok), TU_U32(B), TU_U32(n), TU_U32(first));
    TU_RUN(&t, "softmax_rows", B, 0, 64, 0, TU_MEM(dZ), TU_MEM(dP), TU_U32(B), TU_U32(n));
    tu_cl_read(&t, dD, Dg, B * n);
    tu_cl_read(&t, dl, lossg, first + B);
    tu_cl_read(&t, dP, Pg, B * n);
    tu_cl_read(&t, dok, okg, first + B);
    ref_output_delta_ce(Z, labels, D, loss, ok, B, n, first);
    ref_softmax_rows(Z, P, B, n);
    double want = hard_row_loss(Z, n, label);
    for (size_t b = 0; b < B; b++) {
        ck_assert_msg(fabs(loss[first + b] - want) <= 1e-6 + 1e-5 * fabs(want),
                      "twin loss %.9g, want %.9g (n %zu)", loss[first + b], want, n);
        ck_assert_msg(fabs(lossg[first + b] - want) <= 1e-6 + 1e-5 * fabs(want),
                      "kernel loss %.9g, want %.9g (n %zu)", lossg[first + b], want, n);
    }
    ck_assert(tu_close("hard rows D", Dg, D, B * n, NULL, 1e-6, 1e-5));
    ck_assert(tu_close("hard rows P", Pg, P, B * n, NULL, 1e-6, 1e-5));
    ck_assert_mem_eq(okg + first, ok + first, B * sizeof *ok); /* ties: the lowest index */
    clReleaseMemObject(dZ), clReleaseMemObject(dy), clReleaseMemObject(dD);
    clReleaseMemObject(dl), clReleaseMemObject(dok), clReleaseMemObject(dP);
    free(Z), free(D), free(Dg), free(P), free(Pg), free(loss), free(lossg), free(labels);
    free(ok), free(okg);
    tu_cl_close(&t);
}
END_TEST

/* gather_batch, exactly (a copy), launched both ways the engine does: a CPU's one chunk column
 * (each work-item walks whole rows) and a GPU's ceil(dim / 16) columns; 8 rows per work-item
 * (GATHER_ROWS) with the last group partial (count 13, 74, 135: 8k + 5, 2, 7) and rows with
 * and without whole 16-float chunks and a tail (dim 37, 48, 5). */
START_TEST(gather_batch_matches_twin)
{
    static const size_t dims[] = {37, 48, 5};
    size_t n = 257, dim = dims[_i], first = 100, count = 13 + (size_t)_i * 61;
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 8000);
    float *X = tu_random(&rng, n * dim, -1, 1);
    int32_t *y = malloc(n * 4), *yw = malloc(count * 4), *yg = malloc(count * 4);
    uint32_t *order = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t)(i % 10), order[i] = (uint32_t)i;
    clmlp_rng_shuffle(&rng, order, n);
    float *Xw = malloc(count * dim * 4), *Xg = malloc(count * dim * 4);
    ref_gather_batch(X, y, order, first, count, dim, Xw, yw);
    cl_mem dX = tu_cl_in(&t, X, n * dim), dy = tu_cl_in(&t, y, n), dord = tu_cl_in(&t, order, n);
    const size_t launch[2][2] = {{1, 1}, {div_up(dim, 16), 64}}; /* chunk columns, local x */
    for (int l = 0; l < 2; l++) {
        cl_mem oX = tu_cl_out(&t, count * dim), oy = tu_cl_out(&t, count);
        TU_RUN(&t, "gather_batch", launch[l][0], div_up(count, 8), launch[l][1], 1, TU_MEM(dX),
               TU_MEM(dy), TU_MEM(dord), TU_U32(first), TU_U32(count), TU_U32(dim), TU_MEM(oX),
               TU_MEM(oy));
        tu_cl_read(&t, oX, Xg, count * dim);
        tu_cl_read(&t, oy, yg, count);
        ck_assert_msg(memcmp(Xg, Xw, count * dim * 4) == 0, "gather rows, launch %d dim %zu", l,
                      dim);
        ck_assert_msg(memcmp(yg, yw, count * 4) == 0, "gather labels, launch %d", l);
        clReleaseMemObject(oX), clReleaseMemObject(oy);
    }
    clReleaseMemObject(dX), clReleaseMemObject(dy), clReleaseMemObject(dord);
    free(X), free(y), free(yw), free(yg), free(order), free(Xw), free(Xg);
    tu_cl_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernels vs CPU twins");
    /* "tiled": the kernels whose code the tile options (-D FWD_TN ...) change; ctest runs this
     * case again for every other tile set (CK_RUN_CASE=tiled, tests/CMakeLists.txt). */
    TCase *tiled = tcase_create("tiled");
    tcase_set_timeout(tiled, 300);
    tcase_add_loop_test(tiled, forward_layer_matches_twin, 0, N_SHAPES);
    tcase_add_loop_test(tiled, forward_layer_t_matches_twin, 0,
                        sizeof narrow_shapes / sizeof *narrow_shapes);
    tcase_add_test(tiled, tanh_saturates_exactly);
    tcase_add_loop_test(tiled, hidden_delta_matches_twin, 0, N_SHAPES);
    tcase_add_loop_test(tiled, transpose_and_hidden_delta_t_match_twins, 0, N_SHAPES);
    tcase_add_loop_test(tiled, weight_and_bias_grad_match_twins, 0, N_SHAPES);
    tcase_add_loop_test(tiled, gradient_kernels_step_parameters, 0, N_SHAPES);
    suite_add_tcase(s, tiled);
    TCase *rows = tcase_create("row-wise");
    tcase_set_timeout(rows, 300);
    tcase_add_loop_test(rows, output_delta_ce_matches_twin, 0, 6);
    tcase_add_loop_test(rows, output_delta_mse_matches_twin, 0, 6);
    tcase_add_loop_test(rows, softmax_rows_matches_twin, 0, 6);
    tcase_add_loop_test(rows, softmax_hard_rows_match, 0,
                        sizeof softmax_rows_hard / sizeof *softmax_rows_hard);
    tcase_add_loop_test(rows, gather_batch_matches_twin, 0, 3);
    suite_add_tcase(s, rows);
    return tu_run_suite(s);
}
