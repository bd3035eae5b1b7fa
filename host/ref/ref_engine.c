/* ref_engine.c - the CPU reference backend: the training step of host/clmlp.h written with the
 * ref_* twins of the kernels, in the same order the OpenCL backend enqueues them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ref_kernels.h"

typedef struct ref_state {
    float *X_all;
    int32_t *labels_all;
    uint32_t *order;
    float *loss;        /* per epoch position */
    int32_t *correct;   /* per epoch position */
    float *X;           /* the gathered batch, max_batch x sizes[0] */
    int32_t *labels;
    float *A[CLMLP_MAX_LAYERS], *D[CLMLP_MAX_LAYERS]; /* max_batch x sizes[l+1] */
    float *grad, *opt_m, *opt_v; /* padded like net->params */
} ref_state;

static ref_state *state(clmlp_engine *e) { return e->impl; }

static void ref_destroy(clmlp_engine *e)
{
    ref_state *s = state(e);
    if (!s)
        return;
    free(s->X_all);
    free(s->labels_all);
    free(s->order);
    free(s->loss);
    free(s->correct);
    free(s->X);
    free(s->labels);
    for (int l = 0; l < CLMLP_MAX_LAYERS; l++) {
        free(s->A[l]);
        free(s->D[l]);
    }
    free(s->grad);
    free(s->opt_m);
    free(s->opt_v);
    free(s);
    e->impl = NULL;
}

/* calloc of a*b floats (or ints: same size) with the product checked. */
static void *alloc_floats(size_t a, size_t b)
{
    if (b && a > SIZE_MAX / sizeof(float) / b)
        return NULL;
    size_t n = a * b;
    return calloc(n ? n : 1, sizeof(float));
}

static clmlp_status ref_set_data(clmlp_engine *e, const float *X, const int32_t *labels, size_t n,
                                 size_t dim)
{
    ref_state *s = state(e);
    float *x = alloc_floats(n, dim), *loss = alloc_floats(n, 1);
    int32_t *y = alloc_floats(n, 1), *ok = alloc_floats(n, 1);
    uint32_t *order = alloc_floats(n, 1);
    if (!x || !y || !loss || !ok || !order) {
        free(x), free(y), free(loss), free(ok), free(order);
        return clmlp_engine_fail(e, CLMLP_ERR_NOMEM, "cannot allocate %zu x %zu samples", n, dim);
    }
    memcpy(x, X, n * dim * sizeof *x);
    memcpy(y, labels, n * sizeof *y);
    free(s->X_all), free(s->labels_all), free(s->loss), free(s->correct), free(s->order);
    s->X_all = x, s->labels_all = y, s->loss = loss, s->correct = ok, s->order = order;
    return CLMLP_OK;
}

static clmlp_status ref_set_order(clmlp_engine *e, const uint32_t *order, size_t n)
{
    memcpy(state(e)->order, order, n * sizeof *order);
    return CLMLP_OK;
}

/* Forward through every layer from the input rows X (count x sizes[0]). */
static void forward_all(clmlp_engine *e, const float *X, size_t count)
{
    ref_state *s = state(e);
    const clmlp_net *net = e->net;
    for (int l = 0; l < net->n_layers; l++)
        ref_forward_layer(l ? s->A[l - 1] : X, clmlp_net_cW(net, l), clmlp_net_cb(net, l), s->A[l],
                          count, net->sizes[l], net->sizes[l + 1], net->act[l]);
}

/* Output delta, hidden deltas back to layer 0, then every gradient: weights are not touched
 * until all deltas are known (shared/cases C04). */
static void backward_all(clmlp_engine *e, size_t first, size_t count)
{
    ref_state *s = state(e);
    const clmlp_net *net = e->net;
    int L = net->n_layers;
    if (net->loss == CLMLP_LOSS_CE)
        ref_output_delta_ce(s->A[L - 1], s->labels, s->D[L - 1], s->loss, s->correct, count,
                            net->sizes[L], first);
    else
        ref_output_delta_mse(s->A[L - 1], s->labels, s->D[L - 1], s->loss, s->correct, count,
                             net->sizes[L], net->act[L - 1], first);
    for (int l = L - 1; l >= 1; l--)
        ref_hidden_delta(s->D[l], clmlp_net_cW(net, l), s->A[l - 1], s->D[l - 1], count,
                         net->sizes[l], net->sizes[l + 1], net->act[l - 1]);
    for (int l = 0; l < L; l++)
        ref_weight_grad(l ? s->A[l - 1] : s->X, s->D[l], s->grad + net->w_off[l],
                        s->grad + net->b_off[l], count, net->sizes[l], net->sizes[l + 1]);
}

/* Applies the optimizer to one tensor at offset off of n floats. */
static void update_tensor(clmlp_engine *e, size_t off, size_t n, float l2)
{
    ref_state *s = state(e);
    const clmlp_hyper *h = &e->hyper;
    float *p = e->net->params + off, *g = s->grad + off;
    if (h->optimizer == CLMLP_OPT_SGD) {
        ref_sgd_update(p, g, n, h->lr, l2);
    } else if (h->optimizer == CLMLP_OPT_MOMENTUM) {
        ref_momentum_update(p, s->opt_m + off, g, n, h->lr, h->momentum, l2);
    } else {
        float lr_t, eps_t;
        clmlp_adam_coeffs(h, e->step, &lr_t, &eps_t);
        ref_adam_update(p, s->opt_m + off, s->opt_v + off, g, n, lr_t, h->beta1, h->beta2, eps_t,
                        l2);
    }
}

static clmlp_status ref_train_batch(clmlp_engine *e, size_t first, size_t count)
{
    ref_state *s = state(e);
    const clmlp_net *net = e->net;
    ref_gather_batch(s->X_all, s->labels_all, s->order, first, count, net->sizes[0], s->X,
                     s->labels);
    forward_all(e, s->X, count);
    backward_all(e, first, count);
    for (int l = 0; l < net->n_layers; l++) {
        update_tensor(e, net->w_off[l], net->sizes[l] * net->sizes[l + 1], e->hyper.l2);
        update_tensor(e, net->b_off[l], net->sizes[l + 1], 0.0f); /* no decay on biases */
    }
    return CLMLP_OK;
}

static clmlp_status ref_read_stats(clmlp_engine *e, size_t begin, size_t n, float *loss,
                                   int32_t *correct)
{
    memcpy(loss, state(e)->loss + begin, n * sizeof *loss);
    memcpy(correct, state(e)->correct + begin, n * sizeof *correct);
    return CLMLP_OK;
}

static clmlp_status ref_get_opt_state(clmlp_engine *e, float *m, float *v)
{
    memcpy(m, state(e)->opt_m, e->net->n_params_padded * sizeof *m);
    memcpy(v, state(e)->opt_v, e->net->n_params_padded * sizeof *v);
    return CLMLP_OK;
}

static clmlp_status ref_set_opt_state(clmlp_engine *e, const float *m, const float *v)
{
    memcpy(state(e)->opt_m, m, e->net->n_params_padded * sizeof *m);
    memcpy(state(e)->opt_v, v, e->net->n_params_padded * sizeof *v);
    return CLMLP_OK;
}

static clmlp_status ref_predict(clmlp_engine *e, const float *X, size_t n, float *out)
{
    ref_state *s = state(e);
    const clmlp_net *net = e->net;
    int L = net->n_layers;
    size_t n_out = net->sizes[L];
    for (size_t first = 0; first < n; first += e->max_batch) {
        size_t count = n - first < e->max_batch ? n - first : e->max_batch;
        forward_all(e, X + first * net->sizes[0], count);
        float *dst = out + first * n_out;
        if (net->act[L - 1] == CLMLP_ACT_SOFTMAX)
            ref_softmax_rows(s->A[L - 1], dst, count, n_out);
        else
            memcpy(dst, s->A[L - 1], count * n_out * sizeof *dst);
    }
    e->last_count = 0; /* the activations now belong to a prediction, not a training step */
    return CLMLP_OK;
}

static clmlp_status ref_get_params(clmlp_engine *e, float *params)
{
    memcpy(params, e->net->params, e->net->n_params_padded * sizeof *params);
    return CLMLP_OK;
}

static clmlp_status ref_set_params(clmlp_engine *e, const float *params)
{
    memcpy(e->net->params, params, e->net->n_params_padded * sizeof *params);
    return CLMLP_OK;
}

static clmlp_status ref_read_buffer(clmlp_engine *e, clmlp_buffer_kind kind, int l, float *out)
{
    ref_state *s = state(e);
    const clmlp_net *net = e->net;
    size_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
    switch (kind) {
    case CLMLP_BUF_ACT: memcpy(out, s->A[l], e->last_count * n_out * sizeof *out); break;
    case CLMLP_BUF_DELTA: memcpy(out, s->D[l], e->last_count * n_out * sizeof *out); break;
    case CLMLP_BUF_GRAD_W: memcpy(out, s->grad + net->w_off[l], n_in * n_out * sizeof *out); break;
    case CLMLP_BUF_GRAD_B: memcpy(out, s->grad + net->b_off[l], n_out * sizeof *out); break;
    case CLMLP_BUF_WEIGHT: memcpy(out, clmlp_net_cW(net, l), n_in * n_out * sizeof *out); break;
    case CLMLP_BUF_BIAS: memcpy(out, clmlp_net_cb(net, l), n_out * sizeof *out); break;
    }
    return CLMLP_OK;
}

_Static_assert(REF_STATS_FIELDS == CLMLP_STATS_FIELDS, "layer_stats layout differs");

/* The twin of the layer_stats kernel on every layer's buffers of the last step. */
static clmlp_status ref_diagnostics(clmlp_engine *e, float *part)
{
    ref_state *s = state(e);
    const clmlp_net *net = e->net;
    size_t col = 0;
    for (int l = 0; l < net->n_layers; l++) {
        ref_layer_stats(s->A[l], s->D[l], s->grad + net->w_off[l], clmlp_net_cW(net, l), part,
                        e->last_count, net->sizes[l], net->sizes[l + 1], net->act[l], col);
        col += net->sizes[l + 1];
    }
    return CLMLP_OK;
}

/* Every step ran when it was called: nothing is queued. */
static clmlp_status ref_finish(clmlp_engine *e)
{
    (void)e;
    return CLMLP_OK;
}

static const struct clmlp_engine_ops ref_ops = {
    .set_data = ref_set_data,
    .set_order = ref_set_order,
    .train_batch = ref_train_batch,
    .read_stats = ref_read_stats,
    .predict = ref_predict,
    .get_params = ref_get_params,
    .set_params = ref_set_params,
    .read_buffer = ref_read_buffer,
    .get_opt_state = ref_get_opt_state,
    .set_opt_state = ref_set_opt_state,
    .layer_stats = ref_diagnostics,
    .finish = ref_finish,
    .destroy = ref_destroy,
};

clmlp_status clmlp_ref_engine_init(clmlp_engine *e, char *err, size_t errlen)
{
    ref_state *s = calloc(1, sizeof *s);
    if (!s)
        return CLMLP_ERR_NOMEM;
    e->impl = s;
    e->ops = &ref_ops;
    const clmlp_net *net = e->net;
    int ok = (s->X = alloc_floats(e->max_batch, net->sizes[0])) &&
             (s->labels = alloc_floats(e->max_batch, 1)) &&
             (s->grad = alloc_floats(net->n_params_padded, 1)) &&
             (s->opt_m = alloc_floats(net->n_params_padded, 1)) &&
             (s->opt_v = alloc_floats(net->n_params_padded, 1));
    for (int l = 0; ok && l < net->n_layers; l++)
        ok = (s->A[l] = alloc_floats(e->max_batch, net->sizes[l + 1])) &&
             (s->D[l] = alloc_floats(e->max_batch, net->sizes[l + 1]));
    if (!ok) {
        snprintf(err, errlen, "cannot allocate the reference engine's buffers (batch %zu)",
                 e->max_batch);
        return CLMLP_ERR_NOMEM; /* clmlp_engine_create calls ref_destroy */
    }
    snprintf(e->device_name, sizeof e->device_name, "cpu-reference");
    return CLMLP_OK;
}
