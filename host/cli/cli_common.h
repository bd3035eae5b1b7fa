/* cli_common.h - what the clmlp subcommands share: error printing, strict number parsing, the
 * train/compare option table, data loading, network building, device choice, and report files
 * checked before a run and written once, at its end. */
#ifndef CLMLP_CLI_COMMON_H
#define CLMLP_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clmlp.h"
#include "data/dataset.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
/* Returned by option parsing when --help was printed: the command exits 0. */
#define CLI_EXIT_HELP (-1)

#define CLI_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Everything `train` and `compare` accept; a field is 0/NULL when the option was not given. */
typedef struct cli_cfg {
    const char *cmd;             /* "train" or "compare", for messages */
    int is_compare;
    /* data */
    const char *data_dir, *train_csv, *test_csv;
    clmlp_csv_options csv;
    size_t limit;                /* 0: all training samples */
    int standardize;
    /* network */
    const char *layers, *act, *out_act;
    clmlp_loss loss;
    clmlp_init init;
    int init_set;
    int momentum_set; /* --momentum given: refused unless the optimizer is momentum */
    uint64_t seed;
    /* training */
    unsigned epochs;
    size_t batch;
    clmlp_hyper hyper;
    int cosine_lr; /* --lr-schedule cosine (default) or constant */
    double val_fraction;
    unsigned patience;
    const char *device, *save, *log;
    const char *checkpoint, *resume; /* --checkpoint FILE, --resume FILE */
    unsigned checkpoint_every;
    const char *resume_conflict; /* first option given that a --resume checkpoint decides */
    int quiet;
    int trace_grads;             /* --trace-grads: per-layer diagnostics (also --trace-every) */
    unsigned trace_every;        /* --trace-every N: also every N-th step (0: epoch ends) */
    /* compare */
    unsigned steps;
    double rtol, atol;
    int every_step;
    int resync; /* --resync: each step starts the reference from the device's state */
} cli_cfg;

/* Prints "clmlp CMD: MESSAGE" on stderr. */
void cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the error and "Try 'clmlp CMD --help'."; returns CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whole numbers in [min, max] and finite reals in [min, max]; on a bad value they print a usage
 * error naming the option and return 0. */
int cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
                  uint64_t *out);
int cli_parse_double(const char *cmd, const char *opt, const char *s, double min, double max,
                     double *out);
/* --header yes|no|auto into 1/0/-1. */
int cli_parse_header(const char *cmd, const char *s, int *out);

/* Defaults of train (is_compare 0) or compare (1). */
void cli_cfg_defaults(cli_cfg *c, const char *cmd, int is_compare);
/* Parses argv (argv[0] is the subcommand) into c. Returns CLI_EXIT_OK, CLI_EXIT_USAGE or
 * CLI_EXIT_HELP (help text already printed). */
int cli_cfg_parse(cli_cfg *c, int argc, char **argv, const char *help);

/* Loads the training set and, when there is one, the test set; applies --limit. Prints the
 * error and returns CLI_EXIT_FAIL on failure (nothing to free then). */
int cli_load_train_test(const cli_cfg *c, clmlp_dataset *train, clmlp_dataset *test);
/* Builds and initialises the network from --layers/--act/--loss/--init/--seed, checking it
 * against the data; without --layers: data width, 256, 128, number of classes. */
/* Refuses, before allocating, a network of L weight layers that cannot fit this host or the
 * chosen device (its largest single buffer and its total memory) at this batch size. */
int cli_check_fits(const char *cmd, const char *device, int L, const size_t *sizes, size_t batch);

int cli_build_net(const cli_cfg *c, const clmlp_dataset *train, const clmlp_dataset *test,
                  clmlp_net **out);
/* Loads evaluation data: a CSV file, else the test split of an MNIST-format folder. With
 * n_classes > 0 (the model's outputs) a label outside [0, n_classes) fails naming its file (and
 * CSV line) - checked when the data has n_features features (0: any); a wrong width is left to
 * the caller's check. */
int cli_load_eval_data(const char *cmd, const char *data_dir, const char *csv_path,
                       const clmlp_csv_options *csv, int n_classes, size_t n_features,
                       clmlp_dataset *out);
/* Checks data width and labels against a network. */
int cli_check_data(const char *cmd, const clmlp_dataset *d, const char *what,
                   const clmlp_net *net);

/* "cpu"/"ref" (also via $CLMLP_DEVICE when device is NULL) mean the CPU reference backend. */
clmlp_backend cli_backend(const char *device);
/* Creates an engine, printing the error; returns CLI_EXIT_OK or CLI_EXIT_FAIL. */
int cli_engine(const char *cmd, const char *device, const clmlp_net *net,
               const clmlp_hyper *hyper, size_t batch, clmlp_engine **out);

/* Comma-separated activations, one for every hidden layer or one per hidden layer. */
int cli_parse_acts(const char *cmd, const char *list, int n_hidden, clmlp_act *act);

/* Output files of a long run (--save, --checkpoint, --log, --output, a --csv, a --json):
 * check first, write once at the end. cli_check_output, before the run: CLI_EXIT_OK if path
 * (given with option opt) can be written: a name (not empty, not ending in '/'), short enough
 * for its folder (with the temporary suffix when `atomic`: written by cli_write_text or
 * clmlp_write_file_atomic, not streamed like --log), in a folder that exists and takes
 * new files, and not an existing folder, device or FIFO; else prints why and returns
 * CLI_EXIT_USAGE (an empty name) or CLI_EXIT_FAIL, so that minutes of work do not end in
 * "cannot write". cli_write_text, after it: writes what emit(f, ctx) prints to path in one
 * atomic step (model_io.h), so a failed write leaves an existing file as it was; prints why on
 * failure. Returns CLI_EXIT_OK or _FAIL. */
int cli_check_output(const char *cmd, const char *opt, const char *path, int atomic);
int cli_write_text(const char *cmd, const char *opt, const char *path,
                   void (*emit)(FILE *f, const void *ctx), const void *ctx);

#endif
