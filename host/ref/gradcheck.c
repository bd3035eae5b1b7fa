/* gradcheck.c - backprop in double through the refd_* twins, and the central-difference check
 * of it. The analytic path is the same phases as the engines (output delta, hidden deltas,
 * A^T D, colsum D), so a transposed index or a wrong sign there fails this check. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "ref_kernels.h"

typedef struct dbufs {
    double *X, *A[CLMLP_MAX_LAYERS], *D[CLMLP_MAX_LAYERS], *loss;
    int32_t *correct;
} dbufs;

static void free_bufs(dbufs *b, int L)
{
    free(b->X), free(b->loss), free(b->correct);
    for (int l = 0; l < L; l++)
        free(b->A[l]), free(b->D[l]);
}

static int alloc_bufs(dbufs *b, const clmlp_net *net, const float *X, size_t B)
{
    memset(b, 0, sizeof *b);
    int ok = (b->X = malloc(B * net->sizes[0] * sizeof(double))) &&
             (b->loss = malloc(B * sizeof(double))) && (b->correct = malloc(B * sizeof(int32_t)));
    for (int l = 0; ok && l < net->n_layers; l++)
        ok = (b->A[l] = malloc(B * net->sizes[l + 1] * sizeof(double))) &&
             (b->D[l] = malloc(B * net->sizes[l + 1] * sizeof(double)));
    if (ok)
        for (size_t i = 0; i < B * net->sizes[0]; i++)
            b->X[i] = X[i];
    return ok;
}

/* Forward and output delta; returns the mean loss. */
static double forward_loss(const clmlp_net *net, const double *p, dbufs *b, const int32_t *labels,
                           size_t B)
{
    int L = net->n_layers;
    for (int l = 0; l < L; l++)
        refd_forward_layer(l ? b->A[l - 1] : b->X, p + net->w_off[l], p + net->b_off[l], b->A[l], B,
                           net->sizes[l], net->sizes[l + 1], net->act[l]);
    if (net->loss == CLMLP_LOSS_CE)
        refd_output_delta_ce(b->A[L - 1], labels, b->D[L - 1], b->loss, b->correct, B,
                             net->sizes[L], 0);
    else
        refd_output_delta_mse(b->A[L - 1], labels, b->D[L - 1], b->loss, b->correct, B,
                              net->sizes[L], net->act[L - 1], 0);
    double s = 0;
    for (size_t i = 0; i < B; i++)
        s += b->loss[i];
    return s / (double)B;
}

static double backprop(const clmlp_net *net, const double *p, dbufs *b, const int32_t *labels,
                       size_t B, double *grad)
{
    double loss = forward_loss(net, p, b, labels, B);
    for (int l = net->n_layers - 1; l >= 1; l--)
        refd_hidden_delta(b->D[l], p + net->w_off[l], b->A[l - 1], b->D[l - 1], B, net->sizes[l],
                          net->sizes[l + 1], net->act[l - 1]);
    memset(grad, 0, net->n_params_padded * sizeof *grad);
    for (int l = 0; l < net->n_layers; l++)
        refd_weight_grad(l ? b->A[l - 1] : b->X, b->D[l], grad + net->w_off[l],
                         grad + net->b_off[l], B, net->sizes[l], net->sizes[l + 1]);
    return loss;
}

double clmlp_backprop_double(const clmlp_net *net, const double *params, const float *X,
                             const int32_t *labels, size_t B, double *grad)
{
    dbufs b;
    double loss = NAN;
    if (alloc_bufs(&b, net, X, B))
        loss = backprop(net, params, &b, labels, B, grad);
    free_bufs(&b, net->n_layers);
    return loss;
}

/* Visits every real (unpadded) parameter index in the order W_0, b_0, W_1, ... */
static size_t param_at(const clmlp_net *net, size_t k)
{
    for (int l = 0; l < net->n_layers; l++) {
        size_t nw = net->sizes[l] * net->sizes[l + 1], nb = net->sizes[l + 1];
        if (k < nw)
            return net->w_off[l] + k;
        k -= nw;
        if (k < nb)
            return net->b_off[l] + k;
        k -= nb;
    }
    return 0;
}

clmlp_status clmlp_gradcheck(const clmlp_net *net, const float *X, const int32_t *labels, size_t B,
                             double h, clmlp_gradcheck_result *out)
{
    size_t n = net->n_params_padded;
    double *p = malloc(n * sizeof *p), *grad = malloc(n * sizeof *grad);
    dbufs b;
    int ok = p && grad && alloc_bufs(&b, net, X, B);
    if (!ok) {
        free(p), free(grad);
        if (p && grad)
            free_bufs(&b, net->n_layers);
        return CLMLP_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = net->params[i];
    memset(out, 0, sizeof *out);
    out->loss = backprop(net, p, &b, labels, B, grad);
    for (size_t k = 0; k < net->n_params; k++) {
        size_t i = param_at(net, k);
        double saved = p[i];
        p[i] = saved + h;
        double up = forward_loss(net, p, &b, labels, B);
        p[i] = saved - h;
        double down = forward_loss(net, p, &b, labels, B);
        p[i] = saved;
        double numeric = (up - down) / (2 * h), analytic = grad[i];
        /* The floor keeps parameters whose gradient is ~0 from dividing rounding noise by
         * nothing; it is far below any gradient that matters here. */
        double rel = fabs(analytic - numeric) / fmax(fabs(analytic) + fabs(numeric), 1e-6);
        if (rel > out->max_rel_err) {
            out->max_rel_err = rel;
            out->worst_index = k;
        }
        out->grad_norm += analytic * analytic;
    }
    out->grad_norm = sqrt(out->grad_norm);
    free_bufs(&b, net->n_layers);
    free(p), free(grad);
    return CLMLP_OK;
}
