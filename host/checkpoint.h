/* checkpoint.h - training checkpoints: a model file (same container and chunks as
 * docs/model-format.md, so `clmlp eval` reads one) plus the state that makes resuming exact:
 * the optimizer's moments and step, the shuffling RNG, the epoch and the position in it, and
 * the early-stopping record. Written atomically (temp file, fsync, rename). */
#ifndef CLMLP_CHECKPOINT_H
#define CLMLP_CHECKPOINT_H

#include "clmlp.h"
#include "model_io.h"
#include "rng.h"

/* Where a run stands, exactly enough to continue it bit for bit. */
typedef struct clmlp_train_state {
    uint32_t epoch;         /* the epoch to run next or in progress, 1-based */
    uint32_t epochs;        /* planned epochs of the run */
    uint64_t next_first;    /* position in that epoch's order of the next batch (0: its start) */
    uint64_t n_train;       /* training samples (after the validation split): must match */
    uint64_t batch;         /* batch size: must match */
    clmlp_rng rng_epoch;    /* the RNG before that epoch's shuffle, so the order is rebuilt */
    uint64_t step;          /* optimizer steps taken (Adam's t) */
    uint32_t best_epoch;    /* early stopping: epoch of the best validation loss (0: none) */
    uint32_t since_best;
    double best_val_loss;
    clmlp_hyper hyper;      /* the optimizer settings (lr is the base rate of the schedule) */
    uint32_t cosine_lr;
    double val_fraction;    /* validation split and early-stopping patience of the run */
    uint32_t patience;
    /* The epoch in progress so far: its summed loss and correct count over positions
     * [0, next_first), so that a resumed epoch reports the whole epoch's figures (chunk EPPT;
     * part_known is 0 when a file from before it has none). */
    double part_loss_sum;
    uint64_t part_correct;
    int part_known;
    /* The test-set record for the run's summary (chunk TSTR, optional): the kept epoch's test
     * accuracy (NaN: not measured) and the highest seen with its epoch (0: none). */
    double kept_test_acc, best_test_acc;
    uint32_t best_test_epoch;
} clmlp_train_state;

typedef struct clmlp_checkpoint {
    clmlp_net *net;            /* the parameters at the checkpoint */
    clmlp_model_meta meta;
    clmlp_train_state state;
    float *opt_m, *opt_v;      /* net->n_params_padded floats each */
    clmlp_net *best;           /* the best-validation parameters, or NULL */
} clmlp_checkpoint;

/* Reads the parameters and optimizer state from e and writes a checkpoint to path atomically.
 * shape gives the network's shape; best may be NULL. Refuses NaN/Inf parameters, so a
 * diverged run never replaces a good checkpoint. */
clmlp_status clmlp_checkpoint_write(const char *path, clmlp_engine *e, const clmlp_net *shape,
                                    const clmlp_model_meta *meta, const clmlp_train_state *state,
                                    const clmlp_net *best, char *err, size_t errlen);
/* Reads and validates a checkpoint; on failure *out is empty. */
clmlp_status clmlp_checkpoint_read(const char *path, clmlp_checkpoint *out, char *err,
                                   size_t errlen);
/* Puts the checkpoint's parameters and optimizer state into e (same shape). */
clmlp_status clmlp_checkpoint_apply(const clmlp_checkpoint *c, clmlp_engine *e, char *err,
                                    size_t errlen);
void clmlp_checkpoint_free(clmlp_checkpoint *c);

#endif
