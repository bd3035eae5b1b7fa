/* test_diagnostics.c - the per-layer gradient diagnostics: the layer_stats kernel against its
 * twin on awkward shapes, the statistics' definitions on the reference engine, and the OpenCL
 * engine's statistics against the reference engine's on the same net, batch and step.
 *
 * Tolerances. Kernel vs twin: every summed term is non-negative (|D|, and the squares inside
 * the column norms), so Higham's bound for a float sum of n terms (eq. 3.5) is gamma_n x the
 * sum itself; the twin sums in double and rounds once. sum |D|: (n + 3) u x want (the +3: the
 * twin's rounding and slack). A column norm m sqrt(sum (x/m)^2): each quotient is within 2.5
 * ulp (OpenCL's float division), so its square within 5 u plus the fma's rounding, the sum
 * within (n + 6) u; the square root halves that and adds its own 3 ulp, the product with m
 * 0.5 ulp and the twin's rounding 0.5 ulp: (n + 14) u x want bounds it. Both plus 1e-30 so
 * exact zeros compare.
 * Saturation counts compare exactly: kernel and twin test the same float against the same float
 * constants. Engine vs engine: after one step both backends' buffers agree to 1e-4 relative
 * (C15, test_cases_engine.c); the statistics are sums of magnitudes of those buffers, so they
 * inherit the 1e-4 relative bound. A saturation count can differ only for an output within
 * float rounding of the 1e-3 threshold: we allow one unit-sample (1 / (B n)), and one dead
 * column (1 / n) for relu. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_kernels.h"
#include "testutil.h"

#define F REF_STATS_FIELDS

/* B, n_in, n_out: one of each, odd sizes, a layer wider than a work-group, a long batch. */
static const size_t shapes[][3] = {
    {1, 1, 1},   {3, 17, 1},   {17, 3, 255},  {255, 784, 17},
    {1, 255, 784}, {64, 784, 65}, {1000, 7, 3}, {13, 37, 1000},
};
#define N_SHAPES (sizeof shapes / sizeof *shapes)
static const int acts[] = {CLMLP_ACT_IDENTITY, CLMLP_ACT_SIGMOID, CLMLP_ACT_TANH, CLMLP_ACT_RELU,
                           CLMLP_ACT_SOFTMAX};
#define N_ACTS (sizeof acts / sizeof *acts)

/* Activations of a B x n layer with saturated and dead units: z in [-10, 10] (sigmoid is within
 * 1e-3 of a bound past |z| = 6.9, tanh past 3.8), every 4th column negative on every sample
 * (dead under relu), and the thresholds themselves planted so < and <= differ. */
static float *layer_outputs(clmlp_rng *rng, size_t B, size_t n, int act)
{
    float *A = tu_random(rng, B * n, -10, 10);
    for (size_t i = 0; i < B * n; i++) {
        if ((i % n) % 4 == 0)
            A[i] = -fabsf(A[i]) - 0.5f;
        A[i] = (float)ref_act_apply(act, A[i]);
    }
    const float edges[] = {1e-3f, 1.0f - 1e-3f, -(1.0f - 1e-3f), 0.0f, 1.0f, -1.0f};
    for (size_t i = 0; i < sizeof edges / sizeof *edges && 7 * i + 1 < B * n; i++)
        A[7 * i + 1] = edges[i];
    return A;
}

START_TEST(layer_stats_matches_twin)
{
    size_t B = shapes[_i][0], n_in = shapes[_i][1], n_out = shapes[_i][2], col0 = 5;
    size_t len = (col0 + n_out) * F;
    tu_cl t;
    tu_cl_open(&t);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 9000 + (uint64_t)_i);
    float *D = tu_random(&rng, B * n_out, -1, 1), *dW = tu_random(&rng, n_in * n_out, -1, 1);
    float *W = tu_random(&rng, n_in * n_out, -1, 1);
    float *want = malloc(len * sizeof *want), *got = malloc(len * sizeof *got);
    float *bound = malloc(len * sizeof *bound);
    cl_mem dD = tu_cl_in(&t, D, B * n_out), ddW = tu_cl_in(&t, dW, n_in * n_out);
    cl_mem dWt = tu_cl_in(&t, W, n_in * n_out);
    for (size_t a = 0; a < N_ACTS; a++) {
        float *A = layer_outputs(&rng, B, n_out, acts[a]);
        cl_mem dA = tu_cl_in(&t, A, B * n_out), dPart = tu_cl_out(&t, len);
        TU_RUN(&t, "layer_stats", n_out, 0, 64, 0, TU_MEM(dA), TU_MEM(dD), TU_MEM(ddW),
               TU_MEM(dWt), TU_MEM(dPart), TU_U32(B), TU_U32(n_in), TU_U32(n_out),
               TU_I32(acts[a]), TU_U32(col0));
        tu_cl_read(&t, dPart, got, len);
        for (size_t i = 0; i < col0 * F; i++)
            ck_assert_msg(isnan(got[i]), "part[%zu], before column col0, was written", i);
        ref_layer_stats(A, D, dW, W, want, B, n_in, n_out, acts[a], col0);
        for (size_t i = col0 * F; i < len; i++) {
            size_t field = i % F, terms = field == 0 ? B : n_in;
            size_t slack = field == 0 ? 3 : 14;
            bound[i] = field == 3 ? 0.0f
                                  : (float)((double)(terms + slack) * TU_U * fabs(want[i]) + 1e-30);
        }
        ck_assert_msg(tu_close("layer_stats", got + col0 * F, want + col0 * F, n_out * F,
                               bound + col0 * F, 0, 0),
                      "layer_stats B=%zu n_in=%zu n_out=%zu act=%d", B, n_in, n_out, acts[a]);
        clReleaseMemObject(dA), clReleaseMemObject(dPart);
        free(A);
    }
    clReleaseMemObject(dD), clReleaseMemObject(ddW), clReleaseMemObject(dWt);
    free(D), free(dW), free(W), free(want), free(got), free(bound);
    tu_cl_close(&t);
}
END_TEST

/* The column norms at the ends of the float range, where a float sum of squares fails: entries
 * of 1e-25 (squares 1e-50, far below the smallest float: the sum was 0) and 1e25 (squares past
 * 3.4e38: the sum was inf), 3e-21 (subnormal squares, a few bits right), mixed magnitudes
 * 1e-30 .. 1e30, and columns holding inf, NaN (one among numbers, among zeros, beside an inf,
 * or nothing else: a helper found an all-NaN column read as 0) or only zeros. Kernel and twin
 * against the norm computed here in double, within the bound of layer_stats_matches_twin; inf,
 * NaN and 0 exactly. */
START_TEST(column_norms_survive_the_float_range)
{
    enum { N_IN = 300, COLS = 10 };
    float *dW = malloc(N_IN * COLS * sizeof *dW), *A = calloc(COLS, sizeof *A);
    float *D = calloc(COLS, sizeof *D), got[COLS * F], want[COLS * F];
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 9500);
    for (size_t j = 0; j < N_IN; j++) {
        float u = (float)(0.5 + clmlp_rng_uniform(&rng)); /* [0.5, 1.5) */
        float *row = dW + j * COLS;
        row[0] = 1e-25f * u;
        row[1] = -1e25f * u;
        row[2] = 3e-21f * u; /* a 30-layer sigmoid net's first layer: subnormal squares */
        row[3] = (j % 2 ? 1e-30f : 1e30f) * u;
        row[4] = j == 100 ? INFINITY : u;
        row[5] = j == 200 ? NAN : u;
        row[6] = 0.0f;
        row[7] = NAN;                           /* all NaN: NaN, not 0 (fmax skips NaN) */
        row[8] = j == 50 ? NAN : 0.0f;          /* NaN among zeros */
        row[9] = j == 7 ? INFINITY : j == 9 ? NAN : u; /* inf and NaN: NaN */
    }
    tu_cl t;
    tu_cl_open(&t);
    cl_mem dA = tu_cl_in(&t, A, COLS), dD = tu_cl_in(&t, D, COLS);
    cl_mem ddW = tu_cl_in(&t, dW, N_IN * COLS), dPart = tu_cl_out(&t, COLS * F);
    TU_RUN(&t, "layer_stats", COLS, 0, 64, 0, TU_MEM(dA), TU_MEM(dD), TU_MEM(ddW), TU_MEM(ddW),
           TU_MEM(dPart), TU_U32(1), TU_U32(N_IN), TU_U32(COLS), TU_I32(CLMLP_ACT_IDENTITY),
           TU_U32(0));
    tu_cl_read(&t, dPart, got, COLS * F);
    ref_layer_stats(A, D, dW, dW, want, 1, N_IN, COLS, CLMLP_ACT_IDENTITY, 0);
    for (size_t k = 0; k < COLS; k++) {
        double ss = 0.0;
        for (size_t j = 0; j < N_IN; j++)
            ss += (double)dW[j * COLS + k] * dW[j * COLS + k];
        double exact = sqrt(ss), tol = (N_IN + 14) * TU_U * exact;
        for (int f = 1; f <= 2; f++) {
            float kern = got[k * F + f], twin = want[k * F + f];
            if (isnan(exact) || isinf(exact) || exact == 0.0) {
                ck_assert_msg((isnan(exact) && isnan(kern) && isnan(twin)) ||
                                  (!isnan(exact) && kern == (float)exact && twin == (float)exact),
                              "column %zu field %d: kernel %g twin %g, want %g", k, f, kern, twin,
                              exact);
                continue;
            }
            ck_assert_msg(fabs(kern - exact) <= tol && fabs(twin - exact) <= tol,
                          "column %zu field %d: kernel %.9g twin %.9g, want %.9g", k, f, kern,
                          twin, exact);
        }
    }
    clReleaseMemObject(dA), clReleaseMemObject(dD), clReleaseMemObject(ddW);
    clReleaseMemObject(dPart);
    free(dW), free(A), free(D);
    tu_cl_close(&t);
}
END_TEST

/* The twin counts what the header of kernels/layer_stats.cl says, at the planted edges. */
START_TEST(saturation_thresholds_are_inclusive)
{
    const float a[] = {1e-3f, 1.0f - 1e-3f, 0.5f, 2e-3f, 0.998f};
    float D[5] = {0}, W[5] = {0}, part[5 * F];
    ref_layer_stats(a, D, W, W, part, 5, 1, 1, CLMLP_ACT_SIGMOID, 0);
    ck_assert_float_eq(part[3], 2.0f); /* the two at the threshold, not 0.5, 2e-3 or 0.998 */
    const float b[] = {-(1.0f - 1e-3f), 1.0f, 0.0f, 0.998f, -1.0f};
    ref_layer_stats(b, D, W, W, part, 5, 1, 1, CLMLP_ACT_TANH, 0);
    ck_assert_float_eq(part[3], 3.0f);
    const float c[] = {0.0f, 1e-30f, 0.0f, 3.0f, 0.0f};
    ref_layer_stats(c, D, W, W, part, 5, 1, 1, CLMLP_ACT_RELU, 0);
    ck_assert_float_eq(part[3], 3.0f);
}
END_TEST

/* ---- engine level ---- */

typedef struct setup {
    clmlp_net *net;
    float *X;
    int32_t *y;
    uint32_t *order;
    size_t n, B;
} setup;

/* 24-37-13-29-5 with `act` hidden and softmax/CE out: inputs in [-4, 4] and He weights push
 * sigmoid and tanh units into saturation and some relu units dead. */
static setup make_setup(int act)
{
    setup s = {0};
    s.n = 300, s.B = 100;
    const size_t sizes[] = {24, 37, 13, 29, 5};
    const clmlp_act a[] = {act, act, act, CLMLP_ACT_SOFTMAX};
    ck_assert_int_eq(clmlp_net_create(&s.net, 4, sizes, a, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_net_init(s.net, CLMLP_INIT_HE, 11);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 12);
    s.X = tu_random(&rng, s.n * sizes[0], -4, 4);
    s.y = malloc(s.n * sizeof *s.y);
    s.order = malloc(s.n * sizeof *s.order);
    for (size_t i = 0; i < s.n; i++)
        s.y[i] = (int32_t)(i % 5), s.order[i] = (uint32_t)i;
    return s;
}

static void free_setup(setup *s)
{
    clmlp_net_free(s->net);
    free(s->X), free(s->y), free(s->order);
}

static clmlp_engine *engine_after_steps(clmlp_backend b, const setup *s, int steps)
{
    clmlp_engine *e;
    char err[16384];
    clmlp_hyper h = clmlp_hyper_default();
    ck_assert_msg(clmlp_engine_create(&e, b, NULL, s->net, &h, s->B, err, sizeof err) == CLMLP_OK,
                  "%s", err);
    ck_assert(clmlp_engine_set_data(e, s->X, s->y, s->n, s->net->sizes[0]) == CLMLP_OK);
    ck_assert(clmlp_engine_set_order(e, s->order, s->n) == CLMLP_OK);
    for (int i = 0; i < steps; i++)
        ck_assert_msg(clmlp_engine_train_batch(e, (size_t)i * s->B % s->n, s->B) == CLMLP_OK, "%s",
                      clmlp_engine_error(e));
    return e;
}

/* Reads buffer kind of layer l into a new array. */
static float *buffer(clmlp_engine *e, clmlp_buffer_kind kind, int l, size_t cap)
{
    float *v = malloc(cap * sizeof *v);
    size_t len;
    ck_assert_msg(clmlp_engine_read_buffer(e, kind, l, v, cap, &len) == CLMLP_OK, "%s",
                  clmlp_engine_error(e));
    return v;
}

static double sum_sq(const float *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return s;
}

/* The definitions of clmlp.h, computed here from the reference engine's own buffers: mean
 * |delta| = sum |D| x B / (B n) (delta is B x D), Frobenius norms, and the saturated share
 * (sigmoid/tanh: outputs; relu: whole columns). */
START_TEST(stats_follow_their_definitions)
{
    int act = acts[1 + _i]; /* sigmoid, tanh, relu */
    setup s = make_setup(act);
    clmlp_engine *e = engine_after_steps(CLMLP_BACKEND_REF, &s, 1);
    double any_sat = 0;
    for (int l = 0; l < s.net->n_layers; l++) {
        size_t n_in = s.net->sizes[l], n = s.net->sizes[l + 1];
        float *D = buffer(e, CLMLP_BUF_DELTA, l, s.B * n), *A = buffer(e, CLMLP_BUF_ACT, l, s.B * n);
        float *G = buffer(e, CLMLP_BUF_GRAD_W, l, n_in * n), *W = buffer(e, CLMLP_BUF_WEIGHT, l, n_in * n);
        double d = 0, sat = 0;
        for (size_t i = 0; i < s.B * n; i++) {
            d += fabs(D[i]) * (double)s.B;
            sat += s.net->act[l] == CLMLP_ACT_SIGMOID ? (A[i] <= 1e-3f || A[i] >= 1.0f - 1e-3f)
                   : s.net->act[l] == CLMLP_ACT_TANH ? fabsf(A[i]) >= 1.0f - 1e-3f : 0;
        }
        sat /= (double)(s.B * n);
        if (s.net->act[l] == CLMLP_ACT_RELU) {
            for (size_t k = 0; k < n; k++) {
                size_t off = 0;
                for (size_t b = 0; b < s.B; b++)
                    off += A[b * n + k] <= 0.0f;
                sat += off == s.B;
            }
            sat /= (double)n;
        }
        clmlp_layer_stats st;
        ck_assert(clmlp_engine_layer_stats(e, l, &st) == CLMLP_OK);
        double mean = d / (double)(s.B * n);
        ck_assert_msg(fabs(st.mean_abs_delta - mean) <= 1e-6 * mean, "layer %d |delta| %g vs %g",
                      l, st.mean_abs_delta, mean);
        ck_assert_double_eq_tol(st.grad_norm, sqrt(sum_sq(G, n_in * n)), 1e-6 * st.grad_norm);
        ck_assert_double_eq_tol(st.weight_norm, sqrt(sum_sq(W, n_in * n)), 1e-6 * st.weight_norm);
        ck_assert_double_eq_tol(st.saturated_fraction, sat, 1e-12);
        any_sat += st.saturated_fraction;
        free(D), free(A), free(G), free(W);
    }
    ck_assert_msg(any_sat > 0, "act %d: no saturated or dead unit: the test checks too little", act);
    clmlp_engine_free(e);
    free_setup(&s);
}
END_TEST

/* The OpenCL engine's diagnostics against the reference engine's, after 1 and after 3 steps of
 * the same net on the same batches. */
START_TEST(opencl_stats_match_the_reference_engine)
{
    int act = acts[1 + _i / 2], steps = _i % 2 ? 3 : 1;
    setup s = make_setup(act);
    clmlp_engine *r = engine_after_steps(CLMLP_BACKEND_REF, &s, steps);
    clmlp_engine *c = engine_after_steps(CLMLP_BACKEND_OPENCL, &s, steps);
    for (int l = 0; l < s.net->n_layers; l++) {
        clmlp_layer_stats a, b;
        ck_assert_msg(clmlp_engine_layer_stats(r, l, &a) == CLMLP_OK, "%s", clmlp_engine_error(r));
        ck_assert_msg(clmlp_engine_layer_stats(c, l, &b) == CLMLP_OK, "%s", clmlp_engine_error(c));
        double n = (double)s.net->sizes[l + 1];
        double sat_tol = (s.net->act[l] == CLMLP_ACT_RELU ? 1.0 / n : 1.0 / (n * (double)s.B)) + 1e-12;
        fprintf(stderr, "act %d step %d layer %d: |delta| %.6g / %.6g  |dW| %.6g / %.6g  "
                "|W| %.6g / %.6g  sat %.4f / %.4f\n", act, steps, l + 1, b.mean_abs_delta,
                a.mean_abs_delta, b.grad_norm, a.grad_norm, b.weight_norm, a.weight_norm,
                b.saturated_fraction, a.saturated_fraction);
        ck_assert_double_eq_tol(b.mean_abs_delta, a.mean_abs_delta, 1e-4 * a.mean_abs_delta);
        ck_assert_double_eq_tol(b.grad_norm, a.grad_norm, 1e-4 * a.grad_norm);
        ck_assert_double_eq_tol(b.weight_norm, a.weight_norm, 1e-4 * a.weight_norm);
        ck_assert_double_eq_tol(b.saturated_fraction, a.saturated_fraction, sat_tol);
    }
    clmlp_engine_free(r), clmlp_engine_free(c);
    free_setup(&s);
}
END_TEST

/* No step, a bad layer, or a prediction since the step: a clear error, on both backends. The
 * stats of a step stay readable after they were computed once. */
START_TEST(stats_need_a_training_step)
{
    clmlp_backend b = _i ? CLMLP_BACKEND_OPENCL : CLMLP_BACKEND_REF;
    setup s = make_setup(CLMLP_ACT_TANH);
    clmlp_engine *e = engine_after_steps(b, &s, 0);
    clmlp_layer_stats st, again;
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 0, &st), CLMLP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(clmlp_engine_error(e), "training step"));
    ck_assert_int_eq(clmlp_engine_train_batch(e, 0, s.B), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 4, &st), CLMLP_ERR_ARG);
    ck_assert_int_eq(clmlp_engine_layer_stats(e, -1, &st), CLMLP_ERR_ARG);
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 1, &st), CLMLP_OK);
    float *P = malloc(s.n * 5 * sizeof *P);
    ck_assert_int_eq(clmlp_engine_predict(e, s.X, s.n, P), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 1, &again), CLMLP_OK); /* kept from the step */
    ck_assert_mem_eq(&st, &again, sizeof st);
    ck_assert_int_eq(clmlp_engine_train_batch(e, 0, s.B), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_predict(e, s.X, s.n, P), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 1, &st), CLMLP_ERR_ARG); /* activations gone */
    free(P);
    clmlp_engine_free(e);
    free_setup(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradient diagnostics");
    TCase *tc = tcase_create("diagnostics");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, layer_stats_matches_twin, 0, N_SHAPES);
    tcase_add_test(tc, saturation_thresholds_are_inclusive);
    tcase_add_test(tc, column_norms_survive_the_float_range);
    tcase_add_loop_test(tc, stats_follow_their_definitions, 0, 3);
    tcase_add_loop_test(tc, opencl_stats_match_the_reference_engine, 0, 6);
    tcase_add_loop_test(tc, stats_need_a_training_step, 0, 2);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
