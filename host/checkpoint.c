/* checkpoint.c - writing and reading training checkpoints (see checkpoint.h): the model's
 * chunks, then TRST (train state), OPTM (optimizer moments) and, when validating, BEST. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void write_state(clmlp_chunk_writer *w, const clmlp_train_state *s)
{
    clmlp_cw_begin(w, "TRST");
    clmlp_cw_u32(w, s->epoch);
    clmlp_cw_u32(w, s->epochs);
    clmlp_cw_u64(w, s->next_first);
    clmlp_cw_u64(w, s->n_train);
    clmlp_cw_u64(w, s->batch);
    for (int i = 0; i < 4; i++)
        clmlp_cw_u64(w, s->rng_epoch.s[i]);
    clmlp_cw_u64(w, s->step);
    clmlp_cw_u32(w, s->best_epoch);
    clmlp_cw_u32(w, s->since_best);
    clmlp_cw_u64(w, double_bits(s->best_val_loss));
    const clmlp_hyper *h = &s->hyper;
    clmlp_cw_u32(w, (uint32_t)h->optimizer);
    const float hv[] = {h->lr, h->momentum, h->beta1, h->beta2, h->eps, h->l2};
    for (size_t i = 0; i < sizeof hv / sizeof *hv; i++)
        clmlp_cw_u32(w, float_bits(hv[i]));
    clmlp_cw_u32(w, s->cosine_lr);
    clmlp_cw_u64(w, double_bits(s->val_fraction));
    clmlp_cw_u32(w, s->patience);
    clmlp_cw_end(w);
}

/* The optimizer steps a run has taken at this state: every epoch before it in full, and the
 * batches of this one before its position. */
static uint64_t steps_taken(const clmlp_train_state *s)
{
    uint64_t per_epoch = (s->n_train + s->batch - 1) / s->batch;
    return (uint64_t)(s->epoch - 1) * per_epoch + (s->next_first + s->batch - 1) / s->batch;
}

/* What is wrong with the run's extent (epoch, position, batch, step count), or NULL. */
static const char *extent_problem(const clmlp_train_state *s, char *buf, size_t len)
{
    if (s->epochs == 0 || s->epoch == 0 || s->epoch > s->epochs + 1)
        snprintf(buf, len, "epoch %u of %u", s->epoch, s->epochs);
    else if (s->batch == 0 || s->batch > (1u << 24))
        snprintf(buf, len, "batch size %llu is outside [1, 16777216]",
                 (unsigned long long)s->batch);
    else if (s->n_train == 0 || s->next_first > s->n_train)
        snprintf(buf, len, "position %llu of %llu samples", (unsigned long long)s->next_first,
                 (unsigned long long)s->n_train);
    else if (s->step != steps_taken(s))
        snprintf(buf, len, "optimizer step %llu, where epoch %u at position %llu means %llu",
                 (unsigned long long)s->step, s->epoch, (unsigned long long)s->next_first,
                 (unsigned long long)steps_taken(s));
    else
        return NULL;
    return buf;
}

/* What is wrong with the early-stopping record, the schedule or the RNG, or NULL. */
static const char *record_problem(const clmlp_train_state *s, char *buf, size_t len)
{
    if (!(s->val_fraction >= 0 && s->val_fraction < 1))
        snprintf(buf, len, "validation fraction %g is outside [0, 1)", s->val_fraction);
    else if (s->patience && s->val_fraction == 0)
        snprintf(buf, len, "patience %u without a validation fraction", s->patience);
    else if (s->best_epoch >= s->epoch || s->since_best >= s->epoch)
        snprintf(buf, len, "best epoch %u (%u epochs ago) at epoch %u", s->best_epoch,
                 s->since_best, s->epoch);
    else if (s->best_epoch && !(s->best_val_loss >= 0))
        snprintf(buf, len, "best validation loss %g", s->best_val_loss);
    else if (s->cosine_lr > 1)
        snprintf(buf, len, "schedule flag %u is not 0 or 1", s->cosine_lr);
    else if ((s->rng_epoch.s[0] | s->rng_epoch.s[1] | s->rng_epoch.s[2] | s->rng_epoch.s[3]) == 0)
        snprintf(buf, len, "RNG state all zero (the generator would give only zeros)");
    else
        return NULL;
    return buf;
}

/* NULL when the state is one a run can be resumed from, else what is wrong with it (in buf):
 * each field is named, so that a damaged file says which one. */
static const char *state_problem(const clmlp_train_state *s, char *buf, size_t len)
{
    const char *p = extent_problem(s, buf, len);
    if (!p)
        p = record_problem(s, buf, len);
    return p ? p : clmlp_hyper_check(&s->hyper, buf, len);
}

static int read_state(const clmlp_chunk_file *f, const clmlp_chunk *c, clmlp_train_state *s,
                      char *err, size_t errlen)
{
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, f, c, err, errlen);
    s->epoch = clmlp_cr_u32(&r, "epoch");
    s->epochs = clmlp_cr_u32(&r, "epochs");
    s->next_first = clmlp_cr_u64(&r, "position");
    s->n_train = clmlp_cr_u64(&r, "training samples");
    s->batch = clmlp_cr_u64(&r, "batch");
    for (int i = 0; i < 4; i++)
        s->rng_epoch.s[i] = clmlp_cr_u64(&r, "rng");
    s->step = clmlp_cr_u64(&r, "step");
    s->best_epoch = clmlp_cr_u32(&r, "best epoch");
    s->since_best = clmlp_cr_u32(&r, "epochs since best");
    s->best_val_loss = bits_double(clmlp_cr_u64(&r, "best loss"));
    clmlp_hyper *h = &s->hyper;
    h->optimizer = (clmlp_optimizer)clmlp_cr_u32(&r, "optimizer");
    float *hv[] = {&h->lr, &h->momentum, &h->beta1, &h->beta2, &h->eps, &h->l2};
    for (size_t i = 0; i < sizeof hv / sizeof *hv; i++)
        *hv[i] = bits_float(clmlp_cr_u32(&r, "hyperparameter"));
    s->cosine_lr = clmlp_cr_u32(&r, "schedule");
    s->val_fraction = bits_double(clmlp_cr_u64(&r, "validation fraction"));
    s->patience = clmlp_cr_u32(&r, "patience");
    if (!clmlp_cr_done(&r))
        return 0;
    char why[160];
    const char *problem = state_problem(s, why, sizeof why);
    if (problem) {
        snprintf(err, errlen, "%s: train state at byte %zu is inconsistent: %s", f->path, c->at,
                 problem);
        return 0;
    }
    return 1;
}

/* OPTM: the moment arrays in the padded parameter layout (the padding is zero). */
static int read_moments(const clmlp_chunk_file *f, const clmlp_chunk *c, size_t n, float *m,
                        float *v, char *err, size_t errlen)
{
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, f, c, err, errlen);
    uint64_t count = clmlp_cr_u64(&r, "moment count");
    if (!r.failed && count != n) {
        snprintf(err, errlen, "%s: optimizer state at byte %zu has %llu values, the network "
                 "needs %zu", f->path, c->at, (unsigned long long)count, n);
        return 0;
    }
    const unsigned char *pm = clmlp_cr_bytes(&r, (uint64_t)n * 4, "first moments");
    const unsigned char *pv = clmlp_cr_bytes(&r, (uint64_t)n * 4, "second moments");
    if (!clmlp_cr_done(&r))
        return 0;
    clmlp_decode_f32s(pm, m, n);
    clmlp_decode_f32s(pv, v, n);
    /* A NaN moment, or a negative second moment (Adam takes its square root), would only show
     * as NaN weights after the first step. */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(m[i]) || !isfinite(v[i]) || v[i] < 0.0f) {
            snprintf(err, errlen, "%s: optimizer state at byte %zu: value %zu is %g (first "
                     "moment) and %g (second; both must be finite, the second >= 0)", f->path,
                     c->at, i, (double)m[i], (double)v[i]);
            return 0;
        }
    return 1;
}

clmlp_status clmlp_checkpoint_write(const char *path, clmlp_engine *e, const clmlp_net *shape,
                                    const clmlp_model_meta *meta, const clmlp_train_state *state,
                                    const clmlp_net *best, char *err, size_t errlen)
{
    clmlp_net *now = NULL;
    size_t n = shape->n_params_padded;
    float *m = malloc(n * sizeof *m), *v = malloc(n * sizeof *v);
    uint64_t step;
    clmlp_chunk_writer w;
    clmlp_cw_init(&w, CLMLP_MODEL_MAGIC, CLMLP_MODEL_VERSION);
    clmlp_status st = m && v ? clmlp_net_clone(&now, shape) : CLMLP_ERR_NOMEM;
    if (st == CLMLP_OK && ((st = clmlp_engine_get_params(e, now)) != CLMLP_OK ||
                           (st = clmlp_engine_get_opt_state(e, &step, m, v)) != CLMLP_OK))
        snprintf(err, errlen, "checkpoint %s: %s", path, clmlp_engine_error(e));
    else if (st == CLMLP_OK)
        st = clmlp_model_write_chunks(&w, now, meta, err, errlen);
    if (st == CLMLP_OK) {
        clmlp_train_state s = *state;
        s.step = step;
        write_state(&w, &s);
        clmlp_cw_begin(&w, "OPTM");
        clmlp_cw_u64(&w, n);
        clmlp_cw_f32s(&w, m, n);
        clmlp_cw_f32s(&w, v, n);
        clmlp_cw_end(&w);
        clmlp_cw_begin(&w, "TSTR");
        clmlp_cw_u64(&w, double_bits(state->kept_test_acc));
        clmlp_cw_u64(&w, double_bits(state->best_test_acc));
        clmlp_cw_u32(&w, state->best_test_epoch);
        clmlp_cw_end(&w);
        if (state->next_first > 0 && state->part_known) {
            clmlp_cw_begin(&w, "EPPT");
            clmlp_cw_u64(&w, double_bits(state->part_loss_sum));
            clmlp_cw_u64(&w, state->part_correct);
            clmlp_cw_end(&w);
        }
        if (best) { /* same shape as the checkpoint's net: its parameters are enough */
            clmlp_cw_begin(&w, "BEST");
            clmlp_cw_u64(&w, n);
            clmlp_cw_f32s(&w, best->params, n);
            clmlp_cw_end(&w);
        }
    }
    if (st == CLMLP_OK && (st = clmlp_cw_finish(&w)) != CLMLP_OK)
        snprintf(err, errlen, "checkpoint %s: out of memory", path);
    if (st == CLMLP_OK)
        st = clmlp_write_file_atomic(path, w.data, w.len, err, errlen);
    clmlp_cw_free(&w);
    clmlp_net_free(now);
    free(m), free(v);
    return st;
}

/* EPPT: the interrupted epoch's figures so far (optional: absent at an epoch's start, and in
 * checkpoints written before it existed). */
static int read_epoch_part(const clmlp_chunk_file *f, const clmlp_chunk *c, clmlp_train_state *s,
                           char *err, size_t errlen)
{
    s->part_known = !c->present || s->next_first == 0;
    if (!c->present)
        return 1;
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, f, c, err, errlen);
    s->part_loss_sum = bits_double(clmlp_cr_u64(&r, "epoch loss so far"));
    s->part_correct = clmlp_cr_u64(&r, "epoch correct so far");
    if (!clmlp_cr_done(&r))
        return 0;
    if (s->next_first == 0 || s->part_correct > s->next_first || !(s->part_loss_sum >= 0) ||
        !isfinite(s->part_loss_sum)) {
        snprintf(err, errlen, "%s: epoch figures at byte %zu: loss sum %g, %llu correct of %llu "
                 "samples (the loss sum must be finite and >= 0)", f->path, c->at,
                 s->part_loss_sum, (unsigned long long)s->part_correct,
                 (unsigned long long)s->next_first);
        return 0;
    }
    s->part_known = 1;
    return 1;
}

/* TSTR: the test-set record (optional: checkpoints written before it have none, and their
 * summary then knows only the resumed epochs' test figures). */
static int read_test_record(const clmlp_chunk_file *f, const clmlp_chunk *c, clmlp_train_state *s,
                            char *err, size_t errlen)
{
    s->kept_test_acc = NAN;
    s->best_test_acc = 0.0;
    s->best_test_epoch = 0;
    if (!c->present)
        return 1;
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, f, c, err, errlen);
    s->kept_test_acc = bits_double(clmlp_cr_u64(&r, "kept test accuracy"));
    s->best_test_acc = bits_double(clmlp_cr_u64(&r, "best test accuracy"));
    s->best_test_epoch = clmlp_cr_u32(&r, "best test epoch");
    if (!clmlp_cr_done(&r))
        return 0;
    int kept_ok = isnan(s->kept_test_acc) || (s->kept_test_acc >= 0 && s->kept_test_acc <= 1);
    if (!kept_ok || !(s->best_test_acc >= 0 && s->best_test_acc <= 1) ||
        s->best_test_epoch >= s->epoch) {
        snprintf(err, errlen, "%s: test record at byte %zu: kept accuracy %g, best %g at epoch %u "
                 "(at epoch %u)", f->path, c->at, s->kept_test_acc, s->best_test_acc,
                 s->best_test_epoch, s->epoch);
        return 0;
    }
    return 1;
}

/* BEST: the best-validation parameters in the padded layout of the checkpoint's net. */
static clmlp_status read_best(const clmlp_chunk_file *f, const clmlp_chunk *c, const clmlp_net *net,
                              clmlp_net **best, char *err, size_t errlen)
{
    size_t n = net->n_params_padded;
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, f, c, err, errlen);
    uint64_t count = clmlp_cr_u64(&r, "best parameter count");
    const unsigned char *p = count == n ? clmlp_cr_bytes(&r, (uint64_t)n * 4, "best parameters")
                                        : NULL;
    if (!p || !clmlp_cr_done(&r)) {
        if (!r.failed)
            snprintf(err, errlen, "%s: best parameters at byte %zu: %llu values, expected %zu",
                     f->path, c->at, (unsigned long long)count, n);
        return CLMLP_ERR_FORMAT;
    }
    clmlp_status st = clmlp_net_clone(best, net);
    if (st == CLMLP_OK)
        clmlp_decode_f32s(p, (*best)->params, n);
    return st;
}

clmlp_status clmlp_checkpoint_read(const char *path, clmlp_checkpoint *out, char *err,
                                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    clmlp_chunk_file f;
    clmlp_status st = clmlp_chunk_file_read(&f, path, CLMLP_MODEL_MAGIC, CLMLP_MODEL_VERSION,
                                            "clmlp checkpoint", err, errlen);
    if (st != CLMLP_OK)
        return st;
    clmlp_chunk trst, optm, best, part, tstr;
    st = clmlp_model_read_chunks(&f, &out->net, &out->meta, err, errlen);
    if (st == CLMLP_OK && (st = clmlp_chunk_find(&f, "TRST", 1, &trst, err, errlen)) == CLMLP_OK &&
        (st = clmlp_chunk_find(&f, "OPTM", 1, &optm, err, errlen)) == CLMLP_OK &&
        (st = clmlp_chunk_find(&f, "BEST", 0, &best, err, errlen)) == CLMLP_OK &&
        (st = clmlp_chunk_find(&f, "EPPT", 0, &part, err, errlen)) == CLMLP_OK &&
        (st = clmlp_chunk_find(&f, "TSTR", 0, &tstr, err, errlen)) == CLMLP_OK) {
        size_t n = out->net->n_params_padded;
        out->opt_m = malloc(n * sizeof(float));
        out->opt_v = malloc(n * sizeof(float));
        if (!out->opt_m || !out->opt_v)
            st = CLMLP_ERR_NOMEM;
        else if (!read_state(&f, &trst, &out->state, err, errlen) ||
                 !read_moments(&f, &optm, n, out->opt_m, out->opt_v, err, errlen) ||
                 !read_epoch_part(&f, &part, &out->state, err, errlen) ||
                 !read_test_record(&f, &tstr, &out->state, err, errlen))
            st = CLMLP_ERR_FORMAT;
        else if (best.present)
            st = read_best(&f, &best, out->net, &out->best, err, errlen);
    }
    clmlp_chunk_file_free(&f);
    if (st != CLMLP_OK)
        clmlp_checkpoint_free(out);
    return st;
}

clmlp_status clmlp_checkpoint_apply(const clmlp_checkpoint *c, clmlp_engine *e, char *err,
                                    size_t errlen)
{
    clmlp_status st = clmlp_engine_set_params(e, c->net);
    if (st == CLMLP_OK)
        st = clmlp_engine_set_opt_state(e, c->state.step, c->opt_m, c->opt_v);
    if (st != CLMLP_OK)
        snprintf(err, errlen, "cannot restore the checkpoint: %s", clmlp_engine_error(e));
    return st;
}

void clmlp_checkpoint_free(clmlp_checkpoint *c)
{
    clmlp_net_free(c->net);
    clmlp_net_free(c->best);
    clmlp_model_meta_free(&c->meta);
    free(c->opt_m);
    free(c->opt_v);
    memset(c, 0, sizeof *c);
}
