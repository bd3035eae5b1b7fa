/* test_cases_engine.c - the engine-level failure cases of tests/cases (shared/cases): C01
 * activation overflow, C02 softmax/CE overflow, C04 one exact SGD step, C05 softmax axis and
 * sign, C06 gradients on odd shapes, C07 awkward widths and batches, C15 tolerance and
 * determinism; and XOR learned on both backends. Each runs on the CPU reference and on the
 * OpenCL device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case_values.h"
#include "ref/ref_kernels.h"
#include "testutil.h"

static const clmlp_backend backends[] = {CLMLP_BACKEND_REF, CLMLP_BACKEND_OPENCL};
static const char *backend_name(clmlp_backend b) { return b == CLMLP_BACKEND_REF ? "ref" : "opencl"; }

static clmlp_engine *engine(clmlp_backend backend, const clmlp_net *net, const clmlp_hyper *h,
                            size_t max_batch)
{
    clmlp_engine *e;
    char err[16384];
    clmlp_status st = clmlp_engine_create(&e, backend, NULL, net, h, max_batch, err, sizeof err);
    ck_assert_msg(st == CLMLP_OK, "%s engine: %s", backend_name(backend), err);
    return e;
}

#define ENGINE_OK(e, call) ck_assert_msg((call) == CLMLP_OK, "%s", clmlp_engine_error(e))

/* ---- C01: activations never overflow, on the twin and on the kernel ---- */
static const double c01_z[] = {-1662.72692871, 3212.53930664, -1093.66174316, 2063.79956055,
                               91.38743591, -1471.00500488, 1823.1607666, 1935.2911377, 0, -0.5,
                               88, 89, -88, -89, 104, -104, 20, -20};
#define C01_N (sizeof c01_z / sizeof *c01_z)

/* float64 stable sigmoid, the case's reference */
static double sigmoid64(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

START_TEST(c01_activations_do_not_overflow)
{
    tu_cl t;
    tu_cl_open(&t);
    float z[C01_N], ones[C01_N], zero[C01_N], got[C01_N], dgot[C01_N];
    for (size_t i = 0; i < C01_N; i++)
        z[i] = (float)c01_z[i], ones[i] = 1.0f, zero[i] = 0.0f;
    const int acts[] = {CLMLP_ACT_SIGMOID, CLMLP_ACT_TANH};
    for (int a = 0; a < 2; a++) {
        /* Forward: C01 rows as a batch of 1-input units: A_prev = 1, W = z, b = 0. */
        cl_mem dA = tu_cl_in(&t, ones, C01_N), db = tu_cl_in(&t, zero, 1);
        for (size_t i = 0; i < C01_N; i++) {
            float w = z[i];
            cl_mem dWi = tu_cl_in(&t, &w, 1), dOut = tu_cl_out(&t, 1);
            TU_RUN(&t, "forward_layer", 1, 1, 8, 8, TU_MEM(dA), TU_MEM(dWi), TU_MEM(db),
                   TU_MEM(dOut), TU_U32(1), TU_U32(1), TU_U32(1), TU_I32(acts[a]));
            float one;
            tu_cl_read(&t, dOut, &one, 1);
            got[i] = one;
            clReleaseMemObject(dWi), clReleaseMemObject(dOut);
        }
        /* Derivative from the stored activation: hidden_delta with D = 1, W = 1. */
        cl_mem dAct = tu_cl_in(&t, got, C01_N), dD = tu_cl_out(&t, C01_N);
        TU_RUN(&t, "hidden_delta", 1, C01_N, 8, 8, TU_MEM(dA), TU_MEM(dA), TU_MEM(dAct),
               TU_MEM(dD), TU_U32(C01_N), TU_U32(1), TU_U32(1), TU_I32(acts[a]));
        tu_cl_read(&t, dD, dgot, C01_N);
        for (size_t i = 0; i < C01_N; i++) {
            double s = acts[a] == CLMLP_ACT_SIGMOID ? sigmoid64(c01_z[i]) : tanh(c01_z[i]);
            double ds = acts[a] == CLMLP_ACT_SIGMOID ? s * (1 - s) : 1 - s * s;
            double twin = ref_act_apply(acts[a], z[i]);
            double dtwin = ref_act_deriv_from_output(acts[a], twin);
            ck_assert_msg(isfinite(got[i]) && isfinite(dgot[i]), "z=%g: NaN/inf", c01_z[i]);
            ck_assert_msg(fabs(got[i] - s) <= 1e-6, "act %d z=%g: kernel %.9g want %.9g", acts[a], c01_z[i], got[i], s);
            ck_assert_msg(fabs(dgot[i] - ds) <= 1e-6, "deriv %d z=%g: kernel %.9g want %.9g", acts[a], c01_z[i], dgot[i], ds);
            ck_assert_msg(fabs(twin - s) <= 1e-6 && fabs(dtwin - ds) <= 1e-6, "twin z=%g", c01_z[i]);
            ck_assert(dgot[i] >= 0);
        }
        clReleaseMemObject(dA), clReleaseMemObject(db);
        clReleaseMemObject(dAct), clReleaseMemObject(dD);
    }
    tu_cl_close(&t);
}
END_TEST

START_TEST(derivatives_match_the_notes)
{
    /* sigma'(0) = 0.25 and tanh'(0) = 1; sigma' = e^-x / (1 + e^-x)^2 and
     * tanh' = 4 e^2x / (1 + e^2x)^2, the notes' closed forms, on a grid. */
    ck_assert_double_eq_tol(ref_act_deriv_from_output(CLMLP_ACT_SIGMOID, ref_act_apply(CLMLP_ACT_SIGMOID, 0)), 0.25, 1e-15);
    ck_assert_double_eq_tol(ref_act_deriv_from_output(CLMLP_ACT_TANH, ref_act_apply(CLMLP_ACT_TANH, 0)), 1.0, 1e-15);
    for (double x = -10; x <= 10; x += 0.25) {
        double ds = ref_act_deriv_from_output(CLMLP_ACT_SIGMOID, ref_act_apply(CLMLP_ACT_SIGMOID, x));
        double dt = ref_act_deriv_from_output(CLMLP_ACT_TANH, ref_act_apply(CLMLP_ACT_TANH, x));
        ck_assert_double_eq_tol(ds, exp(-x) / pow(1 + exp(-x), 2), 1e-12);
        ck_assert_double_eq_tol(dt, 4 * exp(2 * x) / pow(1 + exp(2 * x), 2), 1e-12);
        ck_assert(ds <= 0.25 && dt <= 1.0); /* the maxima the vanishing-gradient claim uses */
    }
}
END_TEST

/* ---- C02: softmax + CE with huge logits ---- */
static const struct {
    size_t n;
    float z[5];
    int y;
    double loss;
} c02[] = {
    {3, {90, 2, -2}, 0, 0}, {3, {90, 2, -2}, 1, 88}, {3, {90, 2, -2}, 2, 92},
    {5, {-249.873093f, -424.126709f, -460.292542f, 378.097443f, -292.614532f}, 3, 0},
    {5, {-249.873093f, -424.126709f, -460.292542f, 378.097443f, -292.614532f}, 0, 627.970536},
    {3, {1000, 0, -1000}, 0, 0}, {3, {1000, 0, -1000}, 2, 2000},
    {4, {1e4f, 1e4f, 1e4f, 1e4f}, 2, 1.386294361}, {3, {-1e4f, -9999, -9998}, 2, 0.4076059644},
};

START_TEST(c02_softmax_ce_never_overflows)
{
    tu_cl t;
    tu_cl_open(&t);
    for (size_t c = 0; c < sizeof c02 / sizeof *c02; c++) {
        size_t n = c02[c].n;
        int32_t y = c02[c].y;
        float D[5], loss, P[5], Dg[5], lossg, Pg[5];
        int32_t ok, okg;
        ref_output_delta_ce(c02[c].z, &y, D, &loss, &ok, 1, n, 0);
        ref_softmax_rows(c02[c].z, P, 1, n);
        cl_mem dz = tu_cl_in(&t, c02[c].z, n), dy = tu_cl_in(&t, &y, 1);
        cl_mem dD = tu_cl_out(&t, n), dl = tu_cl_out(&t, 1), dok = tu_cl_out(&t, 1), dP = tu_cl_out(&t, n);
        TU_RUN(&t, "output_delta_ce", 1, 0, 64, 0, TU_MEM(dz), TU_MEM(dy), TU_MEM(dD), TU_MEM(dl),
               TU_MEM(dok), TU_U32(1), TU_U32(n), TU_U32(0));
        TU_RUN(&t, "softmax_rows", 1, 0, 64, 0, TU_MEM(dz), TU_MEM(dP), TU_U32(1), TU_U32(n));
        tu_cl_read(&t, dD, Dg, n), tu_cl_read(&t, dl, &lossg, 1), tu_cl_read(&t, dok, &okg, 1);
        tu_cl_read(&t, dP, Pg, n);
        double tol = 1e-5 * fmax(1.0, c02[c].loss); /* losses within 1e-5 relative (C02) */
        ck_assert_msg(fabs(loss - c02[c].loss) <= tol && fabs(lossg - c02[c].loss) <= tol,
                      "C02 case %zu: loss twin %.9g kernel %.9g want %.9g", c, loss, lossg, c02[c].loss);
        double sum = 0, sumg = 0;
        for (size_t k = 0; k < n; k++) {
            ck_assert(isfinite(D[k]) && isfinite(Dg[k]) && isfinite(P[k]) && isfinite(Pg[k]));
            ck_assert_msg(fabs(D[k] - Dg[k]) <= 1e-6 && fabs(P[k] - Pg[k]) <= 1e-6, "case %zu k %zu", c, k);
            sum += P[k], sumg += Pg[k];
        }
        ck_assert(fabs(sum - 1) <= 1e-6 && fabs(sumg - 1) <= 1e-6);
        clReleaseMemObject(dz), clReleaseMemObject(dy), clReleaseMemObject(dD);
        clReleaseMemObject(dl), clReleaseMemObject(dok), clReleaseMemObject(dP);
    }
    tu_cl_close(&t);
}
END_TEST

/* ---- C04: one exact SGD step on a 2-3-2 network ---- */
typedef struct c04_variant {
    char tag;
    clmlp_act hidden, out;
    clmlp_loss loss;
    size_t B;
    int zero_bias;
    double loss_before, loss_after;
    const double *gW1, *gb1, *gW2, *gb2, *W1, *b1, *W2, *b2;
} c04_variant;

#define C04(T, H, O, LOSS, B, ZB)                                                                 \
    {#T[0], H, O, LOSS, B, ZB, c04_##T##_loss_before, c04_##T##_loss_after, c04_##T##_grad_W1,    \
     c04_##T##_grad_b1, c04_##T##_grad_W2, c04_##T##_grad_b2, c04_##T##_after_W1,                 \
     c04_##T##_after_b1, c04_##T##_after_W2, c04_##T##_after_b2}
static const c04_variant c04_variants[] = {
    C04(A, CLMLP_ACT_SIGMOID, CLMLP_ACT_SOFTMAX, CLMLP_LOSS_CE, 2, 0),
    C04(B, CLMLP_ACT_SIGMOID, CLMLP_ACT_SOFTMAX, CLMLP_LOSS_CE, 1, 0),
    C04(C, CLMLP_ACT_TANH, CLMLP_ACT_SIGMOID, CLMLP_LOSS_MSE, 2, 0),
    C04(D, CLMLP_ACT_SIGMOID, CLMLP_ACT_SOFTMAX, CLMLP_LOSS_CE, 2, 1),
    C04(E, CLMLP_ACT_RELU, CLMLP_ACT_SOFTMAX, CLMLP_LOSS_CE, 2, 0),
};

/* Case weights are (out x in); ours are (in x out). */
static void load_transposed(float *W, const double *caseW, size_t n_in, size_t n_out)
{
    for (size_t k = 0; k < n_out; k++)
        for (size_t j = 0; j < n_in; j++)
            W[j * n_out + k] = (float)caseW[k * n_in + j];
}

static void expect_transposed(const char *what, const float *got, const double *want, size_t n_in,
                              size_t n_out, double scale)
{
    for (size_t k = 0; k < n_out; k++)
        for (size_t j = 0; j < n_in; j++)
            ck_assert_msg(fabs(got[j * n_out + k] - scale * want[k * n_in + j]) <= 1e-6,
                          "%s[%zu][%zu]: got %.9g want %.9g", what, k, j, got[j * n_out + k],
                          scale * want[k * n_in + j]);
}

START_TEST(c04_one_sgd_step_is_exact)
{
    const c04_variant *v = &c04_variants[_i / 2];
    clmlp_backend backend = backends[_i % 2];
    const size_t sizes[] = {2, 3, 2};
    const clmlp_act act[] = {v->hidden, v->out};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 2, sizes, act, v->loss, NULL, 0), CLMLP_OK);
    load_transposed(clmlp_net_W(net, 0), c04_init_W1, 2, 3);
    load_transposed(clmlp_net_W(net, 1), c04_init_W2, 3, 2);
    for (int k = 0; k < 3 && !v->zero_bias; k++)
        clmlp_net_b(net, 0)[k] = (float)c04_init_b1[k];
    for (int k = 0; k < 2 && !v->zero_bias; k++)
        clmlp_net_b(net, 1)[k] = (float)c04_init_b2[k];
    /* Our MSE has no 1/2 (the notes' 2(y - yhat)), so gradients are twice the case's; half the
     * learning rate then gives the case's step exactly. */
    double gscale = v->loss == CLMLP_LOSS_MSE ? 2.0 : 1.0;
    clmlp_hyper h = clmlp_hyper_default();
    h.optimizer = CLMLP_OPT_SGD;
    h.lr = (float)(c04_lr / gscale);
    clmlp_engine *e = engine(backend, net, &h, 2);
    float X[4];
    for (int i = 0; i < 4; i++)
        X[i] = (float)c04_init_X[i];
    uint32_t order[] = {0, 1};
    ENGINE_OK(e, clmlp_engine_set_data(e, X, c04_labels, v->B, 2));
    ENGINE_OK(e, clmlp_engine_set_order(e, order, v->B));
    ENGINE_OK(e, clmlp_engine_train_batch(e, 0, v->B));
    double loss_sum;
    size_t correct;
    ENGINE_OK(e, clmlp_engine_epoch_stats(e, v->B, &loss_sum, &correct));
    ck_assert_msg(fabs(loss_sum / v->B - gscale * v->loss_before) <= 1e-5 * gscale * v->loss_before,
                  "C04 %c %s: loss before %.9g want %.9g", v->tag, backend_name(backend),
                  loss_sum / v->B, gscale * v->loss_before);
    float buf[6];
    size_t len;
    ENGINE_OK(e, clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_W, 0, buf, 6, &len));
    expect_transposed("grad W1", buf, v->gW1, 2, 3, gscale);
    ENGINE_OK(e, clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_W, 1, buf, 6, &len));
    expect_transposed("grad W2", buf, v->gW2, 3, 2, gscale);
    ENGINE_OK(e, clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_B, 0, buf, 6, &len));
    expect_transposed("grad b1", buf, v->gb1, 1, 3, gscale);
    ENGINE_OK(e, clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_B, 1, buf, 6, &len));
    expect_transposed("grad b2", buf, v->gb2, 1, 2, gscale);
    ENGINE_OK(e, clmlp_engine_get_params(e, net));
    expect_transposed("new W1", clmlp_net_W(net, 0), v->W1, 2, 3, 1);
    expect_transposed("new W2", clmlp_net_W(net, 1), v->W2, 3, 2, 1);
    expect_transposed("new b1", clmlp_net_b(net, 0), v->b1, 1, 3, 1);
    expect_transposed("new b2", clmlp_net_b(net, 1), v->b2, 1, 2, 1);
    /* The loss after the step, from the engine's own predictions: it went down (the sign). */
    float out[4];
    ENGINE_OK(e, clmlp_engine_predict(e, X, v->B, out));
    double after = 0;
    for (size_t b = 0; b < v->B; b++)
        for (int k = 0; k < 2; k++) {
            double t = k == c04_labels[b];
            after += v->loss == CLMLP_LOSS_CE ? (t ? -log(out[b * 2 + k]) : 0)
                                              : gscale * 0.5 * (out[b * 2 + k] - t) * (out[b * 2 + k] - t);
        }
    after /= (double)v->B;
    ck_assert_msg(fabs(after - gscale * v->loss_after) <= 1e-5 * gscale * v->loss_after,
                  "loss after %.9g want %.9g", after, gscale * v->loss_after);
    ck_assert(v->loss_after < v->loss_before);
    clmlp_engine_free(e);
    clmlp_net_free(net);
}
END_TEST

/* ---- C05: softmax over the classes of each sample ---- */
START_TEST(c05_softmax_runs_over_classes_not_the_batch)
{
    const float Z[] = {1, 2, 3, 4, 2, 2, 2, 2, 10, 0, -10, 5};
    const int32_t y[] = {3, 0, 2};
    const double want_row0[] = {0.0320586033, 0.0871443187, 0.2368828238, 0.6439142599};
    float P[12], D[12], loss[3];
    int32_t ok[3];
    ref_softmax_rows(Z, P, 3, 4);
    ref_output_delta_ce(Z, y, D, loss, ok, 3, 4, 0);
    tu_cl t;
    tu_cl_open(&t);
    cl_mem dz = tu_cl_in(&t, Z, 12), dP = tu_cl_out(&t, 12);
    TU_RUN(&t, "softmax_rows", 3, 0, 64, 0, TU_MEM(dz), TU_MEM(dP), TU_U32(3), TU_U32(4));
    float Pg[12];
    tu_cl_read(&t, dP, Pg, 12);
    ck_assert(tu_close("C05 P", Pg, P, 12, NULL, 1e-6, 0));
    for (int k = 0; k < 4; k++)
        ck_assert_double_eq_tol(P[k], want_row0[k], 1e-6);
    for (int b = 0; b < 3; b++) {
        double s = P[b * 4] + P[b * 4 + 1] + P[b * 4 + 2] + P[b * 4 + 3];
        ck_assert_double_eq_tol(s, 1.0, 1e-6);
        /* One sample alone gives the same probabilities as in the batch. */
        float one[4];
        ref_softmax_rows(Z + b * 4, one, 1, 4);
        ck_assert_mem_eq(one, P + b * 4, sizeof one);
    }
    /* Ties go to the lowest index: predictions [3, 0, 0], so samples 0 and 1 are right. */
    ck_assert_int_eq(ok[0], 1);
    ck_assert_int_eq(ok[1], 1);
    ck_assert_int_eq(ok[2], 0);
    /* dL/dZ = (P - Y) / B: positive where the label is not, negative on the label. */
    ck_assert_double_eq_tol(D[3], (P[3] - 1) / 3.0, 1e-7);
    ck_assert(D[3] < 0 && D[0] > 0);
    clReleaseMemObject(dz), clReleaseMemObject(dP);
    tu_cl_close(&t);
}
END_TEST

/* ---- C06 through the engines: one step's gradients against the case's float64 values ---- */
START_TEST(c06_engine_gradients_match_the_case)
{
    clmlp_backend backend = backends[_i];
    const size_t sizes[] = {5, 7, 3};
    const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 2, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    double W1[35], W2[21];
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 5; j++)
            W1[i * 5 + j] = 0.5 * sin(1.0 + 7 * i + 3 * j);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 7; i++)
            W2[k * 7 + i] = 0.5 * cos(2.0 + 5 * k + 11 * i);
    load_transposed(clmlp_net_W(net, 0), W1, 5, 7);
    load_transposed(clmlp_net_W(net, 1), W2, 7, 3);
    for (int i = 0; i < 7; i++)
        clmlp_net_b(net, 0)[i] = (float)(0.1 * cos(i));
    for (int k = 0; k < 3; k++)
        clmlp_net_b(net, 1)[k] = (float)(0.05 * k - 0.05);
    float X[55];
    int32_t y[11];
    uint32_t order[11];
    for (int n = 0; n < 11; n++) {
        for (int j = 0; j < 5; j++)
            X[n * 5 + j] = (float)sin(0.3 * n + 0.7 * j + 0.1);
        y[n] = n % 3, order[n] = (uint32_t)n;
    }
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_engine *e = engine(backend, net, &h, 11);
    ENGINE_OK(e, clmlp_engine_set_data(e, X, y, 11, 5));
    ENGINE_OK(e, clmlp_engine_set_order(e, order, 11));
    ENGINE_OK(e, clmlp_engine_train_batch(e, 0, 11));
    float g[35];
    size_t len;
    ENGINE_OK(e, clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_W, 0, g, 35, &len));
    expect_transposed("C06 grad W1", g, c06_grad_W1, 5, 7, 1);
    ENGINE_OK(e, clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_W, 1, g, 35, &len));
    expect_transposed("C06 grad W2", g, c06_grad_W2, 7, 3, 1);
    ENGINE_OK(e, clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_B, 0, g, 35, &len));
    expect_transposed("C06 grad b1", g, c06_grad_b1, 1, 7, 1);
    ENGINE_OK(e, clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_B, 1, g, 35, &len));
    expect_transposed("C06 grad b2", g, c06_grad_b2, 1, 3, 1);
    clmlp_engine_free(e);
    clmlp_net_free(net);
}
END_TEST

/* ---- XOR and determinism ---- */
static clmlp_net *xor_net(uint64_t seed)
{
    const size_t sizes[] = {2, 8, 2};
    const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 2, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_net_init(net, CLMLP_INIT_XAVIER, seed);
    return net;
}

/* Trains XOR full-batch for `steps` and returns the final parameters (caller frees). */
static clmlp_net *train_xor(clmlp_backend backend, uint64_t seed, int steps, size_t *correct)
{
    static const float X[] = {0, 0, 0, 1, 1, 0, 1, 1};
    static const int32_t y[] = {0, 1, 1, 0};
    static const uint32_t order[] = {0, 1, 2, 3};
    clmlp_net *net = xor_net(seed);
    clmlp_hyper h = clmlp_hyper_default();
    h.optimizer = CLMLP_OPT_MOMENTUM;
    h.lr = 0.5f;
    clmlp_engine *e = engine(backend, net, &h, 4);
    ENGINE_OK(e, clmlp_engine_set_data(e, X, y, 4, 2));
    ENGINE_OK(e, clmlp_engine_set_order(e, order, 4));
    for (int s = 0; s < steps; s++)
        ENGINE_OK(e, clmlp_engine_train_batch(e, 0, 4));
    double loss;
    ENGINE_OK(e, clmlp_engine_train_batch(e, 0, 4));
    ENGINE_OK(e, clmlp_engine_epoch_stats(e, 4, &loss, correct));
    ENGINE_OK(e, clmlp_engine_get_params(e, net));
    clmlp_engine_free(e);
    return net;
}

START_TEST(xor_is_learned_and_runs_are_bit_identical)
{
    clmlp_backend backend = backends[_i];
    size_t c1, c2;
    clmlp_net *a = train_xor(backend, 1, 300, &c1), *b = train_xor(backend, 1, 300, &c2);
    ck_assert_msg(c1 == 4, "%s: XOR %zu/4 after 300 steps", backend_name(backend), c1);
    ck_assert_mem_eq(a->params, b->params, a->n_params_padded * sizeof(float));
    clmlp_net *c = train_xor(backend, 2, 300, &c2);
    ck_assert_msg(memcmp(a->params, c->params, a->n_params_padded * sizeof(float)) != 0,
                  "a different seed gave the same weights");
    clmlp_net_free(a), clmlp_net_free(b), clmlp_net_free(c);
}
END_TEST

/* ---- C07 and C15: awkward shapes, device vs reference after one step ---- */
/* Differences after one step: sums of up to 1000 float terms in different orders, so
 * |a - b| <= atol + rtol |b| with rtol 1e-4, atol 1e-5 (C15's suggestion for one step). */
#define STEP_RTOL 1e-4
#define STEP_ATOL 1e-5

/* Runs one training step of net on both backends; returns max over layers of the violation
 * ratio |a-b| / (atol + rtol|b|) of the weights after the step (<= 1 passes). */
static double one_step_disagreement(const clmlp_net *net, const float *X, const int32_t *y,
                                    size_t n, size_t B, float perturb)
{
    uint32_t *order = malloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_engine *r = engine(CLMLP_BACKEND_REF, net, &h, B), *c = engine(CLMLP_BACKEND_OPENCL, net, &h, B);
    clmlp_engine *both[] = {r, c};
    for (int i = 0; i < 2; i++) {
        ENGINE_OK(both[i], clmlp_engine_set_data(both[i], X, y, n, net->sizes[0]));
        ENGINE_OK(both[i], clmlp_engine_set_order(both[i], order, n));
        ENGINE_OK(both[i], clmlp_engine_train_batch(both[i], 0, B));
    }
    double worst = 0;
    for (int l = 0; l < net->n_layers; l++) {
        size_t len = net->sizes[l] * net->sizes[l + 1], got;
        float *wr = malloc(len * 4), *wc = malloc(len * 4);
        ENGINE_OK(r, clmlp_engine_read_buffer(r, CLMLP_BUF_WEIGHT, l, wr, len, &got));
        ENGINE_OK(c, clmlp_engine_read_buffer(c, CLMLP_BUF_WEIGHT, l, wc, len, &got));
        if (l == 0)
            wc[len / 2] += perturb;
        for (size_t i = 0; i < len; i++)
            worst = fmax(worst, fabs(wc[i] - wr[i]) / (STEP_ATOL + STEP_RTOL * fabs(wr[i])));
        free(wr), free(wc);
    }
    clmlp_engine_free(r), clmlp_engine_free(c);
    free(order);
    return worst;
}

static const size_t c07_widths[] = {1, 3, 7, 37, 100, 257, 1000};
static const size_t c07_batches[] = {1, 3, 13, 1000};

START_TEST(c07_awkward_widths_and_batches_agree_with_the_reference)
{
    size_t width = c07_widths[_i];
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 99);
    size_t n = 1000, dim = 16;
    float *X = tu_random(&rng, n * dim, 0, 1);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t)(i % 10);
    const size_t sizes[] = {dim, width, 10};
    const clmlp_act act[] = {CLMLP_ACT_SIGMOID, CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 2, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_net_init(net, CLMLP_INIT_XAVIER, 5);
    for (size_t b = 0; b < sizeof c07_batches / sizeof *c07_batches; b++) {
        double worst = one_step_disagreement(net, X, y, n, c07_batches[b], 0);
        ck_assert_msg(worst <= 1, "16-%zu-10 batch %zu: device/reference disagree (%.3g x tol)",
                      width, c07_batches[b], worst);
    }
    clmlp_net_free(net);
    free(X), free(y);
}
END_TEST

START_TEST(c15_comparison_tolerates_order_but_catches_a_perturbation)
{
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 15);
    size_t n = 64;
    float *X = tu_random(&rng, n * 784, 0, 1);
    int32_t y[64];
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t)(i % 10);
    const size_t sizes[] = {784, 100, 10};
    const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 2, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_net_init(net, CLMLP_INIT_XAVIER, 3);
    double clean = one_step_disagreement(net, X, y, n, 64, 0);
    fprintf(stderr, "C15 784-100-10 batch 64: worst |diff| = %.3g x tolerance\n", clean);
    ck_assert_msg(clean <= 1, "one step differs by %.3g x tolerance", clean);
    ck_assert_msg(one_step_disagreement(net, X, y, n, 64, 1e-2f) > 1,
                  "a 1e-2 perturbation of one weight went unnoticed");
    clmlp_net_free(net);
    free(X);
}
END_TEST

START_TEST(absent_device_is_a_clear_error)
{
    const size_t sizes[] = {2, 2};
    const clmlp_act act[] = {CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 1, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_engine *e = NULL;
    char err[16384];
    clmlp_status st = clmlp_engine_create(&e, CLMLP_BACKEND_OPENCL, "no-such-device-xyz", net, &h,
                                          4, err, sizeof err);
    ck_assert_int_ne(st, CLMLP_OK);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err, "no-such-device-xyz") && strstr(err, "devices are"), "%s", err);
    clmlp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine cases");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, c01_activations_do_not_overflow);
    tcase_add_test(tc, derivatives_match_the_notes);
    tcase_add_test(tc, c02_softmax_ce_never_overflows);
    tcase_add_loop_test(tc, c04_one_sgd_step_is_exact, 0, 10);
    tcase_add_test(tc, c05_softmax_runs_over_classes_not_the_batch);
    tcase_add_loop_test(tc, c06_engine_gradients_match_the_case, 0, 2);
    tcase_add_loop_test(tc, xor_is_learned_and_runs_are_bit_identical, 0, 2);
    tcase_add_loop_test(tc, c07_awkward_widths_and_batches_agree_with_the_reference, 0, 7);
    tcase_add_test(tc, c15_comparison_tolerates_order_but_catches_a_perturbation);
    tcase_add_test(tc, absent_device_is_a_clear_error);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
