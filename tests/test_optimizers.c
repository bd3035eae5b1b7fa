/* test_optimizers.c - SGD, momentum and Adam (with L2) on both backends against the textbook
 * formulas, written out here in double precision and independent of the library's own rule
 * code (kernels/update_rules.cl, the reference's twins and clmlp_adam_coeffs, which folds
 * Adam's bias corrections into lr and eps for both backends):
 *   g' = g + l2 w            (weights only; biases take g)
 *   SGD       p -= lr g'
 *   momentum  v = mu v + g';  p -= lr v
 *   Adam      m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
 *             p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * The gradient g is the engine's own (read back after each step; finite differences check it
 * elsewhere, test_gradcheck), so only the update is under test. The network has a 40-unit
 * layer and 19- and 5-unit ones, so on a CPU-like device both weight_grad's epilogue and
 * weight_grad_narrow's step parameters. The settings are all unlike their defaults and unlike
 * each other (mu, b1, b2), so a swapped or dropped one shows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const clmlp_backend backends[] = {CLMLP_BACKEND_REF, CLMLP_BACKEND_OPENCL};

#define N_LAYERS 3
#define N_SAMPLES 64
#define BATCH 16
#define STEPS 4
static const size_t sizes[N_LAYERS + 1] = {7, 40, 19, 5};

/* Tolerances. Parameters: each step starts both sides from the engine's float parameters, so
 * a step differs only by float32 rounding of the update (a few ulp of |p| <= ~1, plus a few
 * ulp of a step <= ~lr): 1e-6 absolute is ten times that, while the faults it is meant for
 * move a weight by 1e-5 or more here (L2 on a bias: lr l2 |b| = 3e-5; momentum without L2:
 * lr l2 |w| ~ 1e-4; Adam without a bias correction: a step of a different size, ~1e-2).
 * Moments: the textbook's run on in double for all four steps, the engine's in float, so
 * they part by a few float ulp per step; each array is compared relative to its largest
 * element (1e-5 of it), since elements near zero carry no relative accuracy. Measured on
 * PoCL and the reference: parameters within 2.5e-8, moments within 1.2e-7 of their scale;
 * kernels with an L2 on the biases, momentum without L2, Adam's beta2 swapped for beta1 or a
 * velocity stored halved all fail (tried with CLMLP_KERNEL_DIR on edited copies). */
#define PARAM_TOL 1e-6
#define MOMENT_REL_TOL 1e-5

typedef struct textbook {
    clmlp_hyper h;
    double *p, *m, *v; /* parameters and moments, padded layout */
} textbook;

static clmlp_hyper settings(clmlp_optimizer o)
{
    clmlp_hyper h = clmlp_hyper_default();
    h.optimizer = o;
    h.lr = 0.03f;
    h.l2 = 0.02f;
    h.momentum = 0.8f;
    h.beta1 = 0.85f;
    h.beta2 = 0.99f;
    h.eps = 1e-6f;
    return h;
}

/* One parameter's step, t counting from 1. */
static void step_one(const clmlp_hyper *h, unsigned t, double g, double l2, double *p, double *m,
                     double *v)
{
    double gd = g + l2 * *p;
    if (h->optimizer == CLMLP_OPT_SGD) {
        *p -= h->lr * gd;
    } else if (h->optimizer == CLMLP_OPT_MOMENTUM) {
        *m = h->momentum * *m + gd;
        *p -= h->lr * *m;
    } else {
        *m = h->beta1 * *m + (1.0 - h->beta1) * gd;
        *v = h->beta2 * *v + (1.0 - h->beta2) * gd * gd;
        double mhat = *m / (1.0 - pow(h->beta1, t)), vhat = *v / (1.0 - pow(h->beta2, t));
        *p -= h->lr * mhat / (sqrt(vhat) + h->eps);
    }
}

/* The textbook step of every weight and bias from gradients g (padded layout). */
static void textbook_step(textbook *tb, const clmlp_net *net, unsigned t, const float *g)
{
    for (int l = 0; l < net->n_layers; l++) {
        size_t nw = net->sizes[l] * net->sizes[l + 1], nb = net->sizes[l + 1];
        for (size_t i = net->w_off[l]; i < net->w_off[l] + nw; i++)
            step_one(&tb->h, t, g[i], tb->h.l2, &tb->p[i], &tb->m[i], &tb->v[i]);
        for (size_t i = net->b_off[l]; i < net->b_off[l] + nb; i++)
            step_one(&tb->h, t, g[i], 0.0, &tb->p[i], &tb->m[i], &tb->v[i]);
    }
}

/* The engine's gradients of the last step, into g in the padded layout. */
static void read_gradients(clmlp_engine *e, const clmlp_net *net, float *g)
{
    for (int l = 0; l < net->n_layers; l++) {
        size_t len = 0;
        ck_assert_int_eq(clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_W, l, g + net->w_off[l],
                                                  net->n_params_padded - net->w_off[l], &len),
                         CLMLP_OK);
        ck_assert_int_eq(clmlp_engine_read_buffer(e, CLMLP_BUF_GRAD_B, l, g + net->b_off[l],
                                                  net->n_params_padded - net->b_off[l], &len),
                         CLMLP_OK);
    }
}

/* max |a - b| over the parameters of the network (padding left out). */
static double max_param_diff(const clmlp_net *net, const double *a, const float *b)
{
    double worst = 0.0;
    for (int l = 0; l < net->n_layers; l++) {
        size_t start[2] = {net->w_off[l], net->b_off[l]};
        size_t len[2] = {net->sizes[l] * net->sizes[l + 1], net->sizes[l + 1]};
        for (int part = 0; part < 2; part++)
            for (size_t i = start[part]; i < start[part] + len[part]; i++)
                worst = fmax(worst, fabs(a[i] - b[i]));
    }
    return worst;
}

/* max |a - b| relative to max |a|, over the parameters' places. */
static double moment_rel_diff(const clmlp_net *net, const double *a, const float *b)
{
    double scale = 0.0;
    for (size_t i = 0; i < net->n_params_padded; i++)
        scale = fmax(scale, fabs(a[i]));
    ck_assert_msg(scale > 0.0, "the moments are all zero: nothing was tested");
    return max_param_diff(net, a, b) / scale;
}

static clmlp_net *make_net(void)
{
    const clmlp_act act[N_LAYERS] = {CLMLP_ACT_TANH, CLMLP_ACT_SIGMOID, CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, N_LAYERS, sizes, act, CLMLP_LOSS_CE, NULL, 0),
                     CLMLP_OK);
    clmlp_net_init(net, CLMLP_INIT_XAVIER, 3);
    for (int l = 0; l < N_LAYERS; l++) /* non-zero biases, so that an L2 on them would show */
        for (size_t k = 0; k < sizes[l + 1]; k++)
            clmlp_net_b(net, l)[k] = 0.05f * (float)(k % 3);
    return net;
}

static clmlp_engine *make_engine(clmlp_backend b, const clmlp_net *net, const clmlp_hyper *h)
{
    float *X = malloc(N_SAMPLES * sizes[0] * sizeof *X);
    int32_t labels[N_SAMPLES];
    uint32_t order[N_SAMPLES];
    clmlp_rng r;
    clmlp_rng_seed(&r, 5);
    for (size_t i = 0; i < N_SAMPLES * sizes[0]; i++)
        X[i] = (float)(2.0 * clmlp_rng_uniform(&r) - 1.0);
    for (uint32_t i = 0; i < N_SAMPLES; i++) {
        labels[i] = (int32_t)(i % sizes[N_LAYERS]);
        order[i] = (i * 37) % N_SAMPLES;
    }
    clmlp_engine *e;
    char err[16384];
    ck_assert_msg(clmlp_engine_create(&e, b, NULL, net, h, BATCH, err, sizeof err) == CLMLP_OK,
                  "%s", err);
    ck_assert_int_eq(clmlp_engine_set_data(e, X, labels, N_SAMPLES, sizes[0]), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_set_order(e, order, N_SAMPLES), CLMLP_OK);
    free(X);
    return e;
}

/* _i: backend x optimizer. Four steps; after each, the engine's parameters against the
 * textbook step from the same parameters, and its moments against the textbook's. */
START_TEST(steps_follow_the_textbook_rules)
{
    clmlp_backend b = backends[_i % 2];
    clmlp_optimizer o = (clmlp_optimizer)(_i / 2);
    clmlp_net *net = make_net(), *after;
    ck_assert_int_eq(clmlp_net_clone(&after, net), CLMLP_OK);
    size_t n = net->n_params_padded;
    textbook tb = {settings(o), calloc(n, sizeof(double)), calloc(n, sizeof(double)),
                   calloc(n, sizeof(double))};
    float *g = calloc(n, sizeof *g), *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++)
        tb.p[i] = net->params[i];
    clmlp_engine *e = make_engine(b, net, &tb.h);
    for (unsigned t = 1; t <= STEPS; t++) {
        ck_assert_msg(clmlp_engine_train_batch(e, (t - 1) * BATCH, BATCH) == CLMLP_OK, "%s",
                      clmlp_engine_error(e));
        read_gradients(e, net, g);
        textbook_step(&tb, net, t, g);
        ck_assert_int_eq(clmlp_engine_get_params(e, after), CLMLP_OK);
        double dp = max_param_diff(net, tb.p, after->params);
        ck_assert_msg(dp <= PARAM_TOL, "backend %d optimizer %d step %u: parameters %.3g from "
                      "the textbook step", (int)b, (int)o, t, dp);
        uint64_t count = 0;
        ck_assert_int_eq(clmlp_engine_get_opt_state(e, &count, m, v), CLMLP_OK);
        ck_assert_uint_eq(count, t);
        if (o != CLMLP_OPT_SGD) {
            double dm = moment_rel_diff(net, tb.m, m);
            ck_assert_msg(dm <= MOMENT_REL_TOL, "backend %d optimizer %d step %u: first moment "
                          "%.3g (relative) from the textbook's", (int)b, (int)o, t, dm);
        }
        if (o == CLMLP_OPT_ADAM) {
            double dv = moment_rel_diff(net, tb.v, v);
            ck_assert_msg(dv <= MOMENT_REL_TOL, "backend %d step %u: second moment %.3g "
                          "(relative) from the textbook's", (int)b, t, dv);
        }
        for (size_t i = 0; i < n; i++) /* the next step starts from the engine's parameters */
            tb.p[i] = after->params[i];
    }
    clmlp_engine_free(e);
    clmlp_net_free(net), clmlp_net_free(after);
    free(tb.p), free(tb.m), free(tb.v), free(g), free(m), free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optimizers");
    TCase *tc = tcase_create("textbook");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, steps_follow_the_textbook_rules, 0, 6);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
