/* engine.c - the backend-independent side of clmlp_engine: creation, argument checks, error
 * text, epoch statistics and the optimizer's per-step constants. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

clmlp_status clmlp_engine_fail(clmlp_engine *e, clmlp_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return status;
}

void clmlp_adam_coeffs(const clmlp_hyper *h, uint64_t t, float *lr_t, float *eps_t)
{
    double c1 = 1.0 - pow(h->beta1, (double)t), c2 = 1.0 - pow(h->beta2, (double)t);
    *lr_t = (float)(h->lr * sqrt(c2) / c1);
    *eps_t = (float)(h->eps * sqrt(c2));
}

clmlp_status clmlp_engine_create(clmlp_engine **out, clmlp_backend backend, const char *device,
                                 const clmlp_net *net, const clmlp_hyper *hyper, size_t max_batch,
                                 char *err, size_t errlen)
{
    *out = NULL;
    if (max_batch == 0 || max_batch > (1u << 24)) {
        snprintf(err, errlen, "batch size %zu is outside [1, 16777216]", max_batch);
        return CLMLP_ERR_ARG;
    }
    char why[128];
    if (clmlp_hyper_check(hyper, why, sizeof why)) {
        snprintf(err, errlen, "optimizer settings: %s", why);
        return CLMLP_ERR_ARG;
    }
    clmlp_engine *e = calloc(1, sizeof *e);
    if (!e)
        return CLMLP_ERR_NOMEM;
    clmlp_status st = clmlp_net_clone(&e->net, net);
    if (st != CLMLP_OK) {
        free(e);
        snprintf(err, errlen, "cannot copy the network: %s", clmlp_status_str(st));
        return st;
    }
    e->hyper = *hyper;
    e->max_batch = max_batch;
    const char *fault = getenv("CLMLP_TEST_FAIL_AT_STEP");
    if (fault)
        e->fail_at_step = strtoull(fault, NULL, 10);
    st = backend == CLMLP_BACKEND_REF ? clmlp_ref_engine_init(e, err, errlen)
                                      : clmlp_cl_engine_init(e, device, err, errlen);
    if (st != CLMLP_OK) {
        clmlp_engine_free(e); /* a backend that got as far as setting ops cleans up itself */
        return st;
    }
    *out = e;
    return CLMLP_OK;
}

void clmlp_engine_free(clmlp_engine *e)
{
    if (!e)
        return;
    if (e->ops)
        e->ops->destroy(e);
    clmlp_net_free(e->net);
    free(e);
}

const char *clmlp_engine_device_name(const clmlp_engine *e) { return e->device_name; }
const char *clmlp_engine_error(const clmlp_engine *e) { return e->err; }

clmlp_status clmlp_engine_set_data(clmlp_engine *e, const float *X, const int32_t *labels,
                                   size_t n, size_t dim)
{
    if (dim != e->net->sizes[0])
        return clmlp_engine_fail(e, CLMLP_ERR_ARG,
                                 "the data has %zu features but the network's input layer has %zu",
                                 dim, e->net->sizes[0]);
    if (n == 0 || n > UINT32_MAX)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "%zu samples: need 1 to 2^32-1", n);
    clmlp_status st = e->ops->set_data(e, X, labels, n, dim);
    if (st == CLMLP_OK) {
        e->n_data = n;
        e->dim = dim;
        e->order_len = 0;
    }
    return st;
}

clmlp_status clmlp_engine_set_order(clmlp_engine *e, const uint32_t *order, size_t n)
{
    if (n == 0 || n > e->n_data)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "order of %zu samples for %zu in the data", n,
                                 e->n_data);
    for (size_t i = 0; i < n; i++)
        if (order[i] >= e->n_data)
            return clmlp_engine_fail(e, CLMLP_ERR_ARG, "order[%zu] = %u is past the data", i,
                                     order[i]);
    clmlp_status st = e->ops->set_order(e, order, n);
    if (st == CLMLP_OK)
        e->order_len = n;
    return st;
}

clmlp_status clmlp_engine_train_batch(clmlp_engine *e, size_t first, size_t count)
{
    if (count == 0 || count > e->max_batch || first > e->order_len ||
        count > e->order_len - first)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG,
                                 "batch [%zu, %zu) is empty, above the engine's batch size %zu or "
                                 "past the epoch's %zu samples",
                                 first, first + count, e->max_batch, e->order_len);
    e->step++;
    e->stats_valid = 0;
    clmlp_status st = e->ops->train_batch(e, first, count);
    if (st == CLMLP_OK)
        e->last_count = count;
    return st;
}

clmlp_status clmlp_engine_get_opt_state(clmlp_engine *e, uint64_t *step, float *m, float *v)
{
    *step = e->step;
    return e->ops->get_opt_state(e, m, v);
}

clmlp_status clmlp_engine_set_opt_state(clmlp_engine *e, uint64_t step, const float *m,
                                        const float *v)
{
    clmlp_status st = e->ops->set_opt_state(e, m, v);
    if (st == CLMLP_OK)
        e->step = step;
    return st;
}

/* Whether a and b have the same layer sizes, so that their parameter arrays have one layout.
 * The padded lengths alone do not tell: every tensor is padded to CLMLP_PARAM_ALIGN floats, so
 * 2-3 and 3-2, or 5-7-4 and 4-7-5, have arrays of one length and different layouts. */
static int same_shape(const clmlp_net *a, const clmlp_net *b)
{
    if (a->n_layers != b->n_layers)
        return 0;
    for (int l = 0; l <= a->n_layers; l++)
        if (a->sizes[l] != b->sizes[l])
            return 0;
    return 1;
}

/* "784-256-10" into buf. */
static const char *shape_text(const clmlp_net *n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l <= n->n_layers && used < len; l++)
        used += (size_t)snprintf(buf + used, len - used, "%s%zu", l ? "-" : "", n->sizes[l]);
    return buf;
}

static clmlp_status shape_mismatch(clmlp_engine *e, const clmlp_net *other)
{
    char a[256], b[256];
    return clmlp_engine_fail(e, CLMLP_ERR_ARG, "network shape %s differs from the engine's %s",
                             shape_text(other, a, sizeof a), shape_text(e->net, b, sizeof b));
}

/* The last step's statistics describe the weights that step left; once the parameters are
 * replaced they describe none, so they are dropped (layer_stats then asks for a step). */
static void forget_last_step(clmlp_engine *e)
{
    e->stats_valid = 0;
    e->last_count = 0;
}

clmlp_status clmlp_engine_copy_state(clmlp_engine *to, clmlp_engine *from)
{
    if (!same_shape(to->net, from->net))
        return shape_mismatch(to, from->net);
    size_t n = from->net->n_params_padded;
    float *params = malloc(3 * n * sizeof *params);
    if (!params)
        return clmlp_engine_fail(to, CLMLP_ERR_NOMEM, "no memory to copy an engine's state");
    float *m = params + n, *v = m + n;
    clmlp_status st = from->ops->get_params(from, params);
    if (st == CLMLP_OK)
        st = from->ops->get_opt_state(from, m, v);
    if (st != CLMLP_OK)
        st = clmlp_engine_fail(to, st, "reading the state of %s: %s", from->device_name,
                               from->err);
    if (st == CLMLP_OK)
        st = to->ops->set_params(to, params);
    if (st == CLMLP_OK)
        st = to->ops->set_opt_state(to, m, v);
    if (st == CLMLP_OK)
        to->step = from->step;
    forget_last_step(to);
    free(params);
    return st;
}

clmlp_status clmlp_engine_finish(clmlp_engine *e)
{
    return e->ops->finish(e);
}

clmlp_status clmlp_engine_set_lr(clmlp_engine *e, float lr)
{
    if (!(lr > 0.0f) || !isfinite(lr))
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "learning rate %g must be positive", lr);
    e->hyper.lr = lr; /* both backends read it at every step */
    return CLMLP_OK;
}

clmlp_status clmlp_engine_epoch_stats(clmlp_engine *e, size_t n, double *loss_sum,
                                      size_t *correct)
{
    size_t bad;
    return clmlp_engine_range_stats(e, 0, n, loss_sum, correct, &bad);
}

clmlp_status clmlp_engine_range_stats(clmlp_engine *e, size_t begin, size_t end, double *loss_sum,
                                      size_t *correct, size_t *first_nonfinite)
{
    if (begin > end || end > e->order_len)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "stats of positions [%zu, %zu), epoch has %zu",
                                 begin, end, e->order_len);
    size_t n = end - begin;
    float *loss = malloc((n ? n : 1) * sizeof *loss);
    int32_t *ok = malloc((n ? n : 1) * sizeof *ok);
    clmlp_status st = CLMLP_ERR_NOMEM;
    if (loss && ok)
        st = n ? e->ops->read_stats(e, begin, n, loss, ok) : CLMLP_OK;
    if (st == CLMLP_OK) {
        double s = 0.0; /* summed in position order: the same total on every run */
        size_t c = 0;
        *first_nonfinite = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            s += loss[i];
            c += ok[i] != 0;
            if (!isfinite(loss[i]) && *first_nonfinite == SIZE_MAX)
                *first_nonfinite = begin + i; /* the batch where divergence showed first */
        }
        *loss_sum = s;
        *correct = c;
    }
    free(loss);
    free(ok);
    return st;
}

clmlp_status clmlp_engine_predict(clmlp_engine *e, const float *X, size_t n, float *out)
{
    return n == 0 ? CLMLP_OK : e->ops->predict(e, X, n, out);
}

clmlp_status clmlp_engine_get_params(clmlp_engine *e, clmlp_net *net)
{
    if (!same_shape(net, e->net))
        return shape_mismatch(e, net);
    return e->ops->get_params(e, net->params);
}

clmlp_status clmlp_engine_set_params(clmlp_engine *e, const clmlp_net *net)
{
    if (!same_shape(net, e->net))
        return shape_mismatch(e, net);
    forget_last_step(e);
    return e->ops->set_params(e, net->params);
}

/* Length of a buffer of layer l, or 0 for an unknown kind. */
static size_t buffer_len(const clmlp_engine *e, clmlp_buffer_kind kind, int l)
{
    const size_t *s = e->net->sizes;
    switch (kind) {
    case CLMLP_BUF_ACT:
    case CLMLP_BUF_DELTA: return e->last_count * s[l + 1];
    case CLMLP_BUF_GRAD_W:
    case CLMLP_BUF_WEIGHT: return s[l] * s[l + 1];
    case CLMLP_BUF_GRAD_B:
    case CLMLP_BUF_BIAS: return s[l + 1];
    }
    return 0;
}

clmlp_status clmlp_engine_read_buffer(clmlp_engine *e, clmlp_buffer_kind kind, int layer,
                                      float *out, size_t cap, size_t *len)
{
    if (layer < 0 || layer >= e->net->n_layers)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "no layer %d", layer);
    size_t need = buffer_len(e, kind, layer);
    *len = need;
    if (need == 0 || cap < need)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "buffer kind %d of layer %d needs %zu floats",
                                 (int)kind, layer, need);
    return e->ops->read_buffer(e, kind, layer, out);
}

/* One layer's diagnostics from its n columns of partial sums, summed in column order (the same
 * result on every run). D carries the batch mean's 1/B, so sum_b,k |D| / n is the mean over
 * samples and units of the per-sample |delta| = B |D|. The columns' norms are squared and
 * summed in double, which neither overflows nor underflows for any float norm. */
static clmlp_layer_stats reduce_layer(const float *part, size_t n, size_t B, clmlp_act act)
{
    double d = 0.0, g = 0.0, w = 0.0, sat = 0.0;
    size_t dead = 0;
    for (size_t k = 0; k < n; k++) {
        const float *p = part + k * CLMLP_STATS_FIELDS;
        d += p[0], g += (double)p[1] * p[1], w += (double)p[2] * p[2], sat += p[3];
        dead += p[3] == (float)B; /* counts are exact in float up to 2^24 >= B */
    }
    clmlp_layer_stats s = {d / (double)n, sqrt(g), sqrt(w), 0.0};
    if (act == CLMLP_ACT_SIGMOID || act == CLMLP_ACT_TANH)
        s.saturated_fraction = sat / ((double)B * (double)n);
    else if (act == CLMLP_ACT_RELU)
        s.saturated_fraction = (double)dead / (double)n;
    return s;
}

/* Fills e->stats for every layer from one call to the backend. */
static clmlp_status compute_layer_stats(clmlp_engine *e)
{
    const clmlp_net *net = e->net;
    size_t cols = 0;
    for (int l = 0; l < net->n_layers; l++)
        cols += net->sizes[l + 1];
    float *part = malloc(cols * CLMLP_STATS_FIELDS * sizeof *part);
    if (!part)
        return clmlp_engine_fail(e, CLMLP_ERR_NOMEM, "no memory for %zu layer statistics", cols);
    clmlp_status st = e->ops->layer_stats(e, part);
    size_t col = 0;
    for (int l = 0; st == CLMLP_OK && l < net->n_layers; l++) {
        e->stats[l] = reduce_layer(part + col * CLMLP_STATS_FIELDS, net->sizes[l + 1],
                                   e->last_count, net->act[l]);
        col += net->sizes[l + 1];
    }
    free(part);
    e->stats_valid = st == CLMLP_OK;
    return st;
}

clmlp_status clmlp_engine_layer_stats(clmlp_engine *e, int layer, clmlp_layer_stats *out)
{
    if (layer < 0 || layer >= e->net->n_layers)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "no layer %d", layer);
    if (!e->stats_valid) {
        /* A prediction reuses the activation buffers: the step's are gone. */
        if (e->last_count == 0)
            return clmlp_engine_fail(e, CLMLP_ERR_ARG,
                                     "layer statistics need a training step (none since the "
                                     "engine was created, last predicted or had its parameters "
                                     "replaced)");
        clmlp_status st = compute_layer_stats(e);
        if (st != CLMLP_OK)
            return st;
    }
    *out = e->stats[layer];
    return CLMLP_OK;
}
