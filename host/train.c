/* train.c - the training loop shared by every backend: one shuffled order per epoch, every
 * batch queued without host reads, one statistics read per epoch, evaluation by prediction,
 * early stopping that keeps the best parameters, and NaN/Inf detection. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rng.h"
#include "train.h"

clmlp_train_options clmlp_train_options_default(void)
{
    clmlp_train_options o = {0};
    o.epochs = 1;
    o.batch = 128;
    o.hyper = clmlp_hyper_default();
    return o;
}

clmlp_status clmlp_train_engine_create(clmlp_engine **out, clmlp_backend backend,
                                       const char *device, const clmlp_net *net,
                                       const clmlp_train_options *opt, char *err, size_t errlen)
{
    return clmlp_engine_create(out, backend, device, net, &opt->hyper, opt->batch, err, errlen);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int clmlp_score_outputs(const float *P, const int32_t *labels, size_t n, size_t n_out,
                        clmlp_loss loss, double *mean_loss, size_t *correct)
{
    double sum = 0.0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = P + i * n_out;
        size_t best = 0;
        for (size_t k = 0; k < n_out; k++) {
            if (!isfinite(p[k]))
                return 0;
            if (p[k] > p[best]) /* strict: ties stay with the lowest class */
                best = k;
        }
        size_t y = (size_t)labels[i];
        ok += best == y;
        if (loss == CLMLP_LOSS_CE) {
            /* a probability that underflowed to 0 would give an infinite mean loss */
            sum -= log(p[y] > FLT_MIN ? (double)p[y] : (double)FLT_MIN);
        } else {
            for (size_t k = 0; k < n_out; k++) {
                double d = (double)p[k] - (k == y ? 1.0 : 0.0);
                sum += d * d;
            }
        }
    }
    *mean_loss = n ? sum / (double)n : 0.0;
    *correct = ok;
    return 1;
}

static int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

int clmlp_first_nonfinite_layer(const clmlp_net *net, int *is_bias)
{
    for (int l = 0; l < net->n_layers; l++) {
        if (!all_finite(clmlp_net_cW(net, l), net->sizes[l] * net->sizes[l + 1])) {
            *is_bias = 0;
            return l;
        }
        if (!all_finite(clmlp_net_cb(net, l), net->sizes[l + 1])) {
            *is_bias = 1;
            return l;
        }
    }
    *is_bias = 0;
    return -1;
}

/* How far the training loop may run ahead of the device. clmlp_engine_train_batch only queues
 * a step on OpenCL, so without a wait the loop queues a whole epoch in milliseconds, and a stop
 * request (Ctrl-C, through on_progress) takes effect only once the device has run all of it:
 * seconds for a large network, ~47 s for a 1.5 GB one (a new user's report). A wait costs a
 * drained queue (the device idles while the next step is enqueued, tens of microseconds), so
 * the loop waits every `every` steps, with `every` adapted to put the waits 50-200 ms of work
 * apart: a stop lands within ~0.2 s plus one step, for well under 0.1% of the time. */
typedef struct pacer {
    size_t every; /* steps between waits */
    size_t since; /* steps queued since the last wait */
    double last;  /* when the last wait (or the epoch) began */
} pacer;

#define PACE_MIN_SECONDS 0.05
#define PACE_MAX_SECONDS 0.2
#define PACE_MAX_EVERY 4096

/* State of one run, so the helpers below stay small. */
typedef struct run {
    clmlp_engine *e;
    const clmlp_train_options *opt;
    const clmlp_net *shape;     /* the engine's network shape (from `best`) */
    size_t dim, n_out;
    size_t n_train, n_val;
    const float *X_val;         /* the held-out tail of the training set */
    const int32_t *y_val;
    const clmlp_dataset *test;
    uint32_t *order;
    float *probs;               /* predictions of the larger of val and test */
    clmlp_rng rng;
    clmlp_train_state state;    /* where the run stands, for checkpoints */
    const clmlp_net *best;      /* the kept parameters, for checkpoints when validating */
    pacer pace;                 /* kept across epochs: the steps' cost does not change */
    int stop_after_epoch;       /* a stop came with the epoch's last batch */
    char *err;
    size_t errlen;
} run;

static clmlp_status engine_error(run *r, clmlp_status st, const char *what)
{
    const char *msg = clmlp_engine_error(r->e);
    snprintf(r->err, r->errlen, "%s: %s", what, msg[0] ? msg : clmlp_status_str(st));
    return st;
}

/* Cosine annealing (Loshchilov and Hutter, SGDR, without restarts) over the whole run, by
 * position in the run rather than by step count, so the last partial batch needs no care:
 * lr(t) = lr_min + (lr - lr_min) (1 + cos(pi t)) / 2, t in [0, 1). A decaying rate settles the
 * last epochs' test accuracy instead of leaving it to wobble at the constant rate's noise. */
static float scheduled_lr(const clmlp_train_options *opt, unsigned epoch, size_t first, size_t n)
{
    double t = ((double)(epoch - 1) + (double)first / (double)n) / (double)opt->epochs;
    double lo = opt->lr_min_fraction * opt->hyper.lr;
    return (float)(lo + (opt->hyper.lr - lo) * 0.5 * (1.0 + cos(3.14159265358979323846 * t)));
}

/* Writes a checkpoint of the run as it stands (r->state). Its META chunk counts the epochs
 * finished by the parameters it holds (the run's, not the kept best ones): those before the
 * epoch in progress or next (it once kept the caller's 0). */
static clmlp_status save_checkpoint(run *r)
{
    if (!r->opt->checkpoint_path)
        return CLMLP_OK;
    clmlp_model_meta meta = {0};
    if (r->opt->meta)
        meta = *r->opt->meta; /* borrows its standardisation arrays */
    meta.epochs = r->state.epoch > 0 ? r->state.epoch - 1 : 0;
    return clmlp_checkpoint_write(r->opt->checkpoint_path, r->e, r->shape, &meta, &r->state,
                                  r->n_val ? r->best : NULL, r->err, r->errlen);
}

/* Reads the diagnostics of the step just queued at position `first` of epoch `epoch` when it
 * is one to trace (train.h); the epoch's last one also goes into rep. Step numbers come from
 * the position, so a resumed run traces the same steps. */
static clmlp_status trace_step(run *r, unsigned epoch, size_t first, clmlp_epoch_report *rep)
{
    const clmlp_train_options *o = r->opt;
    if (!o->trace)
        return CLMLP_OK;
    size_t batch = o->batch, per_epoch = (r->n_train + batch - 1) / batch;
    clmlp_trace_report t = {0};
    t.epoch = epoch;
    t.step = (uint64_t)(epoch - 1) * per_epoch + first / batch + 1;
    t.end_of_epoch = first + batch >= r->n_train;
    int due = t.end_of_epoch || (o->trace_every && t.step % o->trace_every == 0) ||
              (o->trace_first && t.step == 1);
    if (!due)
        return CLMLP_OK;
    t.n_layers = r->shape->n_layers;
    for (int l = 0; l < t.n_layers; l++) {
        clmlp_status st = clmlp_engine_layer_stats(r->e, l, &t.layer[l]);
        if (st != CLMLP_OK)
            return engine_error(r, st, "cannot read the layer statistics");
    }
    if (t.end_of_epoch) {
        rep->has_trace = 1;
        rep->trace = t;
    }
    if (o->on_trace)
        o->on_trace(&t, o->user);
    return CLMLP_OK;
}

/* The number of steps between waits that puts them 50-200 ms apart, from the last interval. */
static size_t next_pace(size_t every, double seconds)
{
    if (seconds < PACE_MIN_SECONDS && every < PACE_MAX_EVERY)
        return every * 2;
    if (seconds > PACE_MAX_SECONDS && every > 1)
        return every / 2;
    return every;
}

/* After each queued step: every p->every steps, waits until the device has run them. */
static clmlp_status keep_pace(run *r)
{
    pacer *p = &r->pace;
    if (++p->since < p->every)
        return CLMLP_OK;
    clmlp_status st = clmlp_engine_finish(r->e);
    if (st != CLMLP_OK)
        return engine_error(r, st, "training step failed");
    double t = now_seconds();
    p->every = next_pace(p->every, t - p->last);
    p->since = 0;
    p->last = t;
    return CLMLP_OK;
}

/* At a stop in the middle of an epoch: the epoch's loss sum and correct count so far (those of
 * the positions [start, end) this run trained, and those before `start` that a resumed run
 * brought along), for the checkpoint, so that the epoch resumed from it reports all of it. */
static clmlp_status note_epoch_part(run *r, size_t start, size_t end)
{
    double loss_sum = 0.0;
    size_t correct = 0, bad = SIZE_MAX;
    clmlp_status st = clmlp_engine_range_stats(r->e, start, end, &loss_sum, &correct, &bad);
    if (st != CLMLP_OK)
        return engine_error(r, st, "cannot read the epoch's statistics");
    r->state.part_loss_sum += loss_sum;
    r->state.part_correct += correct;
    return CLMLP_OK;
}

/* Queues every batch of one epoch from position `start` (0, or where a resumed run stopped),
 * the last partial one included, then reads the epoch's statistics once (no read per batch;
 * the only other waits are keep_pace's, every 50-200 ms of work). The order is rebuilt from
 * the RNG state saved before the shuffle, so a resumed epoch visits the same samples in the
 * same order. */
static clmlp_status train_epoch(run *r, unsigned epoch, size_t start, clmlp_epoch_report *rep)
{
    size_t n = r->n_train, batch = r->opt->batch;
    for (size_t i = 0; i < n; i++)
        r->order[i] = (uint32_t)i;
    r->state.epoch = epoch;
    r->state.rng_epoch = r->rng;
    clmlp_rng_shuffle(&r->rng, r->order, n);
    double t0 = now_seconds();
    clmlp_status st = clmlp_engine_set_order(r->e, r->order, n);
    if (st != CLMLP_OK)
        return engine_error(r, st, "cannot upload the sample order");
    r->pace.since = 0;
    r->pace.last = t0; /* the time between epochs (evaluation, checkpoints) is not the steps' */
    for (size_t first = start; first < n; first += batch) {
        size_t count = n - first < batch ? n - first : batch;
        if (r->opt->cosine_lr) {
            st = clmlp_engine_set_lr(r->e, scheduled_lr(r->opt, epoch, first, n));
            if (st != CLMLP_OK)
                return engine_error(r, st, "cannot set the learning rate");
        }
        st = clmlp_engine_train_batch(r->e, first, count);
        if (st != CLMLP_OK)
            return engine_error(r, st, "training step failed");
        st = trace_step(r, epoch, first, rep);
        if (st == CLMLP_OK)
            st = keep_pace(r);
        if (st != CLMLP_OK)
            return st;
        /* A stop at the epoch's last batch waits for the epoch's end (its trace, its
         * evaluation, which the stop then cuts short, its log row): run_epochs stops after it. */
        int stop = r->opt->on_progress &&
                   r->opt->on_progress(epoch, first + count, n, r->opt->user) != 0;
        if (stop && first + count == n)
            r->stop_after_epoch = 1;
        else if (stop) {
            r->state.next_first = first + count;
            st = note_epoch_part(r, start, first + count);
            if (st == CLMLP_OK)
                st = save_checkpoint(r);
            if (st != CLMLP_OK)
                return st;
            snprintf(r->err, r->errlen, "interrupted in epoch %u after %zu of %zu samples%s%s",
                     epoch, first + count, n, r->opt->checkpoint_path ? "; checkpoint written to " : "",
                     r->opt->checkpoint_path ? r->opt->checkpoint_path : "");
            return CLMLP_ERR_INTERRUPTED;
        }
    }
    double loss_sum = 0.0;
    size_t correct = 0, bad = SIZE_MAX;
    st = clmlp_engine_range_stats(r->e, start, n, &loss_sum, &correct, &bad);
    if (st != CLMLP_OK)
        return engine_error(r, st, "cannot read the epoch's statistics");
    size_t trained = n - start, counted = trained;
    if (start > 0 && r->state.part_known) { /* a resumed epoch: the part before the stop too */
        loss_sum += r->state.part_loss_sum;
        correct += (size_t)r->state.part_correct;
        counted = n;
    }
    r->state.part_loss_sum = 0.0;
    r->state.part_correct = 0;
    r->state.part_known = 1; /* the next epoch starts at 0 */
    rep->train_seconds = now_seconds() - t0;
    rep->n_train = counted;
    rep->train_loss = counted ? loss_sum / (double)counted : 0.0;
    rep->train_acc = counted ? (double)correct / (double)counted : 0.0;
    rep->samples_per_s = rep->train_seconds > 0 ? (double)trained / rep->train_seconds : 0.0;
    rep->first_bad_batch = bad == SIZE_MAX ? 0 : (unsigned)(bad / batch + 1);
    return CLMLP_OK;
}

/* Rows predicted between two stop checks of a stoppable evaluation: ~5 ms for the default
 * network on two cores, ~0.1 s for 784-2048-1024-10, ~1 s for a 73M-parameter one. */
#define EVAL_CHUNK 1024

/* Predicts n rows and scores them; *finite is 0 when an output was NaN or Inf. With a nonzero
 * `epoch` it can be stopped: between chunks of rows it asks on_progress (as at the end of that
 * epoch's training), and on a stop returns CLMLP_OK with *stopped set and no scores. */
static clmlp_status evaluate(run *r, const float *X, const int32_t *y, size_t n, unsigned epoch,
                             double *loss, double *acc, int *finite, int *stopped)
{
    const clmlp_train_options *o = r->opt;
    for (size_t i = 0; i < n; i += EVAL_CHUNK) {
        size_t rows = n - i < EVAL_CHUNK ? n - i : EVAL_CHUNK;
        clmlp_status st = clmlp_engine_predict(r->e, X + i * r->dim, rows, r->probs + i * r->n_out);
        if (st != CLMLP_OK)
            return engine_error(r, st, "prediction failed");
        if (epoch && i + rows < n && o->on_progress &&
            o->on_progress(epoch, r->n_train, r->n_train, o->user) != 0) {
            *stopped = 1;
            return CLMLP_OK;
        }
    }
    size_t correct = 0;
    *finite = clmlp_score_outputs(r->probs, y, n, r->n_out, r->shape->loss, loss, &correct);
    *acc = n ? (double)correct / (double)n : 0.0;
    return CLMLP_OK;
}

/* The validation set (which decides the kept epoch, so it always runs to the end) and the test
 * set (reporting only: a stop request skips the rest of it, *stopped set, has_test 0). */
static clmlp_status evaluate_epoch(run *r, clmlp_epoch_report *rep, int *finite, int *stopped)
{
    double t0 = now_seconds();
    int fin_val = 1, fin_test = 1;
    clmlp_status st = CLMLP_OK;
    if (r->n_val) {
        rep->has_val = 1;
        st = evaluate(r, r->X_val, r->y_val, r->n_val, 0, &rep->val_loss, &rep->val_acc, &fin_val,
                      stopped);
    }
    if (st == CLMLP_OK && r->test) {
        st = evaluate(r, r->test->X, r->test->labels, r->test->n, rep->epoch, &rep->test_loss,
                      &rep->test_acc, &fin_test, stopped);
        rep->has_test = !*stopped;
        fin_test = fin_test || *stopped;
    }
    rep->eval_seconds = now_seconds() - t0;
    *finite = fin_val && fin_test;
    return st;
}

/* Builds the NaN/Inf message: the epoch, what was not finite, and the first bad layer. */
static clmlp_status nonfinite_error(run *r, unsigned epoch, const clmlp_epoch_report *rep,
                                    clmlp_net *scratch)
{
    char where[128] = "";
    if (clmlp_engine_get_params(r->e, scratch) == CLMLP_OK) {
        int is_bias = 0;
        int l = clmlp_first_nonfinite_layer(scratch, &is_bias);
        if (l >= 0)
            snprintf(where, sizeof where, "; layer %d %s contain NaN/Inf", l + 1,
                     is_bias ? "biases" : "weights");
        else
            snprintf(where, sizeof where, "; all parameters are still finite");
    }
    char loss[64]; /* "%g" (at most 13 characters) and the sentence after it */
    if (isnan(rep->train_loss) || isinf(rep->train_loss))
        snprintf(loss, sizeof loss, "%s", isnan(rep->train_loss) ? "NaN" : "Inf");
    else
        snprintf(loss, sizeof loss, "%g, but the outputs are NaN/Inf", rep->train_loss);
    char batch[64] = "";
    if (rep->first_bad_batch)
        snprintf(batch, sizeof batch, ", batch %u", rep->first_bad_batch);
    snprintf(r->err, r->errlen,
             "epoch %u%s: training diverged (train loss %s)%s; try a smaller --lr (now %g) or "
             "standardised inputs", epoch, batch, loss, where, (double)r->opt->hyper.lr);
    return CLMLP_ERR_NONFINITE;
}

static clmlp_status check_options(const clmlp_dataset *train,
                                  const clmlp_dataset *test, const clmlp_train_options *opt,
                                  const clmlp_net *best, char *err, size_t errlen)
{
    size_t in = best->sizes[0], out = best->sizes[best->n_layers];
    if (opt->epochs == 0 || opt->batch == 0) {
        snprintf(err, errlen, "epochs and batch size must be at least 1");
        return CLMLP_ERR_ARG;
    }
    if (!(opt->val_fraction >= 0.0 && opt->val_fraction < 1.0)) {
        snprintf(err, errlen, "validation fraction %g is outside [0, 1)", opt->val_fraction);
        return CLMLP_ERR_ARG;
    }
    if (opt->patience && opt->val_fraction <= 0.0) {
        snprintf(err, errlen, "early stopping (patience) needs a validation fraction above 0");
        return CLMLP_ERR_ARG;
    }
    const clmlp_dataset *sets[2] = {train, test};
    for (int i = 0; i < 2; i++) {
        if (!sets[i])
            continue;
        if (sets[i]->dim != in) {
            snprintf(err, errlen, "the %s data has %zu features but the network's input layer "
                     "has %zu", i ? "test" : "training", sets[i]->dim, in);
            return CLMLP_ERR_ARG;
        }
        for (size_t k = 0; k < sets[i]->n; k++)
            if (sets[i]->labels[k] < 0 || (size_t)sets[i]->labels[k] >= out) {
                snprintf(err, errlen, "%s label %d at index %zu is outside [0, %zu]",
                         i ? "test" : "training", (int)sets[i]->labels[k], k, out - 1);
                return CLMLP_ERR_ARG;
            }
    }
    return CLMLP_OK;
}

/* Splits off the validation tail and allocates the run's buffers. */
static clmlp_status run_setup(run *r, const clmlp_dataset *train)
{
    size_t n = train->n;
    r->n_val = (size_t)(r->opt->val_fraction * (double)n);
    if (r->opt->val_fraction > 0.0 && r->n_val == 0)
        r->n_val = 1;
    if (n == 0 || r->n_val >= n) {
        snprintf(r->err, r->errlen, "%zu training samples leave none to train on after holding "
                 "out %zu for validation", n, r->n_val);
        return CLMLP_ERR_ARG;
    }
    r->n_train = n - r->n_val;
    r->X_val = train->X + r->n_train * r->dim;
    r->y_val = train->labels + r->n_train;
    size_t n_eval = r->n_val;
    if (r->test && r->test->n > n_eval)
        n_eval = r->test->n;
    if (n_eval > SIZE_MAX / sizeof(float) / r->n_out || r->n_train > UINT32_MAX) {
        snprintf(r->err, r->errlen, "the data set is too large");
        return CLMLP_ERR_NOMEM;
    }
    r->order = malloc(r->n_train * sizeof *r->order);
    r->probs = malloc((n_eval ? n_eval : 1) * r->n_out * sizeof *r->probs);
    if (!r->order || !r->probs) {
        snprintf(r->err, r->errlen, "out of memory for the sample order and predictions");
        return CLMLP_ERR_NOMEM;
    }
    clmlp_rng_seed(&r->rng, r->opt->seed);
    clmlp_status st = clmlp_engine_set_data(r->e, train->X, train->labels, r->n_train, r->dim);
    return st == CLMLP_OK ? CLMLP_OK : engine_error(r, st, "cannot load the training data");
}

/* Records an epoch in res, counts epochs since the best validation loss, and copies the
 * parameters out when this epoch is the new best (only needed when validating). */
static clmlp_status keep_best(run *r, const clmlp_epoch_report *rep, clmlp_net *best,
                              clmlp_train_result *res, unsigned *since_best)
{
    if (rep->has_test && (res->best_test_epoch == 0 || rep->test_acc > res->best_test_acc)) {
        res->best_test_acc = rep->test_acc;
        res->best_test_epoch = rep->epoch;
    }
    if (!rep->improved) {
        (*since_best)++;
        return CLMLP_OK;
    }
    *since_best = 0;
    res->best_epoch = rep->epoch;
    res->best_val_loss = rep->val_loss;
    res->final_test_acc = rep->has_test ? rep->test_acc : NAN; /* NaN: cut short */
    if (!rep->has_val)
        return CLMLP_OK; /* without validation the last epoch's parameters are read at the end */
    clmlp_status st = clmlp_engine_get_params(r->e, best);
    return st == CLMLP_OK ? CLMLP_OK : engine_error(r, st, "cannot read the parameters");
}

/* Where the run starts: epoch 1 at position 0, or the resumed state. */
static clmlp_status start_state(run *r, clmlp_train_result *res, unsigned *first_epoch,
                                size_t *start)
{
    r->state.epochs = r->opt->epochs;
    r->state.n_train = r->n_train;
    r->state.batch = r->opt->batch;
    r->state.hyper = r->opt->hyper;
    r->state.cosine_lr = (uint32_t)r->opt->cosine_lr;
    r->state.val_fraction = r->opt->val_fraction;
    r->state.patience = r->opt->patience;
    r->state.part_known = 1; /* a fresh run's first epoch has no part before it */
    r->state.kept_test_acc = NAN;
    res->final_test_acc = NAN;
    *first_epoch = 1;
    *start = 0;
    const clmlp_train_state *s = r->opt->resume;
    if (!s)
        return CLMLP_OK;
    if (s->n_train != r->n_train || s->batch != r->opt->batch) {
        snprintf(r->err, r->errlen, "the checkpoint was trained on %llu samples in batches of "
                 "%llu; this run has %zu in batches of %zu: give the same data options",
                 (unsigned long long)s->n_train, (unsigned long long)s->batch, r->n_train,
                 r->opt->batch);
        return CLMLP_ERR_ARG;
    }
    r->rng = s->rng_epoch; /* rebuilds the interrupted epoch's order, or the next epoch's */
    r->state.best_epoch = s->best_epoch;
    r->state.since_best = s->since_best;
    r->state.best_val_loss = s->best_val_loss;
    r->state.part_loss_sum = s->part_loss_sum;
    r->state.part_correct = s->part_correct;
    r->state.part_known = s->part_known;
    res->best_epoch = s->best_epoch;
    res->best_val_loss = s->best_val_loss;
    res->final_test_acc = s->kept_test_acc;
    res->best_test_acc = s->best_test_acc;
    res->best_test_epoch = s->best_test_epoch;
    r->state.kept_test_acc = s->kept_test_acc;
    r->state.best_test_acc = s->best_test_acc;
    r->state.best_test_epoch = s->best_test_epoch;
    *first_epoch = s->epoch;
    *start = (size_t)s->next_first;
    return CLMLP_OK;
}

/* A checkpoint is due after every checkpoint_every-th epoch and after the last one. */
static int after_epoch_due(const run *r, unsigned ep)
{
    unsigned every = r->opt->checkpoint_every;
    return every && (ep % every == 0 || ep == r->opt->epochs);
}

/* After a finished epoch: the state for the next one, and a checkpoint when one is due. */
static clmlp_status after_epoch(run *r, unsigned ep, const clmlp_train_result *res,
                                unsigned since_best)
{
    r->state.epoch = ep + 1;
    r->state.next_first = 0;
    r->state.rng_epoch = r->rng;
    r->state.best_epoch = res->best_epoch;
    r->state.best_val_loss = res->best_val_loss;
    r->state.since_best = since_best;
    r->state.kept_test_acc = res->final_test_acc;
    r->state.best_test_acc = res->best_test_acc;
    r->state.best_test_epoch = res->best_test_epoch;
    return after_epoch_due(r, ep) ? save_checkpoint(r) : CLMLP_OK;
}

static clmlp_status run_epochs(run *r, clmlp_net *best, clmlp_train_result *res)
{
    unsigned first_epoch;
    size_t start;
    clmlp_status st0 = start_state(r, res, &first_epoch, &start);
    if (st0 != CLMLP_OK)
        return st0;
    unsigned since_best = r->state.since_best;
    if (r->opt->patience && since_best >= r->opt->patience) {
        /* a checkpoint of a run that early stopping ended: the straight run trained no more
         * (training on would keep another epoch; a re-tester's find) */
        res->stopped_early = 1;
        return CLMLP_OK;
    }
    for (unsigned ep = first_epoch; ep <= r->opt->epochs; ep++, start = 0) {
        clmlp_epoch_report rep = {0};
        rep.epoch = ep;
        rep.epochs = r->opt->epochs;
        clmlp_status st = train_epoch(r, ep, start, &rep);
        int finite = 1, stopped = 0;
        if (st == CLMLP_OK)
            st = evaluate_epoch(r, &rep, &finite, &stopped);
        if (st != CLMLP_OK)
            return st;
        res->epochs_run = ep;
        if (!isfinite(rep.train_loss) || !finite || rep.first_bad_batch)
            return nonfinite_error(r, ep, &rep, best);
        rep.improved = !rep.has_val || res->best_epoch == 0 || rep.val_loss < res->best_val_loss;
        st = keep_best(r, &rep, best, res, &since_best);
        if (st == CLMLP_OK)
            st = after_epoch(r, ep, res, since_best);
        if (st != CLMLP_OK)
            return st;
        /* on_epoch runs even after a stop inside the test evaluation: the epoch is trained and
         * validated, and its row (without test figures) belongs in the caller's log */
        int stop = r->opt->on_epoch && r->opt->on_epoch(&rep, r->opt->user) != 0;
        if (stop || stopped || r->stop_after_epoch) {
            /* the state already points at the next epoch: a checkpoint resumes there */
            st = after_epoch_due(r, ep) ? CLMLP_OK : save_checkpoint(r);
            if (st != CLMLP_OK)
                return st;
            snprintf(r->err, r->errlen, "interrupted after epoch %u%s%s%s", ep,
                     stopped ? " (in its test-set evaluation, which was cut short)" : "",
                     r->opt->checkpoint_path ? "; checkpoint written to " : "",
                     r->opt->checkpoint_path ? r->opt->checkpoint_path : "");
            return CLMLP_ERR_INTERRUPTED;
        }
        if (r->opt->patience && since_best >= r->opt->patience) {
            res->stopped_early = 1;
            break;
        }
    }
    return CLMLP_OK;
}

/* Leaves the kept parameters in both `best` and the engine. */
static clmlp_status finish(run *r, clmlp_net *best)
{
    clmlp_status st = r->n_val ? clmlp_engine_set_params(r->e, best)
                               : clmlp_engine_get_params(r->e, best);
    if (st != CLMLP_OK)
        return engine_error(r, st, "cannot move the kept parameters");
    int is_bias = 0;
    int l = clmlp_first_nonfinite_layer(best, &is_bias);
    if (l >= 0) {
        snprintf(r->err, r->errlen, "layer %d %s contain NaN/Inf after training", l + 1,
                 is_bias ? "biases" : "weights");
        return CLMLP_ERR_NONFINITE;
    }
    return CLMLP_OK;
}

clmlp_status clmlp_train(clmlp_engine *e, const clmlp_dataset *train, const clmlp_dataset *test,
                         const clmlp_train_options *opt, clmlp_net *best, clmlp_train_result *res,
                         char *err, size_t errlen)
{
    char scratch[8];
    if (!err || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    clmlp_train_result local;
    if (!res)
        res = &local;
    *res = (clmlp_train_result){0};
    double t0 = now_seconds();
    clmlp_status st = check_options(train, test, opt, best, err, errlen);
    if (st != CLMLP_OK)
        return st;
    run r = {0};
    r.e = e;
    r.pace.every = 1; /* doubling from 1: a network whose steps take seconds never has more
                       * than one queued before the first measurement */
    r.opt = opt;
    r.shape = best;
    r.best = best;
    r.dim = best->sizes[0];
    r.n_out = best->sizes[best->n_layers];
    r.test = test && test->n ? test : NULL;
    r.err = err;
    r.errlen = errlen;
    st = run_setup(&r, train);
    if (st == CLMLP_OK)
        st = run_epochs(&r, best, res);
    if (st == CLMLP_OK)
        st = finish(&r, best);
    free(r.order);
    free(r.probs);
    res->seconds = now_seconds() - t0;
    return st;
}
