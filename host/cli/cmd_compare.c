/* cmd_compare.c - `clmlp compare`: the same network, data and batch order stepped on an OpenCL
 * device and on the CPU reference, comparing every intermediate buffer after each step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_common.h"
#include "rng.h"

static const char compare_help[] =
    "Usage: clmlp compare [OPTIONS]\n"
    "Builds one initial network, then runs the same K training steps (same batches, same\n"
    "order) on an OpenCL device and on the CPU reference backend. After each step it compares,\n"
    "per layer, the activations, deltas, weight and bias gradients, updated weights and\n"
    "biases, and the optimizer's state: momentum's velocity (velocity_W, velocity_b), or\n"
    "Adam's first moment (m_W, m_b) and the square root of its second (sqrt(v)_W, sqrt(v)_b:\n"
    "on the gradients' scale, so that one tolerance fits it):\n"
    "max |a-b|, max |a-b|/|b|, and pass/fail of |a-b| <= atol + rtol*|b| for every element\n"
    "(a: OpenCL, b: reference). Exits 1 when any element fails.\n"
    "\n"
    "Float32 results differ by summation order, so the tolerances are not zero, and the\n"
    "differences grow with every step (they feed into the next step's weights): for long runs,\n"
    "--resync compares every step from the same state (or loosen --rtol/--atol). With\n"
    "--optimizer adam the weights differ more than the gradients that made them: Adam divides\n"
    "each gradient by its running magnitude, so where a gradient is near zero (and the two\n"
    "backends' rounding of it differs most, relatively) the step differs by a fraction of lr;\n"
    "compare its gradient rows, or allow an --atol of about lr x steps for its weights.\n"
    "\n"
    "  --steps K       training steps to run (default 3)\n"
    "  --rtol R        relative tolerance (default 1e-4)\n"
    "  --atol A        absolute tolerance (default 1e-5)\n"
    "  --every-step    print the full table after every step (default: a one-line summary per\n"
    "                  step and the full table after the last)\n"
    "  --resync        before each step, copy the device's weights and optimizer state into the\n"
    "                  reference: every step is then compared from the same state, so the\n"
    "                  differences are that step's alone and do not grow with --steps (the\n"
    "                  state each step leaves is still compared)\n"
    "  --limit N       training samples used (default 512; 0: all)\n"
    "  --device D      OpenCL device index or name substring (default as train)\n"
    "Network and data options are those of 'clmlp train' (--data, --train-csv, --layers,\n"
    "--act, --loss, --out-act, --init, --seed, --batch, --optimizer, --lr, --momentum, --l2,\n"
    "--standardize, --label-column, --header); the default is the default network on the first\n"
    "512 samples of " CLI_DEFAULT_DATA ", batch 128.\n"
    "  --help          show this help\n";

static const char *kind_names[] = {"activation", "delta", "grad_W", "grad_b", "weight", "bias"};
#define N_KINDS 6

typedef struct diff {
    size_t n;
    double max_abs, max_rel, worst; /* worst: max |a-b| / (atol + rtol |b|) */
    size_t bad;
} diff;

static diff compare_arrays(const float *a, const float *b, size_t n, double rtol, double atol)
{
    diff d = {n, 0.0, 0.0, 0.0, 0};
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = b[i], e = fabs(x - y), tol = atol + rtol * fabs(y);
        if (!isfinite(x) || !isfinite(y))
            e = INFINITY; /* NaN compares false with everything: count it as a failure */
        if (e > d.max_abs)
            d.max_abs = e;
        if (y != 0.0 && e / fabs(y) > d.max_rel)
            d.max_rel = e / fabs(y);
        double r = tol > 0.0 ? e / tol : (e > 0.0 ? INFINITY : 0.0);
        if (r > d.worst)
            d.worst = r;
        d.bad += !(e <= tol);
    }
    return d;
}

typedef struct cmp_job {
    cli_cfg cfg;
    clmlp_dataset train, test;
    clmlp_net *net;
    clmlp_engine *cl, *ref;
    uint32_t *order;
    float *bufa, *bufb;
    size_t cap;
    float *state[2][2]; /* [device, reference][first moment, second moment], padded layout */
    clmlp_rng rng;
    size_t rows_bad, rows;
} cmp_job;

static void job_free(cmp_job *j)
{
    clmlp_engine_free(j->cl);
    clmlp_engine_free(j->ref);
    clmlp_net_free(j->net);
    clmlp_dataset_free(&j->train);
    clmlp_dataset_free(&j->test);
    free(j->order);
    free(j->bufa);
    free(j->bufb);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            free(j->state[i][k]);
}

static int engine_fail(cmp_job *j, clmlp_engine *e, const char *what)
{
    cli_err(j->cfg.cmd, "%s (%s): %s", what, clmlp_engine_device_name(e), clmlp_engine_error(e));
    return CLI_EXIT_FAIL;
}

static int allocate(cmp_job *j)
{
    const clmlp_net *n = j->net;
    size_t b = j->cfg.batch < j->train.n ? j->cfg.batch : j->train.n;
    j->cap = 1;
    for (int l = 0; l < n->n_layers; l++) {
        size_t w = n->sizes[l] * n->sizes[l + 1], a = b * n->sizes[l + 1];
        j->cap = w > j->cap ? w : j->cap;
        j->cap = a > j->cap ? a : j->cap;
    }
    j->order = malloc(j->train.n * sizeof *j->order);
    j->bufa = malloc(j->cap * sizeof *j->bufa);
    j->bufb = malloc(j->cap * sizeof *j->bufb);
    int state_ok = 1;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            state_ok &= (j->state[i][k] = malloc(n->n_params_padded * sizeof(float))) != NULL;
    if (!j->order || !j->bufa || !j->bufb || !state_ok) {
        cli_err(j->cfg.cmd, "out of memory");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static int prepare(cmp_job *j)
{
    if (cli_backend(j->cfg.device) == CLMLP_BACKEND_REF) {
        cli_err(j->cfg.cmd, "compare needs an OpenCL device to compare with the CPU reference; "
                "--device (or $CLMLP_DEVICE) names the reference itself");
        return CLI_EXIT_FAIL;
    }
    int rc = cli_load_train_test(&j->cfg, &j->train, &j->test);
    if (rc == CLI_EXIT_OK)
        rc = cli_build_net(&j->cfg, &j->train, &j->test, &j->net);
    if (rc == CLI_EXIT_OK && j->cfg.standardize) {
        float *mean = malloc(j->train.dim * sizeof *mean), *sd = malloc(j->train.dim * sizeof *sd);
        if (mean && sd) {
            clmlp_dataset_moments(&j->train, mean, sd);
            clmlp_dataset_standardize(&j->train, mean, sd);
        } else {
            cli_err(j->cfg.cmd, "out of memory");
            rc = CLI_EXIT_FAIL;
        }
        free(mean);
        free(sd);
    }
    if (rc == CLI_EXIT_OK)
        rc = allocate(j);
    if (rc == CLI_EXIT_OK)
        rc = cli_engine(j->cfg.cmd, j->cfg.device, j->net, &j->cfg.hyper, j->cfg.batch, &j->cl);
    if (rc == CLI_EXIT_OK)
        rc = cli_engine(j->cfg.cmd, "cpu", j->net, &j->cfg.hyper, j->cfg.batch, &j->ref);
    clmlp_engine *both[2] = {j->cl, j->ref};
    for (int i = 0; i < 2 && rc == CLI_EXIT_OK; i++)
        if (clmlp_engine_set_data(both[i], j->train.X, j->train.labels, j->train.n,
                                  j->train.dim) != CLMLP_OK)
            rc = engine_fail(j, both[i], "cannot load the data");
    return rc;
}

/* A new shuffled order on both engines, as train does at the start of an epoch. */
static int new_epoch(cmp_job *j)
{
    for (size_t i = 0; i < j->train.n; i++)
        j->order[i] = (uint32_t)i;
    clmlp_rng_shuffle(&j->rng, j->order, j->train.n);
    clmlp_engine *both[2] = {j->cl, j->ref};
    for (int i = 0; i < 2; i++)
        if (clmlp_engine_set_order(both[i], j->order, j->train.n) != CLMLP_OK)
            return engine_fail(j, both[i], "cannot set the sample order");
    return CLI_EXIT_OK;
}

static int read_pair(cmp_job *j, clmlp_buffer_kind k, int l, size_t *len)
{
    size_t lb = 0;
    if (clmlp_engine_read_buffer(j->cl, k, l, j->bufa, j->cap, len) != CLMLP_OK)
        return engine_fail(j, j->cl, "cannot read a buffer");
    if (clmlp_engine_read_buffer(j->ref, k, l, j->bufb, j->cap, &lb) != CLMLP_OK)
        return engine_fail(j, j->ref, "cannot read a buffer");
    if (lb != *len) {
        cli_err(j->cfg.cmd, "buffer lengths differ: %zu and %zu", *len, lb);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* How many optimizer moments the rule keeps: SGD none, momentum its velocity, Adam two. */
static int n_moments(const clmlp_hyper *h)
{
    return h->optimizer == CLMLP_OPT_SGD ? 0 : h->optimizer == CLMLP_OPT_MOMENTUM ? 1 : 2;
}

/* Reads both engines' optimizer moments into j->state. Adam's second moment becomes its square
 * root: v is the running mean of g^2, ~1e-8 where g ~ 1e-4, so under the default atol any v
 * would pass; sqrt(v) is on the gradients' scale, where the same tolerance means as much. */
static int read_moments(cmp_job *j)
{
    if (n_moments(&j->cfg.hyper) == 0)
        return CLI_EXIT_OK; /* SGD keeps none: nothing to read back each step */
    clmlp_engine *both[2] = {j->cl, j->ref};
    for (int i = 0; i < 2; i++) {
        uint64_t step = 0;
        if (clmlp_engine_get_opt_state(both[i], &step, j->state[i][0], j->state[i][1]) !=
            CLMLP_OK)
            return engine_fail(j, both[i], "cannot read the optimizer state");
        if (n_moments(&j->cfg.hyper) == 2)
            for (size_t p = 0; p < j->net->n_params_padded; p++)
                j->state[i][1][p] = sqrtf(j->state[i][1][p]);
    }
    return CLI_EXIT_OK;
}

/* One row of the table: its counts go into the step's totals. */
typedef struct step_tally {
    double worst;
    size_t bad_rows, rows;
    int table;
    int bad_layer;        /* the first failing row, for the one-line summary */
    const char *bad_name;
    double bad_worst;
} step_tally;

static void tally_row(cmp_job *j, step_tally *t, int layer, const char *name, const float *a,
                      const float *b, size_t n)
{
    diff d = compare_arrays(a, b, n, j->cfg.rtol, j->cfg.atol);
    t->rows++;
    t->bad_rows += d.bad != 0;
    t->worst = d.worst > t->worst ? d.worst : t->worst;
    if (d.bad && !t->bad_name) {
        t->bad_layer = layer;
        t->bad_name = name;
        t->bad_worst = d.worst;
    }
    if (t->table)
        printf("  %-5d %-10s %9zu %12.3e %12.3e %10.3g  %s\n", layer + 1, name, d.n, d.max_abs,
               d.max_rel, d.worst, d.bad ? "FAIL" : "pass");
}

/* The optimizer-state rows of layer l: each moment's weight and bias parts. */
static void moment_rows(cmp_job *j, step_tally *t, int l)
{
    static const char *momentum[2] = {"velocity_W", "velocity_b"};
    static const char *adam[2][2] = {{"m_W", "m_b"}, {"sqrt(v)_W", "sqrt(v)_b"}};
    const clmlp_net *n = j->net;
    size_t off[2] = {n->w_off[l], n->b_off[l]};
    size_t len[2] = {n->sizes[l] * n->sizes[l + 1], n->sizes[l + 1]};
    int adam_rows = n_moments(&j->cfg.hyper) == 2;
    for (int k = 0; k < n_moments(&j->cfg.hyper); k++)
        for (int part = 0; part < 2; part++)
            tally_row(j, t, l, adam_rows ? adam[k][part] : momentum[part],
                      j->state[0][k] + off[part], j->state[1][k] + off[part], len[part]);
}

/* Compares every buffer of every layer after one step; prints the table when `table`. */
static int compare_step(cmp_job *j, unsigned step, size_t count, int table)
{
    step_tally t = {0.0, 0, 0, table, 0, NULL, 0.0};
    if (table)
        printf("step %u (batch of %zu)\n  %-5s %-10s %9s %12s %12s %10s  %s\n", step, count,
               "layer", "buffer", "elements", "max_abs", "max_rel", "worst/tol", "result");
    int rc = read_moments(j);
    for (int l = 0; rc == CLI_EXIT_OK && l < j->net->n_layers; l++) {
        for (int k = 0; rc == CLI_EXIT_OK && k < N_KINDS; k++) {
            size_t len = 0;
            rc = read_pair(j, (clmlp_buffer_kind)k, l, &len);
            if (rc == CLI_EXIT_OK)
                tally_row(j, &t, l, kind_names[k], j->bufa, j->bufb, len);
        }
        if (rc == CLI_EXIT_OK)
            moment_rows(j, &t, l);
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!table && t.bad_name)
        printf("step %u: %zu of %zu rows fail (the first: layer %d %s at %.3g x tol); worst "
               "|a-b|/tol %.3g (--every-step prints every row)\n", step, t.bad_rows, t.rows,
               t.bad_layer + 1, t.bad_name, t.bad_worst, t.worst);
    else if (!table)
        printf("step %u: %zu of %zu rows fail; worst |a-b|/tol %.3g\n", step, t.bad_rows, t.rows,
               t.worst);
    j->rows += t.rows;
    j->rows_bad += t.bad_rows;
    return CLI_EXIT_OK;
}

static int run_steps(cmp_job *j)
{
    size_t n = j->train.n, batch = j->cfg.batch, first = n;
    clmlp_rng_seed(&j->rng, j->cfg.seed);
    for (unsigned s = 1; s <= j->cfg.steps; s++) {
        if (first >= n) {
            int rc = new_epoch(j);
            if (rc != CLI_EXIT_OK)
                return rc;
            first = 0;
        }
        size_t count = n - first < batch ? n - first : batch;
        /* --resync: the reference takes the device's state, so the step starts from one */
        if (j->cfg.resync && s > 1 && clmlp_engine_copy_state(j->ref, j->cl) != CLMLP_OK)
            return engine_fail(j, j->ref, "cannot give the reference the device's state");
        if (clmlp_engine_train_batch(j->cl, first, count) != CLMLP_OK)
            return engine_fail(j, j->cl, "training step failed");
        if (clmlp_engine_train_batch(j->ref, first, count) != CLMLP_OK)
            return engine_fail(j, j->ref, "training step failed");
        int rc = compare_step(j, s, count, j->cfg.every_step || s == j->cfg.steps);
        if (rc != CLI_EXIT_OK)
            return rc;
        first += count;
    }
    return CLI_EXIT_OK;
}

int cmd_compare(int argc, char **argv)
{
    cmp_job j;
    memset(&j, 0, sizeof j);
    cli_cfg_defaults(&j.cfg, "compare", 1);
    int rc = cli_cfg_parse(&j.cfg, argc, argv, compare_help);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
    rc = prepare(&j);
    if (rc == CLI_EXIT_OK) {
        printf("comparing %s against %s: %zu samples, batch %zu, %u steps%s, rtol %g, atol %g\n",
               clmlp_engine_device_name(j.cl), clmlp_engine_device_name(j.ref), j.train.n,
               j.cfg.batch, j.cfg.steps, j.cfg.resync ? " (each from the device's state)" : "",
               j.cfg.rtol, j.cfg.atol);
        rc = run_steps(&j);
    }
    if (rc == CLI_EXIT_OK) {
        printf("%s: %zu of %zu rows out of tolerance\n", j.rows_bad ? "FAIL" : "PASS", j.rows_bad,
               j.rows);
        rc = j.rows_bad ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    job_free(&j);
    return rc;
}
