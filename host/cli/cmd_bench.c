/* cmd_bench.c - `clmlp bench`: per-kernel device times and full training-step throughput.
 *
 * Per kernel: on an OpenCL device every launch of a training step is recorded with a profiling
 * event (bench.h's hook in cl_engine.c); after warm-up steps, `--reps` steps are profiled one by
 * one and each launch's median, quartiles and extremes are reported with GFLOP/s and GB/s from
 * the one cost descriptor per kernel (clmlp_kernel_cost). On the CPU reference (--device cpu)
 * the same launches are timed by calling the C twins directly with a wall clock.
 *
 * Alone (OpenCL only): each matrix product of a step is then also run `--alone-reps` times in a
 * row on its own, inputs hot in cache, the way a BLAS benchmark times a shape; this is the
 * figure to set beside OpenBLAS for the same shape (tools/bench_compare.py does).
 *
 * Full step: clmlp_engine_train_batch on random data, many steps back to back with one sync at
 * the end (clmlp_engine_epoch_stats reads the queue's last results), repeated `--step-reps`
 * times; reported as samples per second (median, min, max). Nothing here is a single timing:
 * the machine may be shared and noisy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "cli_common.h"
#include "ref/ref_kernels.h"
#include "rng.h"

int cmd_bench(int argc, char **argv);

#define CMD "bench"
#define MAX_BATCHES 16
#define MAX_PLAN 256

static const char help[] =
    "Usage: clmlp bench [OPTIONS]\n"
    "Times every kernel of a training step and the whole step, on random data.\n\n"
    "  --layers LIST      unit counts, input first (default 784,256,128,10)\n"
    "  --act NAME[,..]    hidden activation(s): tanh, sigmoid, relu (default tanh)\n"
    "  --out-act NAME     output activation with --loss mse (default sigmoid)\n"
    "  --loss ce|mse      loss (default ce: softmax + cross-entropy)\n"
    "  --optimizer NAME   sgd, momentum or adam (default sgd)\n"
    "  --batch LIST       batch sizes, e.g. 32,128,256 (default 32,128,256)\n"
    "  --device SPEC      OpenCL device (index or name part) or 'cpu' for the C reference\n"
    "  --warmup N         steps run before any timing (default 10)\n"
    "  --reps N           profiled steps per kernel statistic (default 50)\n"
    "  --step-reps N      repetitions of the throughput measurement (default 7)\n"
    "  --alone-reps N     runs of each matrix product alone, back to back (default 50; 0: skip;\n"
    "                     OpenCL only): the column 'alone', the figure to compare with a BLAS\n"
    "                     timing the same shape (in the step a kernel follows another one)\n"
    "  --min-time SEC     least duration of one throughput repetition (default 0.3)\n"
    "  --samples N        size of the random data set (default 16 batches, at least 4096)\n"
    "  --seed N           seed of the data and the weights (default 1)\n"
    "  --no-kernels       skip the per-kernel table\n"
    "  --no-step          skip the full-step throughput\n"
    "  --csv FILE         also write every row as CSV (written once complete; an existing\n"
    "                     FILE is replaced only then)\n"
    "  --json FILE        also write the results and the settings as JSON (likewise)\n"
    "  --help             show this help\n";

typedef struct bench_opts {
    const char *layers, *act, *out_act, *device, *csv, *json;
    clmlp_loss loss;
    clmlp_optimizer opt;
    size_t batch[MAX_BATCHES];
    int n_batch;
    unsigned warmup, reps, step_reps, alone_reps;
    double min_time;
    size_t samples;
    uint64_t seed;
    int kernels, step;
} bench_opts;

/* One reported launch: its shape and statistics over the repetitions, in nanoseconds. */
typedef struct kstat {
    clmlp_launch l;
    double med, lo, hi, q1, q3;
    unsigned reps;
    double alone_med, alone_lo; /* the launch alone, back to back; 0 when not measured */
    unsigned alone_reps;
} kstat;

typedef struct step_stat {
    double med, lo, hi; /* samples per second */
    double host_us;     /* median time the host spends inside one train_batch call (enqueue) */
    size_t steps;       /* steps per repetition */
    unsigned reps;
} step_stat;

typedef struct run_result {
    size_t batch;
    int is_cpu; /* the C reference: kernels timed by wall clock, no queue, no alone runs */
    kstat k[MAX_PLAN];
    size_t nk;
    int has_step;
    step_stat step;
} run_result;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n) by linear interpolation. */
static double quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

static void fill_stat(kstat *k, double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    k->med = quantile(v, n, 0.5);
    k->q1 = quantile(v, n, 0.25);
    k->q3 = quantile(v, n, 0.75);
    k->lo = n ? v[0] : 0.0;
    k->hi = n ? v[n - 1] : 0.0;
    k->reps = (unsigned)n;
}

/* "32,128,256" into sizes; 0 after a usage error. */
static int parse_list(const char *opt, const char *s, size_t *out, int cap, size_t min, size_t max)
{
    char buf[512];
    if (strlen(s) >= sizeof buf) {
        cli_usage(CMD, "%s: list too long", opt);
        return 0;
    }
    strcpy(buf, s);
    size_t len = strlen(buf);
    if (len && (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))) {
        cli_usage(CMD, "%s: empty entry in '%s'", opt, s);
        return 0;
    }
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (n == cap) {
            cli_usage(CMD, "%s: more than %d entries", opt, cap);
            return 0;
        }
        if (!cli_parse_u64(CMD, opt, tok, min, max, &v))
            return 0;
        out[n++] = (size_t)v;
    }
    if (n == 0)
        cli_usage(CMD, "%s: empty list", opt);
    return n;
}

static int parse_args(bench_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->layers = "784,256,128,10";
    o->act = "tanh";
    o->loss = CLMLP_LOSS_CE;
    o->opt = CLMLP_OPT_SGD;
    o->batch[0] = 32, o->batch[1] = 128, o->batch[2] = 256;
    o->n_batch = 3;
    o->warmup = 10, o->reps = 50, o->step_reps = 7, o->alone_reps = 50;
    o->min_time = 0.3;
    o->seed = 1;
    o->kernels = o->step = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            return CLI_EXIT_HELP;
        }
        if (strcmp(a, "--no-kernels") == 0) {
            o->kernels = 0;
            continue;
        }
        if (strcmp(a, "--no-step") == 0) {
            o->step = 0;
            continue;
        }
        static const char *const with_value[] = {
            "--layers", "--act",  "--out-act",    "--loss",     "--optimizer", "--batch",
            "--device", "--warmup", "--reps", "--step-reps", "--alone-reps", "--min-time",
            "--samples", "--seed", "--csv", "--json"};
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            known |= strcmp(a, with_value[k]) == 0;
        if (!known)
            return cli_usage(CMD, "unknown option '%s'", argv[i]);
        if (!val) {
            if (i + 1 >= argc)
                return cli_usage(CMD, "%s needs a value", a);
            val = argv[++i];
        }
        uint64_t u;
        if (strcmp(a, "--layers") == 0)
            o->layers = val;
        else if (strcmp(a, "--act") == 0)
            o->act = val;
        else if (strcmp(a, "--out-act") == 0)
            o->out_act = val;
        else if (strcmp(a, "--device") == 0)
            o->device = val;
        else if (strcmp(a, "--csv") == 0)
            o->csv = val;
        else if (strcmp(a, "--json") == 0)
            o->json = val;
        else if (strcmp(a, "--loss") == 0) {
            if (clmlp_loss_parse(val, &o->loss) != 0)
                return cli_usage(CMD, "--loss: '%s' is not ce or mse", val);
        } else if (strcmp(a, "--optimizer") == 0) {
            if (clmlp_optimizer_parse(val, &o->opt) != 0)
                return cli_usage(CMD, "--optimizer: '%s' is not sgd, momentum or adam", val);
        } else if (strcmp(a, "--batch") == 0) {
            if (!(o->n_batch = parse_list("--batch", val, o->batch, MAX_BATCHES, 1, 1u << 20)))
                return CLI_EXIT_USAGE;
        } else if (strcmp(a, "--min-time") == 0) {
            if (!cli_parse_double(CMD, "--min-time", val, 0.0, 60.0, &o->min_time))
                return CLI_EXIT_USAGE;
        } else {
            int zero_ok = strcmp(a, "--warmup") == 0 || strcmp(a, "--alone-reps") == 0 ||
                          strcmp(a, "--seed") == 0;
            uint64_t max = strcmp(a, "--samples") == 0      ? (1u << 24)
                           : strcmp(a, "--alone-reps") == 0 ? 100000
                                                            : 1000000;
            if (!cli_parse_u64(CMD, a, val, zero_ok ? 0 : 1, max, &u))
                return CLI_EXIT_USAGE;
            if (strcmp(a, "--warmup") == 0)
                o->warmup = (unsigned)u;
            else if (strcmp(a, "--reps") == 0)
                o->reps = (unsigned)u;
            else if (strcmp(a, "--step-reps") == 0)
                o->step_reps = (unsigned)u;
            else if (strcmp(a, "--alone-reps") == 0)
                o->alone_reps = (unsigned)u;
            else if (strcmp(a, "--samples") == 0)
                o->samples = (size_t)u;
            else
                o->seed = u;
        }
    }
    if (o->out_act && o->loss == CLMLP_LOSS_CE)
        return cli_usage(CMD, "--out-act applies to --loss mse only (ce uses softmax)");
    if (!o->kernels && !o->step)
        return cli_usage(CMD, "--no-kernels with --no-step leaves nothing to measure");
    for (int b = 0; o->samples && b < o->n_batch; b++)
        if (o->batch[b] > o->samples)
            return cli_usage(CMD, "--samples %zu is smaller than the batch size %zu", o->samples,
                             o->batch[b]);
    if (o->csv && o->json && strcmp(o->csv, o->json) == 0)
        return cli_usage(CMD, "--csv and --json name the same file");
    return CLI_EXIT_OK;
}

static int build_net(const bench_opts *o, clmlp_net **net)
{
    size_t sizes[CLMLP_MAX_LAYERS + 2];
    clmlp_act act[CLMLP_MAX_LAYERS];
    int n = parse_list("--layers", o->layers, sizes, CLMLP_MAX_LAYERS + 1, 1, 1u << 24);
    if (n == 0)
        return CLI_EXIT_USAGE;
    if (n < 2)
        return cli_usage(CMD, "--layers needs at least an input and an output size");
    int L = n - 1;
    if (L > 1 && cli_parse_acts(CMD, o->act, L - 1, act) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    if (o->loss == CLMLP_LOSS_CE) {
        act[L - 1] = CLMLP_ACT_SOFTMAX;
    } else {
        act[L - 1] = CLMLP_ACT_SIGMOID;
        if (o->out_act && (clmlp_act_parse(o->out_act, &act[L - 1]) != 0 ||
                           act[L - 1] == CLMLP_ACT_SOFTMAX))
            return cli_usage(CMD, "--out-act: '%s' is not sigmoid, tanh, relu or identity",
                             o->out_act);
    }
    char err[512];
    clmlp_status st = clmlp_net_create(net, L, sizes, act, o->loss, err, sizeof err);
    if (st != CLMLP_OK) {
        cli_err(CMD, "%s", err);
        return CLI_EXIT_FAIL;
    }
    clmlp_net_init(*net, CLMLP_INIT_XAVIER, o->seed);
    return CLI_EXIT_OK;
}

static int engine_fail(const clmlp_engine *e, const char *what)
{
    cli_err(CMD, "%s: %s", what, clmlp_engine_error(e));
    return CLI_EXIT_FAIL;
}

/* Random inputs in [0, 1) like scaled pixels, uniform labels, a shuffled order. */
static int load_random_data(clmlp_engine *e, const clmlp_net *net, size_t n, uint64_t seed)
{
    size_t dim = net->sizes[0], classes = net->sizes[net->n_layers];
    float *X = malloc(n * dim * sizeof *X);
    int32_t *y = malloc(n * sizeof *y);
    uint32_t *order = malloc(n * sizeof *order);
    int rc = CLI_EXIT_OK;
    if (!X || !y || !order) {
        cli_err(CMD, "out of memory for %zu random samples", n);
        rc = CLI_EXIT_FAIL;
    } else {
        clmlp_rng rng;
        clmlp_rng_seed(&rng, seed ^ 0x9e3779b97f4a7c15u);
        for (size_t i = 0; i < n * dim; i++)
            X[i] = (float)clmlp_rng_uniform(&rng);
        for (size_t i = 0; i < n; i++) {
            y[i] = (int32_t)clmlp_rng_below(&rng, classes > 1 ? classes : 2) % (int32_t)classes;
            order[i] = (uint32_t)i;
        }
        clmlp_rng_shuffle(&rng, order, n);
        if (clmlp_engine_set_data(e, X, y, n, dim) != CLMLP_OK ||
            clmlp_engine_set_order(e, order, n) != CLMLP_OK)
            rc = engine_fail(e, "loading the random data");
    }
    free(X), free(y), free(order);
    return rc;
}

/* One training step on batch number i of the data set (cycling through it). */
static int step(clmlp_engine *e, size_t i, size_t batch, size_t n_data)
{
    size_t n_batches = n_data / batch;
    if (clmlp_engine_train_batch(e, (i % n_batches) * batch, batch) != CLMLP_OK)
        return engine_fail(e, "training step");
    return CLI_EXIT_OK;
}

/* Waits for everything queued: reading one position's statistics needs all earlier steps. */
static int sync_engine(clmlp_engine *e)
{
    double loss;
    size_t ok;
    if (clmlp_engine_epoch_stats(e, 1, &loss, &ok) != CLMLP_OK)
        return engine_fail(e, "reading results");
    return CLI_EXIT_OK;
}

/* Per-launch device times of an OpenCL engine over o->reps profiled steps. The steps are queued
 * back to back with one wait at the end, as in training: waiting after every step lets PoCL's
 * worker threads fall asleep, and the next kernels then often start on one core only. */
static int profile_device(clmlp_engine *e, const bench_opts *o, size_t batch, size_t n_data,
                          run_result *r)
{
    size_t cap = (size_t)o->reps * MAX_PLAN;
    clmlp_launch *rec = malloc(cap * sizeof *rec);
    double *t = malloc(cap * sizeof *t);
    int rc = CLI_EXIT_OK;
    size_t n = 0;
    if (!rec || !t) {
        cli_err(CMD, "out of memory");
        rc = CLI_EXIT_FAIL;
    } else if (clmlp_engine_profile_begin(e, cap) != CLMLP_OK) {
        rc = engine_fail(e, "profiling");
    } else {
        for (unsigned rep = 0; rc == CLI_EXIT_OK && rep < o->reps; rep++)
            rc = step(e, o->warmup + rep, batch, n_data);
        if (clmlp_engine_profile_end(e, rec, cap, &n) != CLMLP_OK && rc == CLI_EXIT_OK)
            rc = engine_fail(e, "profiling");
    }
    size_t nk = n / (o->reps ? o->reps : 1);
    if (rc == CLI_EXIT_OK && (nk * o->reps != n || nk == 0 || nk > MAX_PLAN)) {
        cli_err(CMD, "%u steps launched %zu kernels: not the same number per step", o->reps, n);
        rc = CLI_EXIT_FAIL;
    }
    for (size_t i = 0; rc == CLI_EXIT_OK && i < nk; i++) {
        r->k[i].l = rec[i];
        for (unsigned rep = 0; rep < o->reps; rep++) {
            const clmlp_launch *l = &rec[rep * nk + i];
            if (strcmp(l->kernel, rec[i].kernel) != 0 || l->layer != rec[i].layer) {
                cli_err(CMD, "step %u launched %s where the first launched %s", rep, l->kernel,
                        rec[i].kernel);
                rc = CLI_EXIT_FAIL;
                break;
            }
            t[rep] = l->ns;
        }
        if (rc == CLI_EXIT_OK)
            fill_stat(&r->k[i], t, o->reps);
    }
    if (rc == CLI_EXIT_OK)
        r->nk = nk;
    free(rec);
    free(t);
    return rc;
}

/* Each GEMM launch of one step alone, o->alone_reps times back to back (bench.h), into the
 * matching kstat of r (same kernel and layer, in step order). */
static int profile_alone(clmlp_engine *e, const bench_opts *o, size_t step_index, size_t batch,
                         size_t n_data, run_result *r)
{
    size_t cap = (size_t)o->alone_reps * (r->nk ? r->nk : 1); /* at most every launch replayed */
    clmlp_launch *rec = malloc(cap * sizeof *rec);
    double *t = malloc((size_t)o->alone_reps * sizeof *t);
    size_t n = 0;
    int rc = CLI_EXIT_OK;
    if (!rec || !t) {
        cli_err(CMD, "out of memory");
        rc = CLI_EXIT_FAIL;
    } else if (clmlp_engine_capture_begin(e) != CLMLP_OK) {
        rc = engine_fail(e, "capturing a step");
    } else if ((rc = step(e, step_index, batch, n_data)) == CLI_EXIT_OK &&
               clmlp_engine_replay_alone(e, o->alone_reps, rec, cap, &n) != CLMLP_OK) {
        rc = engine_fail(e, "replaying the matrix products");
    }
    size_t k = 0; /* the next kstat to match */
    for (size_t i = 0; rc == CLI_EXIT_OK && i < n; i += o->alone_reps) {
        while (k < r->nk && (strcmp(r->k[k].l.kernel, rec[i].kernel) != 0 ||
                             r->k[k].l.layer != rec[i].layer))
            k++;
        if (k == r->nk) {
            cli_err(CMD, "replayed %s L%d is not in the step", rec[i].kernel, rec[i].layer);
            rc = CLI_EXIT_FAIL;
            break;
        }
        for (unsigned j = 0; j < o->alone_reps; j++)
            t[j] = rec[i + j].ns;
        kstat alone;
        fill_stat(&alone, t, o->alone_reps);
        r->k[k].alone_med = alone.med;
        r->k[k].alone_lo = alone.lo;
        r->k[k].alone_reps = alone.reps;
        k++;
    }
    free(rec);
    free(t);
    return rc;
}

/* Runs the C twin of one planned launch on scratch buffers (contents: random, fixed). */
static void run_twin(const clmlp_launch *l, const clmlp_net *net, float *const *buf,
                     const int32_t *labels, const uint32_t *order)
{
    const char *k = l->kernel;
    size_t B = l->rows, ni = l->n_in, no = l->n_out;
    int layer = l->layer < 0 ? 0 : l->layer;
    if (strcmp(k, "gather_batch") == 0)
        ref_gather_batch(buf[0], labels, order, 0, B, no, buf[1], (int32_t *)buf[4]);
    else if (strcmp(k, "forward_layer") == 0)
        ref_forward_layer(buf[0], buf[1], buf[2], buf[3], B, ni, no, net->act[layer]);
    else if (strcmp(k, "output_delta_ce") == 0)
        ref_output_delta_ce(buf[0], labels, buf[3], buf[2], (int32_t *)buf[4], B, no, 0);
    else if (strcmp(k, "output_delta_mse") == 0)
        ref_output_delta_mse(buf[0], labels, buf[3], buf[2], (int32_t *)buf[4], B, no,
                             net->act[layer], 0);
    else if (strcmp(k, "hidden_delta") == 0)
        ref_hidden_delta(buf[0], buf[1], buf[2], buf[3], B, ni, no,
                         net->act[layer > 0 ? layer - 1 : 0]);
    else if (strcmp(k, "weight_grad") == 0)
        ref_weight_grad(buf[0], buf[1], buf[3], buf[2], B, ni, no);
    else if (strcmp(k, "sgd_update") == 0)
        ref_sgd_update(buf[3], buf[0], no, 1e-9f, 0.0f);
    else if (strcmp(k, "momentum_update") == 0)
        ref_momentum_update(buf[3], buf[2], buf[0], no, 1e-9f, 0.9f, 0.0f);
    else if (strcmp(k, "adam_update") == 0)
        ref_adam_update(buf[3], buf[2], buf[1], buf[0], no, 1e-9f, 0.9f, 0.999f, 1e-8f, 0.0f);
}

/* Per-launch wall times of the C twins, on the plan of one step (CPU reference). */
static int profile_twins(const clmlp_net *net, const bench_opts *o, size_t batch, run_result *r)
{
    clmlp_hyper h = clmlp_hyper_default();
    h.optimizer = o->opt;
    clmlp_launch plan[MAX_PLAN];
    size_t n = clmlp_step_plan(net, &h, batch, plan, MAX_PLAN);
    if (n > MAX_PLAN) {
        cli_err(CMD, "%zu launches per step; at most %d are reported", n, MAX_PLAN);
        return CLI_EXIT_FAIL;
    }
    size_t big = net->n_params_padded, wmax = clmlp_net_max_width(net);
    if (batch * wmax > big)
        big = batch * wmax;
    float *buf[5] = {NULL};
    int32_t *labels = malloc(batch * sizeof *labels);
    uint32_t *order = malloc(batch * sizeof *order);
    double *t = malloc(o->reps * sizeof *t);
    int ok = labels && order && t;
    clmlp_rng rng;
    clmlp_rng_seed(&rng, o->seed);
    for (int i = 0; i < 5 && ok; i++) {
        ok = (buf[i] = malloc(big * sizeof(float))) != NULL;
        for (size_t j = 0; ok && j < big; j++)
            buf[i][j] = (float)(clmlp_rng_uniform(&rng) * 0.5);
    }
    for (size_t b = 0; ok && b < batch; b++)
        labels[b] = (int32_t)(b % net->sizes[net->n_layers]), order[b] = (uint32_t)b;
    if (ok) {
        for (size_t i = 0; i < n; i++) {
            /* At least 3 repetitions, at most o->reps, and about a second per launch. */
            unsigned done = 0;
            double start = now_s();
            run_twin(&plan[i], net, buf, labels, order); /* warm-up */
            while (done < o->reps && (done < 3 || now_s() - start < 1.0)) {
                double t0 = now_s();
                run_twin(&plan[i], net, buf, labels, order);
                t[done++] = 1e9 * (now_s() - t0);
            }
            r->k[i].l = plan[i];
            fill_stat(&r->k[i], t, done);
        }
        r->nk = n;
    }
    for (int i = 0; i < 5; i++)
        free(buf[i]);
    free(labels), free(order), free(t);
    if (!ok) {
        cli_err(CMD, "out of memory for the reference buffers");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* Samples per second of back-to-back steps, o->step_reps times. */
static int time_steps(clmlp_engine *e, const bench_opts *o, size_t batch, size_t n_data,
                      size_t *next, step_stat *out)
{
    /* Calibrate: double the steps until one repetition lasts o->min_time. */
    size_t steps = 1;
    for (;;) {
        double t0 = now_s();
        for (size_t i = 0; i < steps; i++)
            if (step(e, (*next)++, batch, n_data) != CLI_EXIT_OK)
                return CLI_EXIT_FAIL;
        if (sync_engine(e) != CLI_EXIT_OK)
            return CLI_EXIT_FAIL;
        double dt = now_s() - t0;
        if (dt >= o->min_time || steps >= (1u << 20))
            break;
        size_t want = dt > 0 ? (size_t)(steps * (o->min_time / dt) * 1.2) + 1 : steps * 2;
        steps = want > steps * 8 ? steps * 8 : want > steps ? want : steps * 2;
    }
    double v[64], host[64];
    unsigned reps = o->step_reps > 64 ? 64 : o->step_reps;
    for (unsigned r = 0; r < reps; r++) {
        double t0 = now_s(), in_calls = 0.0;
        for (size_t i = 0; i < steps; i++) {
            double c0 = now_s();
            if (step(e, (*next)++, batch, n_data) != CLI_EXIT_OK)
                return CLI_EXIT_FAIL;
            in_calls += now_s() - c0;
        }
        if (sync_engine(e) != CLI_EXIT_OK)
            return CLI_EXIT_FAIL;
        v[r] = (double)(steps * batch) / (now_s() - t0);
        host[r] = 1e6 * in_calls / (double)steps;
    }
    qsort(host, reps, sizeof *host, cmp_double);
    out->host_us = quantile(host, reps, 0.5);
    qsort(v, reps, sizeof *v, cmp_double);
    out->med = quantile(v, reps, 0.5);
    out->lo = v[0];
    out->hi = v[reps - 1];
    out->steps = steps;
    out->reps = reps;
    return CLI_EXIT_OK;
}

static int bench_batch(const bench_opts *o, const clmlp_net *net, size_t batch, run_result *r,
                       char *device_name, size_t name_len)
{
    clmlp_hyper h = clmlp_hyper_default();
    h.optimizer = o->opt;
    h.lr = o->opt == CLMLP_OPT_ADAM ? 1e-3f : 0.01f;
    clmlp_engine *e = NULL;
    if (cli_engine(CMD, o->device, net, &h, batch, &e) != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    snprintf(device_name, name_len, "%s", clmlp_engine_device_name(e));
    int is_cpu = cli_backend(o->device) == CLMLP_BACKEND_REF;
    size_t n_data = o->samples ? o->samples : 16 * batch;
    if (n_data < 4096 && !o->samples)
        n_data = 4096;
    if (n_data < batch)
        n_data = batch;
    int rc = load_random_data(e, net, n_data, o->seed);
    r->batch = batch;
    r->is_cpu = is_cpu;
    size_t next = 0;
    /* Warm-up: first launches compile work-group functions (PoCL) and fault pages in. */
    for (unsigned i = 0; rc == CLI_EXIT_OK && i < o->warmup; i++)
        rc = step(e, next++, batch, n_data);
    if (rc == CLI_EXIT_OK)
        rc = sync_engine(e);
    if (rc == CLI_EXIT_OK && o->kernels)
        rc = is_cpu ? profile_twins(net, o, batch, r) : profile_device(e, o, batch, n_data, r);
    next += o->reps;
    if (rc == CLI_EXIT_OK && o->kernels && !is_cpu && o->alone_reps)
        rc = profile_alone(e, o, next++, batch, n_data, r);
    if (rc == CLI_EXIT_OK && o->step) {
        rc = time_steps(e, o, batch, n_data, &next, &r->step);
        r->has_step = rc == CLI_EXIT_OK;
    }
    clmlp_engine_free(e);
    return rc;
}

static void launch_name(const clmlp_launch *l, char *buf, size_t len)
{
    if (l->layer < 0)
        snprintf(buf, len, "%s", l->kernel);
    else
        snprintf(buf, len, "%s L%d", l->kernel, l->layer);
}

static void shape_text(const clmlp_launch *l, char *buf, size_t len)
{
    if (clmlp_kernel_is_gemm(l->kernel))
        snprintf(buf, len, "%zux%zux%zu", l->rows, l->n_in, l->n_out);
    else if (l->n_in)
        snprintf(buf, len, "%zux%zu", l->n_in, l->n_out);
    else if (l->rows > 1)
        snprintf(buf, len, "%zux%zu", l->rows, l->n_out);
    else
        snprintf(buf, len, "%zu", l->n_out);
}

/* Floating-point operations of the matrix products of one step on `batch` rows. */
static double step_gemm_flops(const clmlp_net *net, size_t batch)
{
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_launch plan[MAX_PLAN];
    size_t n = clmlp_step_plan(net, &h, batch, plan, MAX_PLAN);
    double flops = 0.0;
    for (size_t i = 0; i < n && i < MAX_PLAN; i++)
        if (clmlp_kernel_is_gemm(plan[i].kernel))
            flops += clmlp_kernel_cost(&plan[i]).flops;
    return flops;
}

static void print_table(const run_result *r, const char *device, const clmlp_net *net)
{
    printf("\n== batch %zu on %s ==\n", r->batch, device);
    double sum_ns = 0.0, gemm_ns = 0.0, gemm_flops = 0.0;
    if (r->nk) {
        unsigned alone = 0;
        for (size_t i = 0; i < r->nk; i++)
            alone = r->k[i].alone_reps ? r->k[i].alone_reps : alone;
        printf("%-24s %-13s %10s %27s %8s %8s", "kernel", "shape", "median us", "IQR us (min-max)",
               "GFLOP/s", "GB/s");
        if (alone)
            printf(" %9s %10s", "alone us", "alone GF/s");
        putchar('\n');
        for (size_t i = 0; i < r->nk; i++) {
            const kstat *k = &r->k[i];
            clmlp_cost c = clmlp_kernel_cost(&k->l);
            char name[64], shape[48], spread[64];
            launch_name(&k->l, name, sizeof name);
            shape_text(&k->l, shape, sizeof shape);
            snprintf(spread, sizeof spread, "%.1f-%.1f (%.1f-%.1f)", k->q1 / 1e3, k->q3 / 1e3,
                     k->lo / 1e3, k->hi / 1e3);
            double sec = k->med * 1e-9;
            printf("%-24s %-13s %10.1f %27s %8.2f %8.2f", name, shape, k->med / 1e3, spread,
                   sec > 0 ? c.flops / sec / 1e9 : 0.0, sec > 0 ? c.bytes / sec / 1e9 : 0.0);
            if (k->alone_reps && k->alone_med > 0)
                printf(" %9.1f %10.2f", k->alone_med / 1e3, c.flops / k->alone_med);
            putchar('\n');
            sum_ns += k->med;
            if (clmlp_kernel_is_gemm(k->l.kernel)) {
                gemm_ns += k->med;
                gemm_flops += c.flops;
            }
        }
        printf("sum of kernel medians: %.1f us per step (%zu launches); GEMMs %.1f us, %.2f "
               "GFLOP/s\n",
               sum_ns / 1e3, r->nk, gemm_ns / 1e3, gemm_ns > 0 ? gemm_flops / gemm_ns : 0.0);
        if (alone)
            printf("alone: each matrix product run by itself %u time%s back to back, inputs hot "
                   "(median), weight_grad without its optimizer step: the figure to compare with "
                   "a BLAS on the same shape\n",
                   alone, alone == 1 ? "" : "s");
    }
    if (r->has_step) {
        double step_us = 1e6 * (double)r->batch / r->step.med;
        double flops = step_gemm_flops(net, r->batch);
        printf("full step: %.0f samples/s median (min %.0f, max %.0f; %u rep%s of %zu step%s), "
               "%.1f us per step",
               r->step.med, r->step.lo, r->step.hi, r->step.reps, r->step.reps == 1 ? "" : "s",
               r->step.steps, r->step.steps == 1 ? "" : "s", step_us);
        if (!r->is_cpu) /* on the C reference the call is the computation itself */
            printf(" (%.1f us of it enqueueing on the host)", r->step.host_us);
        printf(", %.2f GEMM GFLOP/s effective\n", flops / (step_us * 1e3));
    }
}

static const char csv_header[] =
    "device,batch,layers,act,out_act,loss,optimizer,seed,kind,kernel,layer,rows,n_in,n_out,reps,"
    "median_us,q1_us,q3_us,min_us,max_us,flops,bytes,gflops,gbytes_s,samples_s,samples_s_min,"
    "samples_s_max,steps_per_rep,alone_reps,alone_median_us,alone_min_us,alone_gflops\n";

static const char *const opt_names[] = {"sgd", "momentum", "adam"};

/* The output activation's name, as the run used it. */
static const char *out_act_name(const bench_opts *o)
{
    if (o->loss == CLMLP_LOSS_CE)
        return "softmax";
    return o->out_act ? o->out_act : "sigmoid";
}

/* A CSV field in quotes (device names may hold commas, --act lists do); a quote inside
 * becomes an apostrophe. */
static void csv_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        fputc(*s == '"' ? '\'' : *s, f);
    fputc('"', f);
}

/* The fields every row starts with: device, batch, layers, act, out_act, loss, optimizer, seed. */
static void csv_prefix(FILE *f, const bench_opts *o, const char *device, const run_result *r)
{
    csv_text(f, device);
    fprintf(f, ",%zu,", r->batch);
    csv_text(f, o->layers);
    fputc(',', f);
    csv_text(f, o->act);
    fprintf(f, ",%s,%s,%s,%llu,", out_act_name(o), clmlp_loss_name(o->loss), opt_names[o->opt],
            (unsigned long long)o->seed);
}

static void write_csv(FILE *f, const bench_opts *o, const char *device, const run_result *r)
{
    for (size_t i = 0; i < r->nk; i++) {
        const kstat *k = &r->k[i];
        clmlp_cost c = clmlp_kernel_cost(&k->l);
        double sec = k->med * 1e-9;
        csv_prefix(f, o, device, r);
        fprintf(f, "kernel,%s,%d,%zu,%zu,%zu,%u,%.3f,%.3f,%.3f,%.3f,%.3f,%.0f,%.0f,%.4f,%.4f,,,,,",
                k->l.kernel, k->l.layer, k->l.rows, k->l.n_in, k->l.n_out, k->reps, k->med / 1e3,
                k->q1 / 1e3, k->q3 / 1e3, k->lo / 1e3, k->hi / 1e3, c.flops, c.bytes,
                sec > 0 ? c.flops / sec / 1e9 : 0.0, sec > 0 ? c.bytes / sec / 1e9 : 0.0);
        if (k->alone_reps && k->alone_med > 0)
            fprintf(f, "%u,%.3f,%.3f,%.4f\n", k->alone_reps, k->alone_med / 1e3,
                    k->alone_lo / 1e3, c.flops / k->alone_med);
        else
            fputs(",,,\n", f);
    }
    if (r->has_step) {
        csv_prefix(f, o, device, r);
        fprintf(f, "step,train_batch,-1,%zu,,,%u,%.3f,,,,,,,,,%.1f,%.1f,%.1f,%zu,,,,\n", r->batch,
                r->step.reps, 1e6 * (double)r->batch / r->step.med, r->step.med, r->step.lo,
                r->step.hi, r->step.steps);
    }
}

static void json_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void write_json_kernel(FILE *f, const kstat *k, int first)
{
    clmlp_cost c = clmlp_kernel_cost(&k->l);
    double sec = k->med * 1e-9;
    fprintf(f,
            "%s\n      {\"kernel\": \"%s\", \"layer\": %d, \"rows\": %zu, \"n_in\": %zu, "
            "\"n_out\": %zu, \"reps\": %u, \"median_us\": %.3f, \"q1_us\": %.3f, "
            "\"q3_us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f, \"flops\": %.0f, "
            "\"bytes\": %.0f, \"gflops\": %.4f, \"gbytes_s\": %.4f",
            first ? "" : ",", k->l.kernel, k->l.layer, k->l.rows, k->l.n_in, k->l.n_out, k->reps,
            k->med / 1e3, k->q1 / 1e3, k->q3 / 1e3, k->lo / 1e3, k->hi / 1e3, c.flops, c.bytes,
            sec > 0 ? c.flops / sec / 1e9 : 0.0, sec > 0 ? c.bytes / sec / 1e9 : 0.0);
    if (k->alone_reps && k->alone_med > 0)
        fprintf(f, ", \"alone_reps\": %u, \"alone_median_us\": %.3f, \"alone_min_us\": %.3f, "
                   "\"alone_gflops\": %.4f",
                k->alone_reps, k->alone_med / 1e3, k->alone_lo / 1e3, c.flops / k->alone_med);
    fputc('}', f);
}

static void write_json(FILE *f, const bench_opts *o, const char *device, const clmlp_net *net,
                       const run_result *runs, int n)
{
    fprintf(f, "{\n  \"device\": ");
    json_text(f, device);
    fprintf(f, ",\n  \"layers\": ");
    json_text(f, o->layers);
    fprintf(f, ",\n  \"act\": ");
    json_text(f, o->act);
    fprintf(f, ",\n  \"out_act\": \"%s\",\n  \"loss\": \"%s\",\n  \"optimizer\": \"%s\",\n",
            out_act_name(o), clmlp_loss_name(o->loss), opt_names[o->opt]);
    fprintf(f, "  \"settings\": {\"seed\": %llu, \"warmup\": %u, \"reps\": %u, \"step_reps\": %u, "
               "\"alone_reps\": %u, \"min_time_s\": %.3f, \"samples\": %zu},\n  \"runs\": [",
            (unsigned long long)o->seed, o->warmup, o->reps, o->step_reps,
            runs[0].is_cpu ? 0u : o->alone_reps, o->min_time, o->samples);
    for (int b = 0; b < n; b++) {
        const run_result *r = &runs[b];
        fprintf(f, "%s\n    {\"batch\": %zu, \"kernels\": [", b ? "," : "", r->batch);
        for (size_t i = 0; i < r->nk; i++)
            write_json_kernel(f, &r->k[i], i == 0);
        fprintf(f, "%s]", r->nk ? "\n    " : "");
        if (r->has_step) {
            double step_us = 1e6 * (double)r->batch / r->step.med;
            fprintf(f,
                    ", \"step\": {\"samples_s\": %.1f, \"samples_s_min\": %.1f, "
                    "\"samples_s_max\": %.1f, \"reps\": %u, \"steps_per_rep\": %zu, "
                    "\"step_us\": %.3f, \"gemm_gflops_effective\": %.3f",
                    r->step.med, r->step.lo, r->step.hi, r->step.reps, r->step.steps, step_us,
                    step_gemm_flops(net, r->batch) / (step_us * 1e3));
            if (!r->is_cpu)
                fprintf(f, ", \"host_enqueue_us\": %.3f", r->step.host_us);
            fputc('}', f);
        }
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
}

/* What write_output hands to cli_write_text. */
typedef struct bench_report {
    const bench_opts *o;
    const char *device;
    const clmlp_net *net;
    const run_result *runs;
    int n;
} bench_report;

static void emit_csv(FILE *f, const void *ctx)
{
    const bench_report *r = ctx;
    fputs(csv_header, f);
    for (int b = 0; b < r->n; b++)
        write_csv(f, r->o, r->device, &r->runs[b]);
}

static void emit_json(FILE *f, const void *ctx)
{
    const bench_report *r = ctx;
    write_json(f, r->o, r->device, r->net, r->runs, r->n);
}

/* The first line: what is about to be measured. */
static void print_header(const bench_opts *o)
{
    printf("clmlp bench: layers %s, act %s, loss %s, %u warm-up steps", o->layers, o->act,
           clmlp_loss_name(o->loss), o->warmup);
    if (o->kernels)
        printf(", kernels over %u step%s", o->reps, o->reps == 1 ? "" : "s");
    if (o->step)
        printf(", %u throughput repetition%s of >= %.2f s", o->step_reps,
               o->step_reps == 1 ? "" : "s", o->min_time);
    putchar('\n');
    if (o->kernels && o->alone_reps && cli_backend(o->device) == CLMLP_BACKEND_REF)
        printf("(no alone runs on the C reference: its kernels are plain function calls, timed "
               "by wall clock)\n");
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
    if (o.csv && (rc = cli_check_output(CMD, "--csv", o.csv, 1)) != CLI_EXIT_OK)
        return rc;
    if (o.json && (rc = cli_check_output(CMD, "--json", o.json, 1)) != CLI_EXIT_OK)
        return rc;
    clmlp_net *net = NULL;
    rc = build_net(&o, &net);
    if (rc != CLI_EXIT_OK)
        return rc;
    run_result *runs = calloc((size_t)o.n_batch, sizeof *runs);
    if (!runs) {
        clmlp_net_free(net);
        cli_err(CMD, "out of memory");
        return CLI_EXIT_FAIL;
    }
    char device[256] = "";
    print_header(&o);
    for (int b = 0; rc == CLI_EXIT_OK && b < o.n_batch; b++) {
        rc = bench_batch(&o, net, o.batch[b], &runs[b], device, sizeof device);
        if (rc == CLI_EXIT_OK) {
            print_table(&runs[b], device, net);
            fflush(stdout);
        }
    }
    /* After a complete measurement both files are attempted, each on its own. */
    int measured = rc == CLI_EXIT_OK;
    bench_report rep = {&o, device, net, runs, o.n_batch};
    if (measured && o.csv && cli_write_text(CMD, "--csv", o.csv, emit_csv, &rep) != CLI_EXIT_OK)
        rc = CLI_EXIT_FAIL;
    if (measured && o.json &&
        cli_write_text(CMD, "--json", o.json, emit_json, &rep) != CLI_EXIT_OK)
        rc = CLI_EXIT_FAIL;
    free(runs);
    clmlp_net_free(net);
    return rc;
}
