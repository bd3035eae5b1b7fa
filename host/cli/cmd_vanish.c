/* cmd_vanish.c - `clmlp vanish`: the vanishing-gradient experiment. The same deep network,
 * seed and initial weights with each hidden activation (and each initialisation asked for);
 * per layer, mean |delta| relative to the output layer's at initialisation (step 1, whose
 * deltas come from the initial weights) and after a short training, next to the bound that
 * the backprop recursion gives (docs/vanishing-gradient.md). A table, and a CSV with --csv. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_common.h"
#include "rng.h"
#include "train.h"

static const char vanish_help[] =
    "Usage: clmlp vanish [OPTIONS]\n"
    "The vanishing-gradient experiment: trains the same deep network from the same initial\n"
    "weights with each hidden activation and prints, per layer, the mean |delta| relative to\n"
    "the output layer's at initialisation and after training, next to the bound of\n"
    "docs/vanishing-gradient.md: (max sigma')^k x prod ||W||_2 x n_out / sqrt(n_layer).\n"
    "\n"
    "Data (default: --data " CLI_DEFAULT_DATA "):\n"
    "  --data DIR        MNIST-format folder (train and t10k files); t10k gives test accuracy\n"
    "  --synthetic       no files: 10 Gaussian blobs in 64 dimensions (seeded by --seed)\n"
    "  --limit N         train on the first N samples (default 10000; 0: all; with\n"
    "                    --synthetic: N samples, 0 meaning 10000)\n"
    "Network:\n"
    "  --depth N         hidden layers (default 8)\n"
    "  --width N         units per hidden layer (default 64)\n"
    "  --layers LIST     unit counts, input first (overrides --depth and --width)\n"
    "  --acts LIST       hidden activations to compare (default sigmoid,tanh,relu)\n"
    "  --init LIST       initialisations to compare: xavier, he, uniform (default xavier)\n"
    "  --loss ce|mse     ce: softmax output (default); mse: sigmoid output, as in the notes\n"
    "  --seed N          initial weights and shuffling (default 0): the same for every run\n"
    "Training:\n"
    "  --epochs N        (default 1; 0: initialisation only)\n"
    "  --batch N         (default 128)\n"
    "  --optimizer sgd|momentum|adam  (default momentum)\n"
    "  --lr X            constant learning rate (default 0.05; 0.001 for adam)\n"
    "  --momentum X      (default 0.9)\n"
    "Output:\n"
    "  --device D        OpenCL device index or name substring, or cpu\n"
    "  --csv FILE        one row per run, phase (init, trained) and layer\n"
    "  --help            show this help\n";

#define MAX_RUNS 16

typedef struct vanish_cfg {
    const char *data_dir, *layers, *csv, *device;
    int synthetic;
    size_t limit, depth, width, batch;
    clmlp_act acts[MAX_RUNS];
    clmlp_init inits[MAX_RUNS];
    int n_acts, n_inits;
    clmlp_loss loss;
    uint64_t seed;
    unsigned epochs;
    clmlp_hyper hyper;
} vanish_cfg;

/* What one run (an activation and an initialisation) measured, per layer (0-based). */
typedef struct vanish_run {
    clmlp_act act;
    clmlp_init init;
    int n_layers;
    size_t sizes[CLMLP_MAX_LAYERS + 1];
    int trained;                             /* at least one epoch ran */
    clmlp_layer_stats at_init[CLMLP_MAX_LAYERS], at_end[CLMLP_MAX_LAYERS];
    double deriv[CLMLP_MAX_LAYERS];          /* (max sigma')^k: the notes' factor */
    double wf_init[CLMLP_MAX_LAYERS], wf_end[CLMLP_MAX_LAYERS]; /* the weights' factor */
    double test_acc, train_loss;
    int has_test;
} vanish_run;

static const char *init_name(clmlp_init i)
{
    return i == CLMLP_INIT_XAVIER ? "xavier" : i == CLMLP_INIT_HE ? "he" : "uniform";
}

/* ---- options ---- */

enum {
    V_DATA = 256, V_SYNTH, V_LIMIT, V_DEPTH, V_WIDTH, V_LAYERS, V_ACTS, V_INIT, V_LOSS, V_SEED,
    V_EPOCHS, V_BATCH, V_OPT, V_LR, V_MOMENTUM, V_DEVICE, V_CSV, V_HELP
};

static const struct option vanish_options[] = {
    {"data", required_argument, NULL, V_DATA},     {"synthetic", no_argument, NULL, V_SYNTH},
    {"limit", required_argument, NULL, V_LIMIT},   {"depth", required_argument, NULL, V_DEPTH},
    {"width", required_argument, NULL, V_WIDTH},   {"layers", required_argument, NULL, V_LAYERS},
    {"acts", required_argument, NULL, V_ACTS},     {"init", required_argument, NULL, V_INIT},
    {"loss", required_argument, NULL, V_LOSS},     {"seed", required_argument, NULL, V_SEED},
    {"epochs", required_argument, NULL, V_EPOCHS}, {"batch", required_argument, NULL, V_BATCH},
    {"optimizer", required_argument, NULL, V_OPT}, {"lr", required_argument, NULL, V_LR},
    {"momentum", required_argument, NULL, V_MOMENTUM},
    {"device", required_argument, NULL, V_DEVICE}, {"csv", required_argument, NULL, V_CSV},
    {"help", no_argument, NULL, V_HELP},           {NULL, 0, NULL, 0},
};

/* A comma list of activations (hidden ones only) or of initialisations into out. */
static int parse_list(const char *opt, const char *list, int is_act, int *out, int *count)
{
    char buf[256];
    if (strlen(list) >= sizeof buf)
        return cli_usage("vanish", "%s: list too long", opt);
    strcpy(buf, list);
    *count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        clmlp_act a;
        clmlp_init i;
        int ok = is_act ? clmlp_act_parse(tok, &a) == 0 && a != CLMLP_ACT_SOFTMAX
                        : clmlp_init_parse(tok, &i) == 0;
        if (!ok)
            return cli_usage("vanish", "%s: '%s' is not %s", opt, tok,
                             is_act ? "sigmoid, tanh, relu or identity" : "xavier, he or uniform");
        if (*count == MAX_RUNS)
            return cli_usage("vanish", "%s: at most %d entries", opt, MAX_RUNS);
        out[(*count)++] = is_act ? (int)a : (int)i;
    }
    return *count ? CLI_EXIT_OK : cli_usage("vanish", "%s: empty list", opt);
}

static int parse_acts(vanish_cfg *c, const char *arg)
{
    int v[MAX_RUNS];
    int rc = parse_list("--acts", arg, 1, v, &c->n_acts);
    for (int i = 0; rc == CLI_EXIT_OK && i < c->n_acts; i++)
        c->acts[i] = (clmlp_act)v[i];
    return rc;
}

static int parse_inits(vanish_cfg *c, const char *arg)
{
    int v[MAX_RUNS];
    int rc = parse_list("--init", arg, 0, v, &c->n_inits);
    for (int i = 0; rc == CLI_EXIT_OK && i < c->n_inits; i++)
        c->inits[i] = (clmlp_init)v[i];
    return rc;
}

/* Numeric options; 1 handled and valid, 0 invalid, -1 not one of these. */
static int parse_number(vanish_cfg *c, int id, const char *arg, int *lr_set)
{
    uint64_t v = 0;
    double d = 0;
    int ok;
    switch (id) {
    case V_LIMIT: ok = cli_parse_u64("vanish", "--limit", arg, 0, UINT32_MAX, &v), c->limit = v; return ok;
    case V_DEPTH: ok = cli_parse_u64("vanish", "--depth", arg, 1, CLMLP_MAX_LAYERS - 1, &v), c->depth = v; return ok;
    case V_WIDTH: ok = cli_parse_u64("vanish", "--width", arg, 1, 1u << 16, &v), c->width = v; return ok;
    case V_BATCH: ok = cli_parse_u64("vanish", "--batch", arg, 1, 1u << 20, &v), c->batch = v; return ok;
    case V_EPOCHS: ok = cli_parse_u64("vanish", "--epochs", arg, 0, 100000, &v), c->epochs = (unsigned)v; return ok;
    case V_SEED: return cli_parse_u64("vanish", "--seed", arg, 0, UINT64_MAX, &c->seed);
    case V_LR:
        ok = cli_parse_double("vanish", "--lr", arg, 1e-12, 1e6, &d), c->hyper.lr = (float)d;
        *lr_set = 1;
        return ok;
    case V_MOMENTUM:
        ok = cli_parse_double("vanish", "--momentum", arg, 0, 0.999999, &d);
        c->hyper.momentum = (float)d;
        return ok;
    }
    return -1;
}

/* Options with a word or list value, and flags; returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
static int parse_word(vanish_cfg *c, int id, const char *arg)
{
    switch (id) {
    case V_DATA: c->data_dir = arg; return CLI_EXIT_OK;
    case V_SYNTH: c->synthetic = 1; return CLI_EXIT_OK;
    case V_LAYERS: c->layers = arg; return CLI_EXIT_OK;
    case V_DEVICE: c->device = arg; return CLI_EXIT_OK;
    case V_CSV: c->csv = arg; return CLI_EXIT_OK;
    case V_ACTS: return parse_acts(c, arg);
    case V_INIT: return parse_inits(c, arg);
    case V_LOSS:
        return clmlp_loss_parse(arg, &c->loss) == 0 ? CLI_EXIT_OK
               : cli_usage("vanish", "--loss: '%s' is not ce or mse", arg);
    case V_OPT:
        return clmlp_optimizer_parse(arg, &c->hyper.optimizer) == 0
                   ? CLI_EXIT_OK
                   : cli_usage("vanish", "--optimizer: '%s' is not sgd, momentum or adam", arg);
    }
    return cli_usage("vanish", "unknown option");
}

static void defaults(vanish_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->limit = 10000;
    c->depth = 8;
    c->width = 64;
    c->batch = 128;
    c->acts[0] = CLMLP_ACT_SIGMOID, c->acts[1] = CLMLP_ACT_TANH, c->acts[2] = CLMLP_ACT_RELU;
    c->n_acts = 3;
    c->inits[0] = CLMLP_INIT_XAVIER;
    c->n_inits = 1;
    c->loss = CLMLP_LOSS_CE;
    c->epochs = 1;
    c->hyper = clmlp_hyper_default();
    c->hyper.optimizer = CLMLP_OPT_MOMENTUM;
    c->hyper.lr = 0.05f;
    c->hyper.momentum = 0.9f;
}

static int parse_args(vanish_cfg *c, int argc, char **argv)
{
    int id, lr_set = 0;
    opterr = 0;
    optind = 1;
    while ((id = getopt_long(argc, argv, ":h", vanish_options, NULL)) != -1) {
        if (id == 'h' || id == V_HELP) {
            fputs(vanish_help, stdout);
            return CLI_EXIT_HELP;
        }
        if (id == '?')
            return cli_usage("vanish", "unknown option '%s'", argv[optind - 1]);
        if (id == ':')
            return cli_usage("vanish", "option '%s' needs a value", argv[optind - 1]);
        int r = parse_number(c, id, optarg, &lr_set);
        if (r == 0 || (r < 0 && parse_word(c, id, optarg) != CLI_EXIT_OK))
            return CLI_EXIT_USAGE;
    }
    if (optind < argc)
        return cli_usage("vanish", "unexpected argument '%s'", argv[optind]);
    if (c->synthetic && c->data_dir)
        return cli_usage("vanish", "--synthetic and --data exclude each other");
    if (c->n_acts * c->n_inits > MAX_RUNS)
        return cli_usage("vanish", "%d activations x %d initialisations: at most %d runs",
                         c->n_acts, c->n_inits, MAX_RUNS);
    if (!lr_set && c->hyper.optimizer == CLMLP_OPT_ADAM)
        c->hyper.lr = 0.001f;
    return CLI_EXIT_OK;
}

/* ---- data ---- */

/* A standard normal draw (Box-Muller; the sine half is dropped to keep this stateless). */
static double normal(clmlp_rng *r)
{
    double u = clmlp_rng_uniform(r), v = clmlp_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* n samples of 10 classes in 64 dimensions: class centres uniform in [-1, 1]^64 (the same for
 * train and test: drawn first from the same seed), unit Gaussian noise around them. */
static int synthetic_set(uint64_t seed, size_t n, int test, clmlp_dataset *d)
{
    enum { DIM = 64, CLASSES = 10 };
    static float centre[CLASSES][DIM];
    clmlp_rng r;
    clmlp_rng_seed(&r, seed ^ 0x5eed0fb10b5ULL);
    for (int k = 0; k < CLASSES; k++)
        for (int j = 0; j < DIM; j++)
            centre[k][j] = (float)(2.0 * clmlp_rng_uniform(&r) - 1.0);
    clmlp_rng_seed(&r, seed + (test ? 2 : 1));
    memset(d, 0, sizeof *d);
    d->X = malloc(n * DIM * sizeof *d->X);
    d->labels = malloc(n * sizeof *d->labels);
    if (!d->X || !d->labels) {
        clmlp_dataset_free(d);
        cli_err("vanish", "out of memory for %zu synthetic samples", n);
        return CLI_EXIT_FAIL;
    }
    d->n = n, d->dim = DIM, d->n_classes = CLASSES;
    for (size_t i = 0; i < n; i++) {
        int k = (int)clmlp_rng_below(&r, CLASSES);
        d->labels[i] = k;
        for (int j = 0; j < DIM; j++)
            d->X[i * DIM + j] = centre[k][j] + (float)normal(&r);
    }
    return CLI_EXIT_OK;
}

static int load_data(const vanish_cfg *c, clmlp_dataset *train, clmlp_dataset *test)
{
    if (c->synthetic) {
        int rc = synthetic_set(c->seed, c->limit ? c->limit : 10000, 0, train);
        if (rc == CLI_EXIT_OK && (rc = synthetic_set(c->seed, 2000, 1, test)) != CLI_EXIT_OK)
            clmlp_dataset_free(train);
        return rc;
    }
    cli_cfg cc;
    cli_cfg_defaults(&cc, "vanish", 0);
    cc.data_dir = c->data_dir;
    cc.limit = c->limit;
    return cli_load_train_test(&cc, train, test);
}

/* ---- one run ---- */

/* Network sizes from --layers, or input, depth x width, classes. */
static int shape(const vanish_cfg *c, const clmlp_dataset *train, const clmlp_dataset *test,
                 size_t *sizes, int *n_layers)
{
    int classes = train->n_classes > test->n_classes ? train->n_classes : test->n_classes;
    if (!c->layers) {
        sizes[0] = train->dim;
        for (size_t l = 1; l <= c->depth; l++)
            sizes[l] = c->width;
        sizes[c->depth + 1] = (size_t)(classes < 2 ? 2 : classes);
        *n_layers = (int)c->depth + 1;
        return CLI_EXIT_OK;
    }
    int n = 0;
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", c->layers);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (n > CLMLP_MAX_LAYERS || !cli_parse_u64("vanish", "--layers", t, 1, 1u << 20, &v))
            return CLI_EXIT_USAGE;
        sizes[n++] = (size_t)v;
    }
    if (n < 3)
        return cli_usage("vanish", "--layers needs at least one hidden layer: IN,H,...,OUT");
    if (sizes[0] != train->dim)
        return cli_err("vanish", "--layers starts with %zu inputs; the data has %zu features",
                       sizes[0], train->dim), CLI_EXIT_FAIL;
    *n_layers = n - 1;
    return CLI_EXIT_OK;
}

/* ||W||_2 of the r x c matrix W by power iteration on W^T W from a fixed start: a lower
 * estimate that converges to the largest singular value (300 steps: to many digits for the
 * well-separated top of a random matrix). */
static double spectral_norm(const float *W, size_t r, size_t c)
{
    double *v = malloc(c * sizeof *v), *u = malloc(r * sizeof *u), s = 0.0;
    if (!v || !u) {
        free(v), free(u);
        return NAN;
    }
    for (size_t j = 0; j < c; j++)
        v[j] = 1.0 + 0.01 * (double)(j % 7);
    for (int it = 0; it < 300; it++) {
        double nv = 0.0;
        for (size_t i = 0; i < r; i++) {
            u[i] = 0.0;
            for (size_t j = 0; j < c; j++)
                u[i] += (double)W[i * c + j] * v[j];
        }
        for (size_t j = 0; j < c; j++) {
            v[j] = 0.0;
            for (size_t i = 0; i < r; i++)
                v[j] += (double)W[i * c + j] * u[i];
            nv += v[j] * v[j];
        }
        nv = sqrt(nv); /* = ||W^T W v_old|| -> sigma_max^2 */
        s = sqrt(nv);
        if (nv == 0.0)
            break;
        for (size_t j = 0; j < c; j++)
            v[j] /= nv;
    }
    free(v), free(u);
    return s;
}

/* Largest derivative of an activation: sigmoid' <= 1/4, tanh' and relu' <= 1. */
static double max_deriv(clmlp_act a) { return a == CLMLP_ACT_SIGMOID ? 0.25 : 1.0; }

/* For each layer l: the derivative factor prod_{m=l+1}^{L-1} max sigma'_{m-1} and the weight
 * factor prod_{m=l+1}^{L-1} ||W_m||_2 x n_out / sqrt(n_l) of net (see the doc's derivation). */
static void bound_factors(const clmlp_net *net, double *deriv, double *wf)
{
    int L = net->n_layers;
    double d = 1.0, w = 1.0;
    for (int l = L - 1; l >= 0; l--) {
        if (l < L - 1) {
            d *= max_deriv(net->act[l]);
            w *= spectral_norm(clmlp_net_cW(net, l + 1), net->sizes[l + 1], net->sizes[l + 2]);
        }
        deriv[l] = d;
        wf[l] = w * (double)net->sizes[L] / sqrt((double)net->sizes[l + 1]);
    }
}

typedef struct run_ctx {
    vanish_run *out;
} run_ctx;

/* Keeps step 1 (initialisation) and the last epoch end (trained). */
static void on_trace(const clmlp_trace_report *t, void *user)
{
    vanish_run *v = ((run_ctx *)user)->out;
    if (t->step == 1)
        memcpy(v->at_init, t->layer, sizeof v->at_init);
    if (t->end_of_epoch)
        memcpy(v->at_end, t->layer, sizeof v->at_end);
}

static int on_epoch(const clmlp_epoch_report *r, void *user)
{
    vanish_run *v = ((run_ctx *)user)->out;
    v->trained = 1;
    v->train_loss = r->train_loss;
    v->has_test = r->has_test;
    v->test_acc = r->test_acc;
    return 0;
}

/* At initialisation only (--epochs 0): one step's deltas, from the initial weights. */
static int init_only(clmlp_engine *e, const clmlp_dataset *train, size_t batch, vanish_run *v)
{
    size_t n = train->n, count = n < batch ? n : batch;
    uint32_t *order = malloc(n * sizeof *order);
    if (!order)
        return cli_err("vanish", "out of memory"), CLI_EXIT_FAIL;
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    clmlp_status st = clmlp_engine_set_data(e, train->X, train->labels, n, train->dim);
    if (st == CLMLP_OK)
        st = clmlp_engine_set_order(e, order, n);
    if (st == CLMLP_OK)
        st = clmlp_engine_train_batch(e, 0, count);
    for (int l = 0; st == CLMLP_OK && l < v->n_layers; l++)
        st = clmlp_engine_layer_stats(e, l, &v->at_init[l]);
    free(order);
    if (st != CLMLP_OK)
        return cli_err("vanish", "%s", clmlp_engine_error(e)), CLI_EXIT_FAIL;
    return CLI_EXIT_OK;
}

static int train_run(const vanish_cfg *c, clmlp_engine *e, const clmlp_dataset *train,
                     const clmlp_dataset *test, clmlp_net *trained, vanish_run *v)
{
    if (c->epochs == 0)
        return init_only(e, train, c->batch, v);
    run_ctx ctx = {v};
    clmlp_train_options opt = clmlp_train_options_default();
    opt.epochs = c->epochs;
    opt.batch = c->batch;
    opt.seed = c->seed;
    opt.hyper = c->hyper;
    opt.trace = 1;
    opt.trace_first = 1;
    opt.on_trace = on_trace;
    opt.on_epoch = on_epoch;
    opt.user = &ctx;
    char err[2048];
    clmlp_status st = clmlp_train(e, train, test->n ? test : NULL, &opt, trained, NULL, err,
                                  sizeof err);
    if (st != CLMLP_OK) {
        cli_err("vanish", "%s/%s: %s", clmlp_act_name(v->act), init_name(v->init), err);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* Builds the network for one activation and initialisation, trains it and fills v. */
static int run_one(const vanish_cfg *c, const clmlp_dataset *train, const clmlp_dataset *test,
                   const size_t *sizes, vanish_run *v)
{
    clmlp_act act[CLMLP_MAX_LAYERS];
    for (int l = 0; l < v->n_layers; l++)
        act[l] = v->act;
    act[v->n_layers - 1] = c->loss == CLMLP_LOSS_CE ? CLMLP_ACT_SOFTMAX : CLMLP_ACT_SIGMOID;
    memcpy(v->sizes, sizes, (size_t)(v->n_layers + 1) * sizeof *sizes);
    clmlp_net *net = NULL, *trained = NULL;
    clmlp_engine *e = NULL;
    char err[512];
    if (clmlp_net_create(&net, v->n_layers, sizes, act, c->loss, err, sizeof err) != CLMLP_OK)
        return cli_err("vanish", "%s", err), CLI_EXIT_FAIL;
    clmlp_net_init(net, v->init, c->seed); /* the same weights for every activation */
    bound_factors(net, v->deriv, v->wf_init);
    int rc = clmlp_net_clone(&trained, net) == CLMLP_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    if (rc == CLI_EXIT_OK)
        rc = cli_engine("vanish", c->device, net, &c->hyper, c->batch, &e);
    if (rc == CLI_EXIT_OK)
        rc = train_run(c, e, train, test, trained, v);
    if (rc == CLI_EXIT_OK && v->trained)
        bound_factors(trained, v->deriv, v->wf_end);
    clmlp_engine_free(e);
    clmlp_net_free(net);
    clmlp_net_free(trained);
    return rc;
}

/* ---- output ---- */

static double ratio(const clmlp_layer_stats *s, int l, int L)
{
    return s[L - 1].mean_abs_delta > 0 ? s[l].mean_abs_delta / s[L - 1].mean_abs_delta : NAN;
}

static void print_table(const vanish_run *runs, int n_runs)
{
    int L = runs[0].n_layers;
    printf("\nmean |delta| of each layer / the output layer's; bound: (max sigma')^k x prod "
           "||W||_2 x n_out/sqrt(n) at init\n%-12s", "");
    for (int r = 0; r < n_runs; r++) {
        char name[40];
        snprintf(name, sizeof name, "%s/%s", clmlp_act_name(runs[r].act), init_name(runs[r].init));
        printf(" | %-29s", name);
    }
    printf("\n%-5s %6s", "layer", "units");
    for (int r = 0; r < n_runs; r++)
        printf(" | %9s %9s %9s", "init", "trained", "bound");
    printf("\n");
    for (int l = L - 1; l >= 0; l--) {
        printf("%-5d %6zu", l + 1, runs[0].sizes[l + 1]);
        for (int r = 0; r < n_runs; r++) {
            const vanish_run *v = &runs[r];
            printf(" | %9.3g", ratio(v->at_init, l, L));
            if (v->trained)
                printf(" %9.3g", ratio(v->at_end, l, L));
            else
                printf(" %9s", "-");
            printf(" %9.3g", v->deriv[l] * v->wf_init[l]);
        }
        printf("\n");
    }
}

static void print_summary(const vanish_run *runs, int n_runs)
{
    printf("\nlayer 1 / output at init:");
    for (int r = 0; r < n_runs; r++)
        printf("  %s/%s %.3g", clmlp_act_name(runs[r].act), init_name(runs[r].init),
               ratio(runs[r].at_init, 0, runs[r].n_layers));
    printf("\n");
    for (int r = 0; r < n_runs; r++)
        if (runs[r].trained)
            printf("%s/%s: final train loss %.4g%s%.4f\n", clmlp_act_name(runs[r].act),
                   init_name(runs[r].init), runs[r].train_loss,
                   runs[r].has_test ? ", test accuracy " : "", runs[r].has_test ? runs[r].test_acc : 0.0);
}

static void csv_rows(FILE *f, const vanish_run *v, int trained_phase)
{
    const clmlp_layer_stats *s = trained_phase ? v->at_end : v->at_init;
    const double *wf = trained_phase ? v->wf_end : v->wf_init;
    int L = v->n_layers;
    for (int l = 0; l < L; l++)
        fprintf(f, "%s,%s,%s,%d,%zu,%.6e,%.6e,%.6e,%.6e,%.6e,%.6e,%.6e,%.6f\n",
                clmlp_act_name(v->act), init_name(v->init), trained_phase ? "trained" : "init",
                l + 1, v->sizes[l + 1], s[l].mean_abs_delta, ratio(s, l, L), v->deriv[l], wf[l],
                v->deriv[l] * wf[l], s[l].grad_norm, s[l].weight_norm, s[l].saturated_fraction);
}

/* What write_csv hands to cli_write_text. */
typedef struct vanish_report {
    const vanish_run *runs;
    int n_runs;
} vanish_report;

static void emit_csv(FILE *f, const void *ctx)
{
    const vanish_report *r = ctx;
    fputs("act,init,phase,layer,units,mean_abs_delta,ratio,deriv_factor,weight_factor,bound,"
          "grad_norm,weight_norm,saturated\n", f);
    for (int i = 0; i < r->n_runs; i++) {
        csv_rows(f, &r->runs[i], 0);
        if (r->runs[i].trained)
            csv_rows(f, &r->runs[i], 1);
    }
}

static int write_csv(const char *path, const vanish_run *runs, int n_runs)
{
    vanish_report r = {runs, n_runs};
    if (cli_write_text("vanish", "--csv", path, emit_csv, &r) != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    printf("wrote %s\n", path);
    return CLI_EXIT_OK;
}

static void print_setup(const vanish_cfg *c, const size_t *sizes, int L, size_t n)
{
    printf("network: ");
    for (int l = 0; l <= L; l++)
        printf("%s%zu", l ? "-" : "", sizes[l]);
    printf(" (%s loss), seed %llu; %u epoch%s on %zu %s samples, batch %zu, lr %g\n",
           clmlp_loss_name(c->loss), (unsigned long long)c->seed, c->epochs,
           c->epochs == 1 ? "" : "s", n, c->synthetic ? "synthetic" : "training", c->batch,
           (double)c->hyper.lr);
    fflush(stdout);
}

static int run_all(const vanish_cfg *c, const clmlp_dataset *train, const clmlp_dataset *test)
{
    size_t sizes[CLMLP_MAX_LAYERS + 2];
    int L = 0;
    int rc = shape(c, train, test, sizes, &L);
    if (rc != CLI_EXIT_OK)
        return rc;
    print_setup(c, sizes, L, train->n);
    vanish_run *runs = calloc(MAX_RUNS, sizeof *runs);
    if (!runs)
        return cli_err("vanish", "out of memory"), CLI_EXIT_FAIL;
    int n_runs = 0;
    for (int i = 0; rc == CLI_EXIT_OK && i < c->n_inits; i++)
        for (int a = 0; rc == CLI_EXIT_OK && a < c->n_acts; a++) {
            vanish_run *v = &runs[n_runs++];
            v->act = c->acts[a], v->init = c->inits[i], v->n_layers = L;
            printf("running %s/%s ...\n", clmlp_act_name(v->act), init_name(v->init));
            fflush(stdout);
            rc = run_one(c, train, test, sizes, v);
        }
    if (rc == CLI_EXIT_OK) {
        print_table(runs, n_runs);
        print_summary(runs, n_runs);
        if (c->csv)
            rc = write_csv(c->csv, runs, n_runs);
    }
    free(runs);
    return rc;
}

int cmd_vanish(int argc, char **argv)
{
    vanish_cfg c;
    defaults(&c);
    int rc = parse_args(&c, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
    if (c.csv && (rc = cli_check_output("vanish", "--csv", c.csv, 1)) != CLI_EXIT_OK)
        return rc; /* before minutes of training, not after */
    clmlp_dataset train, test;
    rc = load_data(&c, &train, &test);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = run_all(&c, &train, &test);
    clmlp_dataset_free(&train);
    clmlp_dataset_free(&test);
    return rc;
}
