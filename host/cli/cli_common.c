/* cli_common.c - shared pieces of the clmlp subcommands: messages, strict number parsing, the
 * train/compare option table, data loading, network building and backend choice. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"
#include "model_io.h"

void cli_err(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "clmlp%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "clmlp%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'clmlp%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
                  uint64_t *out)
{
    /* strtoull would accept " 12", "-1" (wrapped) and "12abc"; only plain digits pass here */
    int ok = s && *s && isdigit((unsigned char)*s);
    char *end = NULL;
    unsigned long long v = 0;
    if (ok) {
        errno = 0;
        v = strtoull(s, &end, 10);
        ok = errno == 0 && *end == '\0' && v >= min && v <= max;
    }
    if (!ok) {
        cli_usage(cmd, "%s: '%s' is not a whole number in [%llu, %llu]", opt, s ? s : "",
                  (unsigned long long)min, (unsigned long long)max);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double(const char *cmd, const char *opt, const char *s, double min, double max,
                     double *out)
{
    char *end = NULL;
    double v = 0.0;
    /* Plain decimal only: strtod would also take "0x10", "inf" and "nan". (The CLI never calls
     * setlocale, so strtod's decimal point is always '.'.) */
    int ok = s && *s && strspn(s, "0123456789.eE+-") == strlen(s);
    if (ok) {
        errno = 0;
        v = strtod(s, &end);
        ok = errno == 0 && *end == '\0' && isfinite(v) && v >= min && v <= max;
    }
    if (!ok) {
        cli_usage(cmd, "%s: '%s' is not a number in [%g, %g]", opt, s ? s : "", min, max);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_header(const char *cmd, const char *s, int *out)
{
    if (strcmp(s, "yes") == 0)
        *out = 1;
    else if (strcmp(s, "no") == 0)
        *out = 0;
    else if (strcmp(s, "auto") == 0)
        *out = -1;
    else {
        cli_usage(cmd, "--header: '%s' is not yes, no or auto", s);
        return 0;
    }
    return 1;
}

void cli_cfg_defaults(cli_cfg *c, const char *cmd, int is_compare)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->is_compare = is_compare;
    c->csv = clmlp_csv_options_default();
    c->act = "relu";
    c->loss = CLMLP_LOSS_CE;
    c->init = CLMLP_INIT_HE;
    c->epochs = 15;
    c->batch = 128;
    c->hyper = clmlp_hyper_default();
    c->hyper.optimizer = CLMLP_OPT_MOMENTUM;
    c->hyper.lr = 0.05f;
    c->hyper.momentum = 0.9f;
    c->cosine_lr = 1;
    c->steps = 3;
    c->rtol = 1e-4;
    c->atol = 1e-5;
    if (is_compare)
        c->limit = 512; /* a quick check by default; --limit 0 uses everything */
}

enum {
    OPT_DATA = 256, OPT_TRAIN_CSV, OPT_TEST_CSV, OPT_LABEL_COL, OPT_HEADER, OPT_LAYERS, OPT_ACT,
    OPT_OUT_ACT, OPT_LOSS, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_MOMENTUM, OPT_OPTIMIZER, OPT_L2,
    OPT_INIT, OPT_SEED, OPT_DEVICE, OPT_SAVE, OPT_LOG, OPT_VAL, OPT_PATIENCE, OPT_STANDARDIZE,
    OPT_LIMIT, OPT_QUIET, OPT_LR_SCHEDULE, OPT_CHECKPOINT, OPT_CHECKPOINT_EVERY, OPT_RESUME, OPT_STEPS, OPT_RTOL, OPT_ATOL, OPT_EVERY_STEP, OPT_RESYNC, OPT_TRACE_GRADS, OPT_TRACE_EVERY, OPT_HELP
};

static const struct option cfg_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"train-csv", required_argument, NULL, OPT_TRAIN_CSV},
    {"test-csv", required_argument, NULL, OPT_TEST_CSV},
    {"label-column", required_argument, NULL, OPT_LABEL_COL},
    {"header", required_argument, NULL, OPT_HEADER},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"act", required_argument, NULL, OPT_ACT},
    {"out-act", required_argument, NULL, OPT_OUT_ACT},
    {"loss", required_argument, NULL, OPT_LOSS},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"lr", required_argument, NULL, OPT_LR},
    {"momentum", required_argument, NULL, OPT_MOMENTUM},
    {"lr-schedule", required_argument, NULL, OPT_LR_SCHEDULE},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"optimizer", required_argument, NULL, OPT_OPTIMIZER},
    {"l2", required_argument, NULL, OPT_L2},
    {"init", required_argument, NULL, OPT_INIT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"save", required_argument, NULL, OPT_SAVE},
    {"log", required_argument, NULL, OPT_LOG},
    {"val-fraction", required_argument, NULL, OPT_VAL},
    {"patience", required_argument, NULL, OPT_PATIENCE},
    {"standardize", no_argument, NULL, OPT_STANDARDIZE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"rtol", required_argument, NULL, OPT_RTOL},
    {"atol", required_argument, NULL, OPT_ATOL},
    {"every-step", no_argument, NULL, OPT_EVERY_STEP},
    {"resync", no_argument, NULL, OPT_RESYNC},
    {"trace-grads", no_argument, NULL, OPT_TRACE_GRADS},
    {"trace-every", required_argument, NULL, OPT_TRACE_EVERY},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int train_only(int id)
{
    return id == OPT_EPOCHS || id == OPT_SAVE || id == OPT_LOG || id == OPT_VAL ||
           id == OPT_PATIENCE || id == OPT_LR_SCHEDULE || id == OPT_CHECKPOINT ||
           id == OPT_CHECKPOINT_EVERY || id == OPT_RESUME ||
           id == OPT_TRACE_GRADS || id == OPT_TRACE_EVERY;
}

static int compare_only(int id)
{
    return id == OPT_STEPS || id == OPT_RTOL || id == OPT_ATOL || id == OPT_EVERY_STEP ||
           id == OPT_RESYNC;
}

/* Options a checkpoint decides: giving one with --resume would be silently ignored. */
static int fixed_by_checkpoint(int id)
{
    static const int ids[] = {OPT_LAYERS, OPT_ACT, OPT_OUT_ACT, OPT_LOSS, OPT_EPOCHS, OPT_BATCH,
                              OPT_LR, OPT_MOMENTUM, OPT_OPTIMIZER, OPT_L2, OPT_INIT, OPT_SEED,
                              OPT_STANDARDIZE, OPT_VAL, OPT_PATIENCE, OPT_LR_SCHEDULE};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

static const char *option_name(int id)
{
    for (const struct option *o = cfg_options; o->name; o++)
        if (o->val == id)
            return o->name;
    return "?";
}

/* Options with a float or enum value. Returns 1 when handled and valid. */
static int parse_value_option(cli_cfg *c, int id, const char *arg, int *lr_set)
{
    double d = 0.0;
    switch (id) {
    case OPT_LR:
        if (!cli_parse_double(c->cmd, "--lr", arg, 1e-12, 1e6, &d))
            return 0;
        c->hyper.lr = (float)d;
        *lr_set = 1;
        return 1;
    case OPT_MOMENTUM:
        if (!cli_parse_double(c->cmd, "--momentum", arg, 0.0, 0.999999, &d))
            return 0;
        c->hyper.momentum = (float)d;
        c->momentum_set = 1;
        return 1;
    case OPT_L2:
        if (!cli_parse_double(c->cmd, "--l2", arg, 0.0, 1e3, &d))
            return 0;
        c->hyper.l2 = (float)d;
        return 1;
    case OPT_VAL: return cli_parse_double(c->cmd, "--val-fraction", arg, 0.0, 0.9, &c->val_fraction);
    case OPT_RTOL: return cli_parse_double(c->cmd, "--rtol", arg, 0.0, 1e6, &c->rtol);
    case OPT_ATOL: return cli_parse_double(c->cmd, "--atol", arg, 0.0, 1e6, &c->atol);
    case OPT_LOSS:
        if (clmlp_loss_parse(arg, &c->loss) == 0)
            return 1;
        cli_usage(c->cmd, "--loss: '%s' is not ce or mse", arg);
        return 0;
    case OPT_OPTIMIZER:
        if (clmlp_optimizer_parse(arg, &c->hyper.optimizer) == 0)
            return 1;
        cli_usage(c->cmd, "--optimizer: '%s' is not sgd, momentum or adam", arg);
        return 0;
    case OPT_INIT:
        c->init_set = 1;
        if (clmlp_init_parse(arg, &c->init) == 0)
            return 1;
        cli_usage(c->cmd, "--init: '%s' is not xavier, he or uniform", arg);
        return 0;
    case OPT_HEADER: return cli_parse_header(c->cmd, arg, &c->csv.header);
    }
    return -1; /* not one of these */
}

/* Whole-number options. Returns 1 when handled and valid, 0 when invalid, -1 when not one. */
static int parse_count_option(cli_cfg *c, int id, const char *arg)
{
    uint64_t v = 0;
    int ok;
    switch (id) {
    case OPT_EPOCHS:
        ok = cli_parse_u64(c->cmd, "--epochs", arg, 1, 1000000, &v);
        c->epochs = (unsigned)v;
        return ok;
    case OPT_BATCH:
        ok = cli_parse_u64(c->cmd, "--batch", arg, 1, 1u << 24, &v);
        c->batch = (size_t)v;
        return ok;
    case OPT_SEED: return cli_parse_u64(c->cmd, "--seed", arg, 0, UINT64_MAX, &c->seed);
    case OPT_LR_SCHEDULE:
        if (strcmp(arg, "cosine") != 0 && strcmp(arg, "constant") != 0)
            return cli_usage(c->cmd, "--lr-schedule: '%s' is not cosine or constant", arg), 0;
        c->cosine_lr = strcmp(arg, "cosine") == 0;
        return 1;
    case OPT_CHECKPOINT_EVERY:
        ok = cli_parse_u64(c->cmd, "--checkpoint-every", arg, 1, 1000000, &v);
        c->checkpoint_every = (unsigned)v;
        return ok;
    case OPT_PATIENCE:
        ok = cli_parse_u64(c->cmd, "--patience", arg, 0, 1000000, &v);
        c->patience = (unsigned)v;
        return ok;
    case OPT_TRACE_EVERY:
        ok = cli_parse_u64(c->cmd, "--trace-every", arg, 1, UINT32_MAX, &v);
        c->trace_every = (unsigned)v;
        c->trace_grads = 1; /* asking for steps to trace asks for tracing */
        return ok;
    case OPT_LIMIT:
        ok = cli_parse_u64(c->cmd, "--limit", arg, 0, UINT32_MAX, &v);
        c->limit = (size_t)v;
        return ok;
    case OPT_STEPS:
        ok = cli_parse_u64(c->cmd, "--steps", arg, 1, 1000000, &v);
        c->steps = (unsigned)v;
        return ok;
    case OPT_LABEL_COL:
        ok = cli_parse_u64(c->cmd, "--label-column", arg, 0, 1000000, &v);
        c->csv.label_column = (int)v;
        return ok;
    }
    return -1;
}

/* Options that keep a string or set a flag. */
static void parse_plain_option(cli_cfg *c, int id, const char *arg)
{
    switch (id) {
    case OPT_DATA: c->data_dir = arg; break;
    case OPT_TRAIN_CSV: c->train_csv = arg; break;
    case OPT_TEST_CSV: c->test_csv = arg; break;
    case OPT_LAYERS: c->layers = arg; break;
    case OPT_ACT: c->act = arg; break;
    case OPT_OUT_ACT: c->out_act = arg; break;
    case OPT_DEVICE: c->device = arg; break;
    case OPT_SAVE: c->save = arg; break;
    case OPT_LOG: c->log = arg; break;
    case OPT_CHECKPOINT: c->checkpoint = arg; break;
    case OPT_RESUME: c->resume = arg; break;
    case OPT_STANDARDIZE: c->standardize = 1; break;
    case OPT_QUIET: c->quiet = 1; break;
    case OPT_EVERY_STEP: c->every_step = 1; break;
    case OPT_RESYNC: c->resync = 1; break;
    case OPT_TRACE_GRADS: c->trace_grads = 1; break;
    }
}

static int check_combination(cli_cfg *c, int lr_set)
{
    if (c->data_dir && (c->train_csv || c->test_csv))
        return cli_usage(c->cmd, "--data and --train-csv/--test-csv exclude each other");
    if (c->test_csv && !c->train_csv)
        return cli_usage(c->cmd, "--test-csv needs --train-csv");
    if (c->resume && !*c->resume)
        return cli_usage(c->cmd, "--resume needs a file name");
    if (c->checkpoint_every && !c->checkpoint)
        return cli_usage(c->cmd, "--checkpoint-every needs --checkpoint FILE");
    if (c->checkpoint && !c->checkpoint_every)
        c->checkpoint_every = 1;
    if (c->patience && c->val_fraction <= 0.0)
        return cli_usage(c->cmd, "--patience needs --val-fraction above 0");
    if (c->out_act && c->loss == CLMLP_LOSS_CE)
        return cli_usage(c->cmd, "--out-act applies to --loss mse only (ce uses softmax)");
    if (c->momentum_set && c->hyper.optimizer != CLMLP_OPT_MOMENTUM)
        return cli_usage(c->cmd, "--momentum applies to --optimizer momentum only (Adam's "
                         "first-moment decay is fixed at 0.9)");
    if (!lr_set && c->hyper.optimizer == CLMLP_OPT_ADAM)
        c->hyper.lr = 0.001f; /* the momentum default of 0.05 makes Adam diverge */
    if (!c->init_set && strncmp(c->act, "relu", 4) != 0)
        c->init = CLMLP_INIT_XAVIER; /* He init suits relu; tanh/sigmoid want Xavier */
    return CLI_EXIT_OK;
}

int cli_cfg_parse(cli_cfg *c, int argc, char **argv, const char *help)
{
    int lr_set = 0, id;
    opterr = 0; /* our own messages, prefixed with the subcommand */
    optind = 1;
    while ((id = getopt_long(argc, argv, ":h", cfg_options, NULL)) != -1) {
        if (id == 'h' || id == OPT_HELP) {
            fputs(help, stdout);
            return CLI_EXIT_HELP;
        }
        if (id == '?')
            return cli_usage(c->cmd, "unknown option '%s'", argv[optind - 1]);
        if (id == ':')
            return cli_usage(c->cmd, "option '%s' needs a value", argv[optind - 1]);
        if ((train_only(id) && c->is_compare) || (compare_only(id) && !c->is_compare))
            return cli_usage(c->cmd, "--%s is not an option of %s", option_name(id), c->cmd);
        if (c->resume_conflict == NULL && fixed_by_checkpoint(id))
            c->resume_conflict = option_name(id);
        int r = parse_value_option(c, id, optarg, &lr_set);
        if (r < 0)
            r = parse_count_option(c, id, optarg);
        if (r == 0)
            return CLI_EXIT_USAGE;
        if (r < 0)
            parse_plain_option(c, id, optarg);
    }
    if (optind < argc)
        return cli_usage(c->cmd, "unexpected argument '%s'", argv[optind]);
    if (c->resume && c->resume_conflict)
        return cli_usage(c->cmd, "--%s cannot be combined with --resume: the network and the "
                         "training settings come from the checkpoint", c->resume_conflict);
    return check_combination(c, lr_set);
}

/* Labels are checked at load time, where the file is known, against n_classes (> 0: the
 * network's or model's outputs) - but only when the data has the expected width (n_features,
 * 0: unknown): data meant for another network is better reported by the caller's width check
 * than by one of its labels. */
static int check_labels_now(const clmlp_dataset *d, int n_classes, size_t n_features)
{
    return n_classes > 0 && (n_features == 0 || d->dim == n_features);
}

/* A CSV label out of range: the file is read again with the class count given to the reader,
 * whose message names the line and value (the dataset only knows the sample's index). Only a
 * regular file can be read twice; otherwise the index message in err stays. */
static void csv_label_message(const char *path, const clmlp_csv_options *csv, int n_classes,
                              char *err, size_t errlen)
{
    char again_err[1024];
    clmlp_csv_options opt = *csv;
    clmlp_dataset again;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    opt.n_classes = n_classes;
    if (clmlp_csv_load(path, &opt, &again, again_err, sizeof again_err) == CLMLP_OK) {
        clmlp_dataset_free(&again); /* the file changed in between: keep the first message */
        return;
    }
    snprintf(err, errlen, "%s", again_err);
}

static int load_csv(const char *cmd, const char *path, const clmlp_csv_options *csv,
                    int n_classes, size_t n_features, clmlp_dataset *out)
{
    char err[1024];
    clmlp_status st = clmlp_csv_load(path, csv, out, err, sizeof err);
    if (st == CLMLP_OK && check_labels_now(out, n_classes, n_features) &&
        (st = clmlp_dataset_check_labels(out, n_classes, path, err, sizeof err)) != CLMLP_OK) {
        clmlp_dataset_free(out);
        csv_label_message(path, csv, n_classes, err, sizeof err);
    }
    if (st != CLMLP_OK) {
        cli_err(cmd, "%s", err);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* The folder's files are looked up here rather than inside clmlp_dataset_load_dir so that a
 * label out of range is reported against the label file itself. */
static int load_dir(const char *cmd, const char *dir, int test_split, int n_classes,
                    size_t n_features, clmlp_dataset *out)
{
    char err[1024], *images = NULL, *labels = NULL;
    clmlp_status st = clmlp_dataset_find_dir(dir, test_split, &images, &labels, err, sizeof err);
    memset(out, 0, sizeof *out);
    if (st == CLMLP_OK)
        st = clmlp_idx_load(images, labels, out, err, sizeof err);
    if (st == CLMLP_OK && check_labels_now(out, n_classes, n_features) &&
        (st = clmlp_dataset_check_labels(out, n_classes, labels, err, sizeof err)) != CLMLP_OK)
        clmlp_dataset_free(out);
    free(images);
    free(labels);
    if (st != CLMLP_OK) {
        cli_err(cmd, "%s", err);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* The input and output widths --layers asks for; both 0 when there is no --layers or it is
 * malformed (the network builder reports that). Quiet: it only lets the loaders check labels
 * early. */
static void layers_ends(const char *layers, size_t *in, int *out)
{
    unsigned long long v = 0, first = 0;
    int count = 0, digits = 0;
    *in = 0;
    *out = 0;
    for (const char *p = layers; p && *p; p++) {
        if (*p == ',') {
            if (digits == 0)
                return;
            if (count++ == 0)
                first = v;
            digits = 0;
            v = 0;
        } else if (*p >= '0' && *p <= '9' && v <= (1u << 30)) {
            v = v * 10 + (unsigned)(*p - '0');
            digits++;
        } else
            return;
    }
    if (digits == 0 || count < 1 || count > CLMLP_MAX_LAYERS || v == 0 || v > (1u << 30) ||
        first == 0 || first > (1u << 30))
        return;
    *in = (size_t)first;
    *out = (int)v;
}

int cli_load_train_test(const cli_cfg *c, clmlp_dataset *train, clmlp_dataset *test)
{
    int rc, k;
    size_t in;
    layers_ends(c->layers, &in, &k);
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (c->train_csv) {
        rc = load_csv(c->cmd, c->train_csv, &c->csv, k, in, train);
        if (rc == CLI_EXIT_OK && c->test_csv)
            rc = load_csv(c->cmd, c->test_csv, &c->csv, k, in, test);
    } else {
        const char *dir = c->data_dir ? c->data_dir : CLI_DEFAULT_DATA;
        rc = load_dir(c->cmd, dir, 0, k, in, train);
        if (rc == CLI_EXIT_OK)
            rc = load_dir(c->cmd, dir, 1, k, in, test);
    }
    if (rc == CLI_EXIT_OK && test->n && test->dim != train->dim) {
        cli_err(c->cmd, "the test data has %zu features but the training data has %zu", test->dim,
                train->dim);
        rc = CLI_EXIT_FAIL;
    }
    if (rc != CLI_EXIT_OK) {
        clmlp_dataset_free(train);
        clmlp_dataset_free(test);
        return rc;
    }
    if (c->limit && c->limit < train->n)
        train->n = c->limit; /* the arrays stay as allocated; free() does not need n */
    return CLI_EXIT_OK;
}

int cli_parse_acts(const char *cmd, const char *list, int n_hidden, clmlp_act *act)
{
    char buf[512];
    if (strlen(list) >= sizeof buf)
        return cli_usage(cmd, "--act: list too long");
    strcpy(buf, list);
    int count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        clmlp_act a;
        if (clmlp_act_parse(tok, &a) != 0 || a == CLMLP_ACT_SOFTMAX || a == CLMLP_ACT_IDENTITY)
            return cli_usage(cmd, "--act: '%s' is not tanh, sigmoid or relu", tok);
        if (count >= n_hidden && count > 0)
            return cli_usage(cmd, "--act lists more activations than the %d hidden layer%s",
                             n_hidden, n_hidden == 1 ? "" : "s");
        act[count++] = a;
    }
    if (count == 0)
        return cli_usage(cmd, "--act: empty list");
    if (count == 1)
        for (int l = 1; l < n_hidden; l++)
            act[l] = act[0];
    else if (count != n_hidden)
        return cli_usage(cmd, "--act lists %d activations for %d hidden layers", count, n_hidden);
    return CLI_EXIT_OK;
}

/* Parses "784,256,10" into sizes; returns the number of weight layers or 0 after an error. */
static int parse_layers(const char *cmd, const char *s, size_t *sizes)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end = NULL;
        if (!isdigit((unsigned char)*p))
            break;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (!errno && (v == 0 || v > (1u << 30))) {
            cli_usage(cmd, "--layers: '%s': layer %d has %llu units; each needs 1 to %u", s,
                      n + 1, v, 1u << 30);
            return 0;
        }
        if (errno || n > CLMLP_MAX_LAYERS)
            break;
        sizes[n++] = (size_t)v;
        p = end;
        if (*p == ',' && p[1])
            p++;
        else if (*p)
            break;
    }
    if (*p || n < 2) {
        cli_usage(cmd, "--layers: '%s' is not a list of 2 to %d unit counts like 784,256,10", s,
                  CLMLP_MAX_LAYERS + 1);
        return 0;
    }
    return n - 1;
}

static int max_classes(const clmlp_dataset *train, const clmlp_dataset *test)
{
    int k = train->n_classes > test->n_classes ? train->n_classes : test->n_classes;
    return k < 2 ? 2 : k;
}

static int fill_shape(const cli_cfg *c, const clmlp_dataset *train, const clmlp_dataset *test,
                      size_t *sizes, int *n_layers)
{
    if (!c->layers) {
        sizes[0] = train->dim;
        sizes[1] = 256;
        sizes[2] = 128;
        sizes[3] = (size_t)max_classes(train, test);
        *n_layers = 3;
        return CLI_EXIT_OK;
    }
    *n_layers = parse_layers(c->cmd, c->layers, sizes);
    if (*n_layers == 0)
        return CLI_EXIT_USAGE;
    if (sizes[0] != train->dim) {
        cli_err(c->cmd, "--layers starts with %zu inputs but the data has %zu features per sample",
                sizes[0], train->dim);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static int output_act(const cli_cfg *c, clmlp_act *out)
{
    if (c->loss == CLMLP_LOSS_CE) {
        *out = CLMLP_ACT_SOFTMAX;
        return CLI_EXIT_OK;
    }
    *out = CLMLP_ACT_SIGMOID;
    if (!c->out_act)
        return CLI_EXIT_OK;
    if (clmlp_act_parse(c->out_act, out) != 0 || *out == CLMLP_ACT_SOFTMAX)
        return cli_usage(c->cmd, "--out-act: '%s' is not sigmoid, tanh, relu or identity",
                         c->out_act);
    return CLI_EXIT_OK;
}

int cli_build_net(const cli_cfg *c, const clmlp_dataset *train, const clmlp_dataset *test,
                  clmlp_net **out)
{
    size_t sizes[CLMLP_MAX_LAYERS + 2];
    clmlp_act act[CLMLP_MAX_LAYERS];
    int L = 0;
    *out = NULL;
    int rc = fill_shape(c, train, test, sizes, &L);
    if (rc == CLI_EXIT_OK && L > 1)
        rc = cli_parse_acts(c->cmd, c->act, L - 1, act);
    if (rc == CLI_EXIT_OK)
        rc = output_act(c, &act[L - 1]);
    if (rc == CLI_EXIT_OK)
        rc = cli_check_fits(c->cmd, c->device, L, sizes, c->batch);
    if (rc != CLI_EXIT_OK)
        return rc;
    char err[512];
    clmlp_status st = clmlp_net_create(out, L, sizes, act, c->loss, err, sizeof err);
    if (st != CLMLP_OK) {
        cli_err(c->cmd, "%s", st == CLMLP_ERR_NOMEM ? "out of memory for the network" : err);
        return CLI_EXIT_FAIL;
    }
    rc = cli_check_data(c->cmd, train, "training", *out);
    if (rc == CLI_EXIT_OK && test->n)
        rc = cli_check_data(c->cmd, test, "test", *out);
    if (rc != CLI_EXIT_OK) {
        clmlp_net_free(*out);
        *out = NULL;
        return rc;
    }
    clmlp_net_init(*out, c->init, c->seed);
    return CLI_EXIT_OK;
}

int cli_check_data(const char *cmd, const clmlp_dataset *d, const char *what,
                   const clmlp_net *net)
{
    char err[512];
    size_t in = net->sizes[0], n_out = net->sizes[net->n_layers];
    if (d->dim != in) {
        cli_err(cmd, "the %s data has %zu features per sample but the network's input layer has "
                "%zu", what, d->dim, in);
        return CLI_EXIT_FAIL;
    }
    if (clmlp_dataset_check_labels(d, (int)n_out, what, err, sizeof err) != CLMLP_OK) {
        cli_err(cmd, "%s (the network has %zu outputs)", err, n_out);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int cli_load_eval_data(const char *cmd, const char *data_dir, const char *csv_path,
                       const clmlp_csv_options *csv, int n_classes, size_t n_features,
                       clmlp_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (csv_path)
        return load_csv(cmd, csv_path, csv, n_classes, n_features, out);
    return load_dir(cmd, data_dir ? data_dir : CLI_DEFAULT_DATA, 1, n_classes, n_features, out);
}

static int is_cpu_name(const char *s)
{
    return s && (strcasecmp(s, "cpu") == 0 || strcasecmp(s, "ref") == 0);
}

clmlp_backend cli_backend(const char *device)
{
    if (!device || !*device)
        device = getenv("CLMLP_DEVICE");
    return is_cpu_name(device) ? CLMLP_BACKEND_REF : CLMLP_BACKEND_OPENCL;
}

int cli_engine(const char *cmd, const char *device, const clmlp_net *net,
               const clmlp_hyper *hyper, size_t batch, clmlp_engine **out)
{
    static char err[16384]; /* a kernel build log can be long */
    clmlp_backend b = cli_backend(device);
    err[0] = '\0';
    clmlp_status st = clmlp_engine_create(out, b, b == CLMLP_BACKEND_REF ? NULL : device, net,
                                          hyper, batch, err, sizeof err);
    if (st != CLMLP_OK) {
        cli_err(cmd, "%s", st == CLMLP_ERR_NOMEM && !err[0] ? "out of memory" : err);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* The bytes clmlp_write_file_atomic adds to a name for its temporary file. */
#define ATOMIC_SUFFIX_LEN (sizeof CLMLP_ATOMIC_SUFFIX - 1)

/* path's folder into dir ("." or "/" when it has none or is at the root); 0 when too long. */
static int folder_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, len, ".") < (int)len;
    if (slash == path)
        return snprintf(dir, len, "/") < (int)len;
    return snprintf(dir, len, "%.*s", (int)(slash - path), path) < (int)len;
}

int cli_check_output(const char *cmd, const char *opt, const char *path, int atomic)
{
    if (!*path)
        return cli_usage(cmd, "%s needs a file name", opt);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        cli_err(cmd, "%s %s: exists and is not a regular file", opt, path);
        return CLI_EXIT_FAIL;
    }
    char dir[4096];
    if (strlen(path) + ATOMIC_SUFFIX_LEN >= sizeof dir || !folder_of(path, dir, sizeof dir)) {
        cli_err(cmd, "%s: path too long (%zu characters)", opt, strlen(path));
        return CLI_EXIT_FAIL;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        cli_err(cmd, "%s %s: cannot create files in %s: %s", opt, path, dir, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    /* The name must leave room for the temporary file's suffix, or the write fails at the end. */
    const char *slash = strrchr(path, '/');
    size_t name_len = strlen(slash ? slash + 1 : path);
    long name_max = pathconf(dir, _PC_NAME_MAX);
    size_t extra = atomic ? ATOMIC_SUFFIX_LEN : 0;
    if (name_max > 0 && name_len + extra > (size_t)name_max) {
        if (atomic)
            cli_err(cmd, "%s: the file name is %zu bytes; the folder \"%s\" takes names of at "
                         "most %ld, and the atomic write adds %zu for its temporary file",
                    opt, name_len, dir, name_max, extra);
        else
            cli_err(cmd, "%s: the file name is %zu bytes; the folder \"%s\" takes names of at "
                         "most %ld", opt, name_len, dir, name_max);
        return CLI_EXIT_FAIL;
    }
    if (name_len == 0) {
        cli_err(cmd, "%s %s: names a folder, not a file", opt, path);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int cli_write_text(const char *cmd, const char *opt, const char *path,
                   void (*emit)(FILE *f, const void *ctx), const void *ctx)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        cli_err(cmd, "%s %s: out of memory", opt, path);
        return CLI_EXIT_FAIL;
    }
    emit(f, ctx);
    int ok = fclose(f) == 0;
    char err[512] = "out of memory";
    if (ok && clmlp_write_file_atomic(path, buf, len, err, sizeof err) != CLMLP_OK)
        ok = 0;
    free(buf);
    if (!ok) {
        cli_err(cmd, "cannot write %s %s: %s", opt, path, err);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
