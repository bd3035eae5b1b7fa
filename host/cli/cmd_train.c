/* cmd_train.c - `clmlp train`: load data, build a network, train it on a device with per-epoch
 * lines (and a progress bar on terminals), an optional CSV log, and save the model on success. */
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"
#include "cli_cmds.h"
#include "cli_trace.h"
#include "model_io.h"
#include "checkpoint.h"
#include "train.h"

static const char train_help[] =
    "Usage: clmlp train [OPTIONS]\n"
    "Trains a fully connected network with backpropagation on an OpenCL device (or the CPU\n"
    "reference) and prints one line per epoch.\n"
    "\n"
    "Data (default: --data " CLI_DEFAULT_DATA "):\n"
    "  --data DIR            MNIST-format folder (train-* and t10k-* IDX files, .gz or not)\n"
    "  --train-csv FILE      CSV training set: one sample per line, label + features\n"
    "  --test-csv FILE       CSV test set, evaluated after every epoch\n"
    "  --label-column N      0-based column of the label in CSV files (default 0)\n"
    "  --header yes|no|auto  whether CSV files start with a header line (default auto)\n"
    "  --limit N             train on the first N training samples only (0: all)\n"
    "  --standardize         scale every feature to mean 0, std 1 (training-set moments, saved\n"
    "                        with the model)\n"
    "Network:\n"
    "  --layers LIST         unit counts, input first, e.g. 784,256,128,10 (default: data width,\n"
    "                        256, 128, number of classes); the input must match the data\n"
    "  --act A[,A...]        hidden activation: tanh, sigmoid or relu, one for all hidden layers\n"
    "                        or one per hidden layer (default relu)\n"
    "  --loss ce|mse         ce: softmax output with cross-entropy (default); mse: squared error\n"
    "  --out-act A           output activation for --loss mse (default sigmoid)\n"
    "  --init xavier|he|uniform  weight initialisation (default he for relu, else xavier)\n"
    "  --seed N              seeds initialisation and shuffling (default 0); same seed, same\n"
    "                        device: identical model\n"
    "Training:\n"
    "  --epochs N            (default 15)\n"
    "  --batch N             mini-batch size (default 128); the last batch may be smaller\n"
    "  --optimizer sgd|momentum|adam  (default momentum)\n"
    "  --lr X                learning rate (default 0.05; 0.001 for adam)\n"
    "  --momentum X          (default 0.9)\n"
    "  --lr-schedule S       cosine (default): the rate decays from --lr to 0 along a half\n"
    "                        cosine over the run; constant: --lr throughout\n"
    "  --l2 X                L2 weight decay (default 0)\n"
    "  --val-fraction F      hold out the last F of the training set for validation\n"
    "  --patience N          stop after N epochs without a better validation loss and keep the\n"
    "                        best epoch's parameters (needs --val-fraction)\n"
    "Device and output:\n"
    "  --device D            OpenCL device index or name substring, or cpu (the CPU reference);\n"
    "                        default $CLMLP_DEVICE, else the first GPU, else the first device\n"
    "  --save FILE           write the trained model (only when training succeeded)\n"
    "  --log FILE            write per-epoch metrics as CSV (with --resume, the rows before the\n"
    "                        checkpoint are kept; a log with other columns is refused)\n"
    "  --trace-grads         per-layer gradient diagnostics at each epoch's last step: mean\n"
    "                        |delta|, ||dW||, ||W|| and the share of saturated (sigmoid, tanh)\n"
    "                        or dead (relu) units; printed, and added to --log as columns\n"
    "                        step, L1_delta, L1_gnorm, L1_wnorm, L1_sat, L2_delta, ...\n"
    "  --trace-every N       also trace every N-th step (implies --trace-grads); in --log these\n"
    "                        rows have the epoch and the per-layer columns only\n"
    "  --checkpoint FILE     write a checkpoint (atomically) every --checkpoint-every N epochs\n"
    "                        (default 1), at the end, and on Ctrl-C / SIGTERM; it is also a\n"
    "                        model file ('clmlp eval' reads it)\n"
    "  --checkpoint-every N  epochs between checkpoints\n"
    "  --resume FILE         continue a run from its checkpoint: network, optimizer state,\n"
    "                        RNG, epoch and schedule come from the file (give the same data\n"
    "                        options); the result is bit-identical to an uninterrupted run\n"
    "  --quiet               print only the device, the final summary and the files written\n"
    "  --help                show this help\n";

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Output state shared by the two callbacks. */
typedef struct train_ui {
    FILE *log;
    int log_trace_layers; /* layers with trace columns in the log's header (0: none) */
    int quiet;
    int bar;          /* stdout is a terminal: draw a progress bar */
    int bar_shown;
    size_t last_tick;
    clmlp_epoch_report last; /* the last epoch, for the summary */
} train_ui;

/* Clears the progress bar so that a line can be printed. */
static void clear_bar(train_ui *ui)
{
    if (ui->bar_shown) {
        printf("\r\033[K");
        ui->bar_shown = 0;
    }
}

static int on_progress(unsigned epoch, size_t done, size_t total, void *user)
{
    train_ui *ui = user;
    if (!ui->bar || ui->quiet)
        return interrupted;
    size_t tick = total ? done * 40 / total : 40;
    if (tick != ui->last_tick || !ui->bar_shown) {
        char bar[41];
        memset(bar, '#', tick);
        memset(bar + tick, '.', 40 - tick);
        bar[40] = '\0';
        printf("\repoch %3u [%s] %zu/%zu", epoch, bar, done, total);
        fflush(stdout);
        ui->bar_shown = 1;
        ui->last_tick = tick;
    }
    return interrupted;
}

static void print_epoch(const clmlp_epoch_report *r)
{
    printf("epoch %3u/%u  loss %.4g  train acc %.4f", r->epoch, r->epochs, r->train_loss,
           r->train_acc);
    if (r->has_val)
        printf("  val loss %.4f  val acc %.4f%s", r->val_loss, r->val_acc, r->improved ? " *" : "");
    if (r->has_test)
        printf("  test acc %.4f", r->test_acc);
    printf("  %6.2f s  %8.0f samples/s\n", r->train_seconds + r->eval_seconds, r->samples_per_s);
}

static void log_epoch(FILE *f, const clmlp_epoch_report *r, int trace_layers)
{
    fprintf(f, "%u,%.6f,%.6f,", r->epoch, r->train_loss, r->train_acc);
    if (r->has_val)
        fprintf(f, "%.6f,%.6f,", r->val_loss, r->val_acc);
    else
        fputs(",,", f);
    if (r->has_test)
        fprintf(f, "%.6f,%.6f,", r->test_loss, r->test_acc);
    else
        fputs(",,", f);
    fprintf(f, "%.3f,%.1f", r->train_seconds + r->eval_seconds, r->samples_per_s);
    if (r->has_trace)
        cli_trace_csv_fields(f, &r->trace);
    else /* an epoch resumed after its last step traces none: empty cells, not a short row */
        for (int i = 0; trace_layers && i < 1 + 4 * trace_layers; i++)
            fputc(',', f);
    fputc('\n', f);
    fflush(f);
}

static int on_epoch(const clmlp_epoch_report *r, void *user)
{
    train_ui *ui = user;
    ui->last = *r;
    if (ui->bar_shown) {
        printf("\r\033[K"); /* clear the bar before the epoch's line */
        ui->bar_shown = 0;
    }
    if (!ui->quiet) {
        print_epoch(r);
        if (r->has_trace)
            cli_trace_print(stdout, &r->trace);
        fflush(stdout);
    }
    if (ui->log)
        log_epoch(ui->log, r, ui->log_trace_layers);
    return interrupted;
}

/* --trace-every: a traced step inside an epoch (the epoch's last step comes with on_epoch). In
 * the log its row has the epoch, the 8 per-epoch fields empty (not known yet), then the
 * per-layer columns. */
static void on_trace(const clmlp_trace_report *t, void *user)
{
    train_ui *ui = user;
    if (t->end_of_epoch)
        return;
    if (!ui->quiet) {
        clear_bar(ui);
        cli_trace_print(stdout, t);
        fflush(stdout);
    }
    if (ui->log) {
        fprintf(ui->log, "%u,,,,,,,,", t->epoch);
        cli_trace_csv_fields(ui->log, t);
        fputc('\n', ui->log);
        fflush(ui->log);
    }
}

/* Everything a run owns, freed in one place. */
typedef struct train_job {
    cli_cfg cfg;
    clmlp_dataset train, test;
    clmlp_net *net;
    clmlp_engine *engine;
    float *mean, *std;
    train_ui ui;
    clmlp_checkpoint ckpt; /* --resume */
    clmlp_model_meta meta; /* what checkpoints and the model record; borrows mean/std */
} train_job;

static void job_free(train_job *j)
{
    clmlp_checkpoint_free(&j->ckpt);
    clmlp_engine_free(j->engine);
    clmlp_net_free(j->net);
    clmlp_dataset_free(&j->train);
    clmlp_dataset_free(&j->test);
    free(j->mean);
    free(j->std);
    if (j->ui.log)
        fclose(j->ui.log);
}

static int standardize(train_job *j)
{
    size_t dim = j->train.dim;
    j->mean = malloc(dim * sizeof *j->mean);
    j->std = malloc(dim * sizeof *j->std);
    if (!j->mean || !j->std) {
        cli_err(j->cfg.cmd, "out of memory for the standardisation moments");
        return CLI_EXIT_FAIL;
    }
    clmlp_dataset_moments(&j->train, j->mean, j->std);
    clmlp_dataset_standardize(&j->train, j->mean, j->std);
    clmlp_dataset_standardize(&j->test, j->mean, j->std);
    return CLI_EXIT_OK;
}

/* 1 when a and b name the same file: the same inode if both exist, else the same text. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a, b) == 0;
}

/* No output may overwrite an input or another output (e.g. --save train.csv, --log = --save). */
static int check_distinct_files(const cli_cfg *c)
{
    const char *out[] = {c->save, c->log, c->checkpoint};
    const char *out_name[] = {"--save", "--log", "--checkpoint"};
    const char *in[] = {c->train_csv, c->test_csv, c->resume};
    const char *in_name[] = {"--train-csv", "--test-csv", "--resume"};
    for (int i = 0; i < 3; i++) {
        for (int k = i + 1; k < 3 && out[i]; k++)
            if (out[k] && same_file(out[i], out[k])) {
                cli_err(c->cmd, "%s and %s name the same file %s", out_name[i], out_name[k], out[i]);
                return CLI_EXIT_USAGE;
            }
        for (int k = 0; k < 3 && out[i]; k++)
            if (in[k] && same_file(out[i], in[k]) && !(k == 2 && i == 2)) {
                cli_err(c->cmd, "%s %s would overwrite the %s input", out_name[i], out[i], in_name[k]);
                return CLI_EXIT_USAGE;
            }
    }
    return CLI_EXIT_OK;
}

/* The log's header line, without its newline, into buf. */
static void log_header(const train_job *j, char *buf, size_t len)
{
    FILE *m = fmemopen(buf, len, "w");
    if (!m) {
        buf[0] = '\0';
        return;
    }
    fputs("epoch,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,seconds,"
          "samples_per_s", m);
    if (j->cfg.trace_grads)
        cli_trace_csv_header(m, j->net->n_layers);
    fclose(m);
}

/* Column of the step number in a --trace-grads log (after epoch ... samples_per_s). */
#define LOG_STEP_COLUMN 9

/* Whether a row of the old log records what the checkpoint's state already holds: the epochs
 * before its own, and the trace rows (--trace-every) of its epoch up to its step. Later rows
 * (written after the checkpoint, before a kill) are for the resumed run to write again. */
static int row_before_checkpoint(const char *row, const clmlp_train_state *s, int traced)
{
    unsigned long epoch = strtoul(row, NULL, 10);
    if (epoch >= 1 && epoch < s->epoch)
        return 1;
    if (epoch != s->epoch || !traced)
        return 0;
    const char *p = row;
    for (int col = 0; col < LOG_STEP_COLUMN && p; col++)
        if ((p = strchr(p, ',')) != NULL)
            p++;
    return p && *p != ',' && strtoull(p, NULL, 10) <= s->step;
}

/* --resume with a --log that exists: its rows before the checkpoint (row_before_checkpoint).
 * *other_columns is set when the old log has other columns than this run writes (then no
 * rows). The caller frees the result. */
static char *earlier_log_rows(const train_job *j, const char *header, int *other_columns)
{
    *other_columns = 0;
    FILE *f = fopen(j->cfg.log, "r");
    if (!f)
        return NULL;
    char *line = NULL, *rows = NULL;
    size_t cap = 0, used = 0;
    ssize_t n = getline(&line, &cap, f);
    int same_columns = n > 0 && strncmp(line, header, strlen(header)) == 0 &&
                       (line[strlen(header)] == '\n' || line[strlen(header)] == '\0');
    *other_columns = n > 0 && !same_columns;
    FILE *out = same_columns ? open_memstream(&rows, &used) : NULL;
    while (out && (n = getline(&line, &cap, f)) > 0)
        if (row_before_checkpoint(line, &j->ckpt.state, j->cfg.trace_grads))
            fputs(line, out);
    if (out)
        fclose(out);
    free(line);
    fclose(f);
    return rows;
}

static int open_log(train_job *j)
{
    if (!j->cfg.log)
        return CLI_EXIT_OK;
    char header[4096];
    log_header(j, header, sizeof header);
    int other_columns = 0;
    char *earlier = j->cfg.resume ? earlier_log_rows(j, header, &other_columns) : NULL;
    if (other_columns) { /* rewriting it would lose the first run's rows */
        free(earlier);
        cli_err(j->cfg.cmd, "--log %s: its columns differ from this run's (give the first run's "
                "--trace-grads / --trace-every, or another --log file)", j->cfg.log);
        return CLI_EXIT_USAGE;
    }
    j->ui.log = fopen(j->cfg.log, "w");
    if (!j->ui.log) {
        free(earlier);
        cli_err(j->cfg.cmd, "--log %s: cannot open for writing", j->cfg.log);
        return CLI_EXIT_FAIL;
    }
    fprintf(j->ui.log, "%s\n%s", header, earlier ? earlier : "");
    j->ui.log_trace_layers = j->cfg.trace_grads ? j->net->n_layers : 0;
    free(earlier);
    return CLI_EXIT_OK;
}

/* --resume: the checkpoint decides the network and the training settings; the data must fit. */
static int load_resume(train_job *j)
{
    char err[2048];
    if (clmlp_checkpoint_read(j->cfg.resume, &j->ckpt, err, sizeof err) != CLMLP_OK) {
        cli_err(j->cfg.cmd, "--resume: %s", err);
        return CLI_EXIT_FAIL;
    }
    const clmlp_net *n = j->ckpt.net;
    const clmlp_train_state *s = &j->ckpt.state;
    if (n->sizes[0] != j->train.dim || (size_t)j->train.n_classes > n->sizes[n->n_layers]) {
        cli_err(j->cfg.cmd, "--resume %s: the network is %zu -> %zu but the data has %zu "
                "features and %d classes", j->cfg.resume, n->sizes[0], n->sizes[n->n_layers],
                j->train.dim, j->train.n_classes);
        return CLI_EXIT_FAIL;
    }
    if (clmlp_net_clone(&j->net, n) != CLMLP_OK) {
        cli_err(j->cfg.cmd, "out of memory for the network");
        return CLI_EXIT_FAIL;
    }
    j->cfg.epochs = s->epochs;
    j->cfg.batch = (size_t)s->batch;
    j->cfg.hyper = s->hyper;
    j->cfg.cosine_lr = (int)s->cosine_lr;
    j->cfg.val_fraction = s->val_fraction;
    j->cfg.patience = s->patience;
    j->cfg.seed = j->ckpt.meta.seed;
    if (j->ckpt.meta.norm_dim) { /* the run's own moments, not recomputed */
        clmlp_dataset_standardize(&j->train, j->ckpt.meta.norm_mean, j->ckpt.meta.norm_std);
        clmlp_dataset_standardize(&j->test, j->ckpt.meta.norm_mean, j->ckpt.meta.norm_std);
        j->meta.norm_dim = j->ckpt.meta.norm_dim;
        j->meta.norm_mean = j->ckpt.meta.norm_mean;
        j->meta.norm_std = j->ckpt.meta.norm_std;
    }
    return CLI_EXIT_OK;
}

static int prepare(train_job *j)
{
    int rc = cli_load_train_test(&j->cfg, &j->train, &j->test);
    if (rc == CLI_EXIT_OK && j->cfg.resume)
        rc = load_resume(j);
    else if (rc == CLI_EXIT_OK)
        rc = cli_build_net(&j->cfg, &j->train, &j->test, &j->net);
    if (rc == CLI_EXIT_OK && j->cfg.standardize && !j->cfg.resume)
        rc = standardize(j);
    if (rc == CLI_EXIT_OK)
        rc = check_distinct_files(&j->cfg);
    if (rc == CLI_EXIT_OK && j->cfg.checkpoint)
        rc = cli_check_output(j->cfg.cmd, "--checkpoint", j->cfg.checkpoint, 1);
    if (rc == CLI_EXIT_OK && j->cfg.log)
        rc = cli_check_output(j->cfg.cmd, "--log", j->cfg.log, 0);
    if (rc == CLI_EXIT_OK && j->cfg.save)
        rc = cli_check_output(j->cfg.cmd, "--save", j->cfg.save, 1);
    if (rc == CLI_EXIT_OK)
        rc = open_log(j);
    if (rc == CLI_EXIT_OK)
        rc = cli_engine(j->cfg.cmd, j->cfg.device, j->net, &j->cfg.hyper, j->cfg.batch,
                        &j->engine);
    char err[2048];
    if (rc == CLI_EXIT_OK && j->cfg.resume &&
        clmlp_checkpoint_apply(&j->ckpt, j->engine, err, sizeof err) != CLMLP_OK) {
        cli_err(j->cfg.cmd, "%s", err);
        rc = CLI_EXIT_FAIL;
    }
    j->meta.seed = j->cfg.seed;
    if (j->engine)
        snprintf(j->meta.device, sizeof j->meta.device, "%s", clmlp_engine_device_name(j->engine));
    if (j->mean) {
        j->meta.norm_dim = j->train.dim;
        j->meta.norm_mean = j->mean;
        j->meta.norm_std = j->std;
    }
    return rc;
}

/* "tanh hidden", or "tanh,sigmoid hidden" when the hidden layers differ, or "no hidden". */
static void print_hidden_acts(const clmlp_net *n)
{
    int same = 1;
    for (int l = 1; l + 1 < n->n_layers; l++)
        same &= n->act[l] == n->act[0];
    if (n->n_layers < 2)
        printf("no");
    for (int l = 0; l + 1 < n->n_layers && (l == 0 || !same); l++)
        printf("%s%s", l ? "," : "", clmlp_act_name(n->act[l]));
    printf(" hidden");
}

static void print_setup(const train_job *j)
{
    const clmlp_net *n = j->net;
    const cli_cfg *c = &j->cfg;
    static const char *opt_names[] = {"sgd", "momentum", "adam"};
    printf("device: %s\n", clmlp_engine_device_name(j->engine));
    if (c->quiet)
        return;
    printf("network: ");
    for (int l = 0; l <= n->n_layers; l++)
        printf("%s%zu", l ? "-" : "", n->sizes[l]);
    printf(" (");
    print_hidden_acts(n);
    printf(", %s output, %s loss, %zu parameters)\n", clmlp_act_name(n->act[n->n_layers - 1]),
           clmlp_loss_name(n->loss), n->n_params);
    printf("training: %zu samples, test: %zu, batch %zu, %u epoch%s, %s lr %g (%s)", j->train.n,
           j->test.n, c->batch, c->epochs, c->epochs == 1 ? "" : "s",
           opt_names[c->hyper.optimizer], (double)c->hyper.lr,
           j->cfg.cosine_lr ? "cosine schedule" : "constant");
    if (c->hyper.optimizer == CLMLP_OPT_MOMENTUM)
        printf(" momentum %g", (double)c->hyper.momentum);
    if (c->hyper.l2 > 0.0f)
        printf(" l2 %g", (double)c->hyper.l2);
    printf(", seed %llu\n", (unsigned long long)c->seed);
    fflush(stdout);
}

static int save_model(train_job *j, const clmlp_net *best, const clmlp_train_result *res)
{
    clmlp_model_meta meta = j->meta;
    char err[1024];
    meta.epochs = res->best_epoch;
    if (clmlp_model_save(j->cfg.save, best, &meta, err, sizeof err) != CLMLP_OK) {
        cli_err(j->cfg.cmd, "%s", err);
        return CLI_EXIT_FAIL;
    }
    printf("model saved to %s\n", j->cfg.save);
    return CLI_EXIT_OK;
}

static void print_summary(const train_job *j, const clmlp_train_result *res)
{
    if (res->epochs_run == 0 && res->stopped_early) { /* --resume of an early-stopped run */
        printf("nothing to train: the checkpoint's run stopped early (no lower validation loss "
               "for %u epochs); kept epoch %u (val loss %.4f)\n", j->cfg.patience,
               res->best_epoch, res->best_val_loss);
        return;
    }
    if (res->epochs_run == 0) { /* --resume of a checkpoint written after the last epoch */
        printf("nothing to train: the checkpoint's run already finished its %u epochs\n",
               j->cfg.epochs);
        return;
    }
    printf("final train loss %.4g, train accuracy %.4f; ", j->ui.last.train_loss,
           j->ui.last.train_acc);
    /* The model kept is the last epoch's, or with --val-fraction the epoch of the lowest
     * validation loss: never one picked by its test accuracy (that would tune on the test
     * set), so its test accuracy leads and the highest seen is only for the record. */
    if (j->cfg.val_fraction > 0.0)
        printf("kept epoch %u (lowest val loss %.4f)%s", res->best_epoch, res->best_val_loss,
               res->stopped_early ? ", stopped early" : "");
    else
        printf("kept the final epoch %u", res->best_epoch);
    if (res->best_test_epoch && isnan(res->final_test_acc))
        printf(", test accuracy not measured (its evaluation was cut short; the highest seen: "
               "%.4f at epoch %u)", res->best_test_acc, res->best_test_epoch);
    else if (res->best_test_epoch)
        printf(", test accuracy %.4f (the highest seen: %.4f at epoch %u)", res->final_test_acc,
               res->best_test_acc, res->best_test_epoch);
    else
        printf(", no test set");
    if (!j->cfg.save)
        printf("; not saved (--save FILE keeps it)");
    printf("; total time %.1f s\n", res->seconds);
}

static int run_training(train_job *j)
{
    clmlp_train_options opt = clmlp_train_options_default();
    opt.epochs = j->cfg.epochs;
    opt.batch = j->cfg.batch;
    opt.seed = j->cfg.seed;
    opt.val_fraction = j->cfg.val_fraction;
    opt.patience = j->cfg.patience;
    opt.hyper = j->cfg.hyper;
    opt.cosine_lr = j->cfg.cosine_lr;
    opt.lr_min_fraction = 0.0;
    opt.checkpoint_path = j->cfg.checkpoint;
    opt.checkpoint_every = j->cfg.checkpoint_every;
    opt.meta = &j->meta;
    opt.resume = j->cfg.resume ? &j->ckpt.state : NULL;
    opt.on_epoch = on_epoch;
    opt.on_progress = on_progress;
    opt.trace = j->cfg.trace_grads;
    opt.trace_every = j->cfg.trace_every;
    opt.on_trace = on_trace;
    opt.user = &j->ui;
    j->ui.quiet = j->cfg.quiet;
    j->ui.bar = isatty(STDOUT_FILENO);

    clmlp_net *best = NULL;
    if (clmlp_net_clone(&best, j->ckpt.best ? j->ckpt.best : j->net) != CLMLP_OK) {
        cli_err(j->cfg.cmd, "out of memory for the network");
        return CLI_EXIT_FAIL;
    }
    char err[2048];
    clmlp_train_result res;
    clmlp_status st = clmlp_train(j->engine, &j->train, j->test.n ? &j->test : NULL, &opt, best,
                                  &res, err, sizeof err);
    if (j->ui.bar_shown)
        printf("\n");
    int rc = CLI_EXIT_OK;
    if (st != CLMLP_OK) {
        cli_err(j->cfg.cmd, "%s%s", err, j->cfg.save ? "; model not saved" : "");
        rc = st == CLMLP_ERR_INTERRUPTED ? 130 : CLI_EXIT_FAIL;
    } else {
        print_summary(j, &res);
        if (j->cfg.save)
            rc = save_model(j, best, &res);
    }
    clmlp_net_free(best);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    train_job j;
    memset(&j, 0, sizeof j);
    cli_cfg_defaults(&j.cfg, "train", 0);
    int rc = cli_cfg_parse(&j.cfg, argc, argv, train_help);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigemptyset(&sa.sa_mask);
    /* The first Ctrl-C or SIGTERM stops after the batch in flight (writing a checkpoint when one
     * was asked for); the model itself is not saved from an unfinished run. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = prepare(&j);
    if (rc == CLI_EXIT_OK) {
        print_setup(&j);
        rc = run_training(&j);
    }
    if (j.ui.log) { /* a full disk shows up here at the latest: say so, do not exit 0 */
        int bad = ferror(j.ui.log);
        bad |= fclose(j.ui.log) != 0;
        j.ui.log = NULL;
        if (bad) {
            cli_err(j.cfg.cmd, "--log %s: writing the metrics failed", j.cfg.log);
            rc = rc == CLI_EXIT_OK ? CLI_EXIT_FAIL : rc;
        }
    }
    job_free(&j);
    return rc;
}
