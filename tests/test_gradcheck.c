/* test_gradcheck.c - the reference's backprop (in double) against central finite differences,
 * for every activation and both losses on small odd-shaped networks, plus the C06 case: a
 * check that can fail (zero gradients, transposed weights). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/gradcheck.h"
#include "testutil.h"

/* In double with h = 1e-5, central differences are off by O(h^2 f''') ~ 1e-10 plus rounding
 * O(eps / h) ~ 1e-11, so a correct gradient shows relative errors of 1e-9..1e-6 (the larger ones on parameters whose
 * gradient is near the 1e-6 floor of the relative error); 1e-5 leaves room
 * and is still far below what any indexing or sign bug gives (>= 1e-2). */
#define GRADCHECK_H 1e-5
#define GRADCHECK_MAX_REL 1e-5

static clmlp_net *small_net(int L, const size_t *sizes, clmlp_act hidden, clmlp_loss loss,
                            uint64_t seed)
{
    clmlp_act act[CLMLP_MAX_LAYERS];
    for (int l = 0; l < L; l++)
        act[l] = hidden;
    act[L - 1] = loss == CLMLP_LOSS_CE ? CLMLP_ACT_SOFTMAX : CLMLP_ACT_SIGMOID;
    clmlp_net *net;
    char err[256];
    ck_assert_msg(clmlp_net_create(&net, L, sizes, act, loss, err, sizeof err) == CLMLP_OK, "%s", err);
    clmlp_net_init(net, CLMLP_INIT_XAVIER, seed);
    /* non-zero biases so their gradients and the bias path are exercised */
    clmlp_rng rng;
    clmlp_rng_seed(&rng, seed + 1);
    for (int l = 0; l < L; l++)
        for (size_t k = 0; k < sizes[l + 1]; k++)
            clmlp_net_b(net, l)[k] = (float)(0.2 * clmlp_rng_uniform(&rng) - 0.1);
    return net;
}

static const clmlp_act hidden_acts[] = {CLMLP_ACT_SIGMOID, CLMLP_ACT_TANH, CLMLP_ACT_RELU,
                                        CLMLP_ACT_IDENTITY};

START_TEST(backprop_matches_finite_differences)
{
    clmlp_act hidden = hidden_acts[_i / 2];
    clmlp_loss loss = (_i % 2) ? CLMLP_LOSS_MSE : CLMLP_LOSS_CE;
    const size_t sizes[] = {5, 7, 3, 4};
    size_t B = 11;
    clmlp_net *net = small_net(3, sizes, hidden, loss, 42 + (uint64_t)_i);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 7);
    float *X = tu_random(&rng, B * sizes[0], -1, 1);
    int32_t labels[11];
    for (size_t b = 0; b < B; b++)
        labels[b] = (int32_t)(b % sizes[3]);
    clmlp_gradcheck_result r;
    ck_assert_int_eq(clmlp_gradcheck(net, X, labels, B, GRADCHECK_H, &r), CLMLP_OK);
    fprintf(stderr, "gradcheck %s + %s: max rel err %.3g (param %zu), |grad| %.3g\n",
            clmlp_act_name(hidden), clmlp_loss_name(loss), r.max_rel_err, r.worst_index, r.grad_norm);
    ck_assert_msg(r.grad_norm > 1e-3, "gradient is ~0 (%g): the check would prove nothing", r.grad_norm);
    ck_assert_msg(r.max_rel_err < GRADCHECK_MAX_REL, "max relative error %g at parameter %zu",
                  r.max_rel_err, r.worst_index);
    free(X);
    clmlp_net_free(net);
}
END_TEST

/* C06: W1[i][j] = 0.5 sin(1 + 7i + 3j) (hidden i, input j), b1[i] = 0.1 cos(i),
 * W2[k][i] = 0.5 cos(2 + 5k + 11i), b2[k] = 0.05k - 0.05, X[n][j] = sin(0.3n + 0.7j + 0.1),
 * y = n % 3, tanh hidden, softmax + mean CE. Our W is (in x out): W[j][i] = case W1[i][j]. */
static clmlp_net *c06_net(size_t hidden, int transposed_bug)
{
    const size_t sizes[] = {5, hidden, 3};
    const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 2, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    float *W1 = clmlp_net_W(net, 0), *W2 = clmlp_net_W(net, 1);
    for (size_t i = 0; i < hidden; i++)
        for (size_t j = 0; j < 5; j++) {
            float w = (float)(0.5 * sin(1.0 + 7.0 * i + 3.0 * j));
            /* the bug: the case's row-major (hidden x in) numbers read as (in x hidden) */
            if (transposed_bug)
                W1[i * 5 + j] = w;
            else
                W1[j * hidden + i] = w;
        }
    for (size_t i = 0; i < hidden; i++)
        clmlp_net_b(net, 0)[i] = (float)(0.1 * cos((double)i));
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < hidden; i++)
            W2[i * 3 + k] = (float)(0.5 * cos(2.0 + 5.0 * k + 11.0 * i));
        clmlp_net_b(net, 1)[k] = (float)(0.05 * k - 0.05);
    }
    return net;
}

static void c06_data(float *X, int32_t *y)
{
    for (size_t n = 0; n < 11; n++) {
        for (size_t j = 0; j < 5; j++)
            X[n * 5 + j] = (float)sin(0.3 * n + 0.7 * j + 0.1);
        y[n] = (int32_t)(n % 3);
    }
}

START_TEST(c06_gradient_check_passes_on_odd_shapes)
{
    float X[55];
    int32_t y[11];
    c06_data(X, y);
    for (size_t hidden = 7; hidden <= 101; hidden += 94) {
        clmlp_net *net = c06_net(hidden, 0);
        clmlp_gradcheck_result r;
        ck_assert_int_eq(clmlp_gradcheck(net, X, y, 11, GRADCHECK_H, &r), CLMLP_OK);
        fprintf(stderr, "C06 5-%zu-3: loss %.14g, max rel err %.3g\n", hidden, r.loss, r.max_rel_err);
        if (hidden == 7) /* the case's float64 loss, from float32 weights: 1e-6 relative */
            ck_assert_double_eq_tol(r.loss, 1.09625701025227, 1e-6);
        ck_assert(r.grad_norm > 1e-3);
        ck_assert_msg(r.max_rel_err < GRADCHECK_MAX_REL, "5-%zu-3: %g", hidden, r.max_rel_err);
        clmlp_net_free(net);
    }
}
END_TEST

START_TEST(c06_wrong_layout_changes_the_loss)
{
    float X[55];
    int32_t y[11];
    c06_data(X, y);
    clmlp_net *net = c06_net(7, 1);
    clmlp_gradcheck_result r;
    ck_assert_int_eq(clmlp_gradcheck(net, X, y, 11, GRADCHECK_H, &r), CLMLP_OK);
    ck_assert_double_eq_tol(r.loss, 1.12948529287264, 1e-6); /* the case's mutation value */
    clmlp_net_free(net);
}
END_TEST

/* A gradient check that can fail: an all-zero analytic gradient must not pass. */
START_TEST(gradcheck_detects_a_wrong_gradient)
{
    float X[55];
    int32_t y[11];
    c06_data(X, y);
    clmlp_net *net = c06_net(7, 0);
    size_t n = net->n_params_padded;
    double *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *g2 = malloc(n * sizeof *g2);
    for (size_t i = 0; i < n; i++)
        p[i] = net->params[i];
    clmlp_backprop_double(net, p, X, y, 11, g);
    /* Numeric derivative of one weight by hand; perturbing the analytic value must break it. */
    size_t i = net->w_off[0] + 3;
    double h = GRADCHECK_H, saved = p[i];
    p[i] = saved + h;
    double up = clmlp_backprop_double(net, p, X, y, 11, g2);
    p[i] = saved - h;
    double down = clmlp_backprop_double(net, p, X, y, 11, g2);
    double numeric = (up - down) / (2 * h);
    ck_assert_double_eq_tol(g[i], numeric, 1e-8);
    ck_assert(fabs(g[i]) > 1e-4); /* not trivially zero */
    ck_assert(fabs(0.0 - numeric) > 1e-4); /* a zero gradient would be caught */
    free(p), free(g), free(g2);
    clmlp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradient check");
    TCase *tc = tcase_create("finite differences");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, backprop_matches_finite_differences, 0, 8);
    tcase_add_test(tc, c06_gradient_check_passes_on_odd_shapes);
    tcase_add_test(tc, c06_wrong_layout_changes_the_loss);
    tcase_add_test(tc, gradcheck_detects_a_wrong_gradient);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
