/* train.h - the backend-agnostic training loop: shuffled mini-batch epochs on a clmlp_engine,
 * per-epoch evaluation, early stopping on validation loss, and NaN/Inf detection.
 *
 * Library code: it never prints. Callers see progress through two callbacks, and errors as a
 * status plus one line in err.
 */
#ifndef CLMLP_TRAIN_H
#define CLMLP_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "clmlp.h"
#include "checkpoint.h"
#include "data/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-layer diagnostics of one training step: clmlp_engine_layer_stats of every layer. */
typedef struct clmlp_trace_report {
    unsigned epoch;        /* 1-based */
    uint64_t step;         /* 1-based step of the run: (epoch-1) x batches per epoch + batch */
    int end_of_epoch;      /* the step trained the epoch's last batch */
    int n_layers;
    clmlp_layer_stats layer[CLMLP_MAX_LAYERS];
} clmlp_trace_report;

/* What clmlp_train reports after every epoch. */
typedef struct clmlp_epoch_report {
    unsigned epoch;        /* 1-based */
    unsigned epochs;       /* planned epochs */
    size_t n_train;        /* samples trained this epoch */
    double train_loss;     /* loss_sum / n_train, the running loss over the epoch's batches */
    double train_acc;      /* correct / n_train, likewise during training */
    int has_val;
    double val_loss, val_acc;
    int has_test;
    double test_loss, test_acc;
    double train_seconds;  /* set_order .. epoch_stats (the device work of the epoch) */
    double eval_seconds;   /* validation and test predictions */
    double samples_per_s;  /* n_train / train_seconds */
    int improved;          /* validation loss improved (always 1 without validation) */
    int has_trace;         /* tracing is on: trace holds the epoch's last step */
    clmlp_trace_report trace;
    unsigned first_bad_batch; /* 1-based batch of the epoch whose loss was first NaN/Inf; 0 */
} clmlp_epoch_report;

/* Return nonzero to stop training (clmlp_train then returns CLMLP_ERR_INTERRUPTED). */
typedef int (*clmlp_epoch_fn)(const clmlp_epoch_report *r, void *user);
/* Called after each batch is queued: done of total samples of epoch `epoch`. Counts only;
 * nothing is read from the device for it. Return nonzero to stop. Also called (done = total)
 * between chunks of the epoch's test-set evaluation, which a stop cuts short: the epoch is
 * then kept, without test figures, and the run stops after it. */
typedef int (*clmlp_progress_fn)(unsigned epoch, size_t done, size_t total, void *user);
/* Called for every traced step, right after it was queued (tracing waits for the device). */
typedef void (*clmlp_trace_fn)(const clmlp_trace_report *t, void *user);

typedef struct clmlp_train_options {
    unsigned epochs;       /* >= 1 */
    size_t batch;          /* >= 1; the last batch of an epoch may be smaller */
    uint64_t seed;         /* seeds the shuffling RNG once; its state carries across epochs */
    double val_fraction;   /* [0, 1): the last fraction of the training set held out */
    unsigned patience;     /* 0: no early stopping; else stop after this many epochs without a
                            * better validation loss (needs val_fraction > 0) */
    clmlp_hyper hyper;     /* used by clmlp_train_engine_create */
    int cosine_lr;         /* 1: the learning rate follows a half cosine from hyper.lr down to
                            * lr_min_fraction * hyper.lr over all the steps of the run */
    double lr_min_fraction;
    /* Checkpoints (checkpoint.h): written to checkpoint_path after every checkpoint_every-th
     * epoch (0: never) and when a callback stops the run mid-epoch. */
    const char *checkpoint_path;
    unsigned checkpoint_every;
    const clmlp_model_meta *meta; /* stored in checkpoints (may be NULL) */
    /* Resume: continue from this state; the engine must already hold the checkpoint's
     * parameters and optimizer state (clmlp_checkpoint_apply), and `best` its best parameters
     * when validating. NULL starts a new run. */
    const clmlp_train_state *resume;
    /* Gradient diagnostics (clmlp_engine_layer_stats), off unless trace is 1. Traced steps:
     * the last of every epoch, every trace_every-th step of the run (0: none more), and step
     * 1 when trace_first is 1 (its deltas come from the initial weights). Each costs one
     * small kernel per layer and a wait for the device. */
    int trace;
    unsigned trace_every;
    int trace_first;
    clmlp_trace_fn on_trace;
    clmlp_epoch_fn on_epoch;
    clmlp_progress_fn on_progress;
    void *user;            /* passed to every callback */
} clmlp_train_options;

typedef struct clmlp_train_result {
    unsigned epochs_run;
    unsigned best_epoch;   /* epoch whose parameters are in `best` (0: none finished) */
    double best_val_loss;  /* at best_epoch, when validating */
    double best_test_acc;  /* highest test accuracy seen, and its epoch (for the record only) */
    unsigned best_test_epoch;
    double final_test_acc; /* test accuracy of the kept (best) parameters; NaN when not
                            * measured (no test set, or that epoch's evaluation cut short) */
    double seconds;        /* wall time of the whole run */
    int stopped_early;
} clmlp_train_result;

/* Defaults: 1 epoch, batch 128, seed 0, no validation, default hyperparameters. */
clmlp_train_options clmlp_train_options_default(void);

/* Creates an engine for net on a backend with opt->hyper and opt->batch as its batch size. */
clmlp_status clmlp_train_engine_create(clmlp_engine **out, clmlp_backend backend,
                                       const char *device, const clmlp_net *net,
                                       const clmlp_train_options *opt, char *err, size_t errlen);

/* Trains e on `train` (the last val_fraction of it held out for validation) and evaluates on
 * `test` (may be NULL) after every epoch. On success best (same shape as the engine's net) holds
 * the kept parameters: the best-validation epoch's when validating, else the last epoch's, and
 * the engine is left holding them too. On failure best is unspecified and err says why; a
 * non-finite loss gives CLMLP_ERR_NONFINITE naming the epoch and the first layer whose
 * parameters are not finite. res may be NULL. */
clmlp_status clmlp_train(clmlp_engine *e, const clmlp_dataset *train, const clmlp_dataset *test,
                         const clmlp_train_options *opt, clmlp_net *best, clmlp_train_result *res,
                         char *err, size_t errlen);

/* Loss and accuracy of outputs P (n x n_out, probabilities for softmax) against labels, with the
 * network's loss: CE -log p_y (clamped away from log 0), MSE sum_k (p_k - onehot_k)^2. Argmax
 * ties go to the lowest class. Returns 0 if any output is not finite. */
int clmlp_score_outputs(const float *P, const int32_t *labels, size_t n, size_t n_out,
                        clmlp_loss loss, double *mean_loss, size_t *correct);

/* Index of the first weight layer (0-based) with a NaN or Inf weight or bias, or -1. *is_bias
 * says which of the two. */
int clmlp_first_nonfinite_layer(const clmlp_net *net, int *is_bias);

#ifdef __cplusplus
}
#endif
#endif
