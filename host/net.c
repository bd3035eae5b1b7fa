/* net.c - a network's shape, its parameter layout in one padded array, and its seeded
 * initialisation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmlp.h"
#include "rng.h"

/* Rounds n up to a multiple of CLMLP_PARAM_ALIGN; returns 0 on overflow. */
static int align_up(size_t n, size_t *out)
{
    size_t a = CLMLP_PARAM_ALIGN;
    if (n > SIZE_MAX - (a - 1))
        return 0;
    *out = (n + a - 1) / a * a;
    return 1;
}

/* Adds a tensor of `count` floats at the end of the layout; 0 on overflow. */
static int layout_push(size_t *end, size_t count, size_t *offset)
{
    size_t padded;
    if (!align_up(count, &padded) || *end > SIZE_MAX / sizeof(float) - padded)
        return 0;
    *offset = *end;
    *end += padded;
    return 1;
}

static int check_shape(int n_layers, const size_t *sizes, const clmlp_act *act, clmlp_loss loss,
                       char *err, size_t errlen)
{
    if (n_layers < 1 || n_layers > CLMLP_MAX_LAYERS) {
        snprintf(err, errlen, "a network needs 1 to %d weight layers, got %d", CLMLP_MAX_LAYERS,
                 n_layers);
        return 0;
    }
    for (int l = 0; l <= n_layers; l++)
        if (sizes[l] == 0 || sizes[l] > (1u << 30)) {
            snprintf(err, errlen, "layer %d has %zu units; each layer needs 1 to 2^30 units", l,
                     sizes[l]);
            return 0;
        }
    for (int l = 0; l < n_layers; l++) {
        if ((unsigned)act[l] > CLMLP_ACT_SOFTMAX) {
            snprintf(err, errlen, "layer %d: unknown activation %d", l + 1, (int)act[l]);
            return 0;
        }
        if (act[l] == CLMLP_ACT_SOFTMAX && (l != n_layers - 1 || loss != CLMLP_LOSS_CE)) {
            snprintf(err, errlen, "softmax is only supported on the output layer with --loss ce");
            return 0;
        }
    }
    if (loss == CLMLP_LOSS_CE && act[n_layers - 1] != CLMLP_ACT_SOFTMAX) {
        snprintf(err, errlen, "cross-entropy loss needs a softmax output layer");
        return 0;
    }
    if (loss == CLMLP_LOSS_CE && sizes[n_layers] < 2) {
        /* softmax over one unit is 1 whatever its input: zero gradient, nothing learned */
        snprintf(err, errlen, "cross-entropy needs at least 2 output units (a softmax over one "
                              "unit is always 1, so nothing would be learned); for one output "
                              "use --loss mse");
        return 0;
    }
    return 1;
}

clmlp_status clmlp_net_create(clmlp_net **out, int n_layers, const size_t *sizes,
                              const clmlp_act *act, clmlp_loss loss, char *err, size_t errlen)
{
    char scratch[8];
    if (!err) {
        err = scratch;
        errlen = sizeof scratch;
    }
    *out = NULL;
    if (!check_shape(n_layers, sizes, act, loss, err, errlen))
        return CLMLP_ERR_ARG;
    clmlp_net *net = calloc(1, sizeof *net);
    if (!net)
        return CLMLP_ERR_NOMEM;
    net->n_layers = n_layers;
    net->loss = loss;
    memcpy(net->sizes, sizes, (size_t)(n_layers + 1) * sizeof *sizes);
    memcpy(net->act, act, (size_t)n_layers * sizeof *act);
    size_t end = 0;
    for (int l = 0; l < n_layers; l++) {
        size_t nw = sizes[l] * sizes[l + 1]; /* both <= 2^30: no overflow in 64-bit size_t */
        if (!layout_push(&end, nw, &net->w_off[l]) ||
            !layout_push(&end, sizes[l + 1], &net->b_off[l])) {
            snprintf(err, errlen, "the network's parameters overflow the address space");
            free(net);
            return CLMLP_ERR_NOMEM;
        }
        net->n_params += nw + sizes[l + 1];
    }
    net->n_params_padded = end;
    net->params = calloc(end, sizeof(float));
    if (!net->params) {
        snprintf(err, errlen, "cannot allocate %zu bytes of parameters", end * sizeof(float));
        free(net);
        return CLMLP_ERR_NOMEM;
    }
    *out = net;
    return CLMLP_OK;
}

size_t clmlp_net_param_bytes(int n_layers, const size_t *sizes)
{
    size_t end = 0, off;
    for (int l = 0; l < n_layers; l++) {
        if (sizes[l] && sizes[l + 1] > SIZE_MAX / sizes[l])
            return 0;
        if (!layout_push(&end, sizes[l] * sizes[l + 1], &off) ||
            !layout_push(&end, sizes[l + 1], &off))
            return 0;
    }
    return end * sizeof(float);
}

/* Half-width of the uniform range each scheme draws weights from. */
static double init_limit(clmlp_init scheme, size_t fan_in, size_t fan_out)
{
    switch (scheme) {
    case CLMLP_INIT_XAVIER: return sqrt(6.0 / (double)(fan_in + fan_out)); /* Glorot uniform */
    case CLMLP_INIT_HE: return sqrt(6.0 / (double)fan_in);                 /* He uniform */
    case CLMLP_INIT_UNIFORM: break;
    }
    return 1.0 / sqrt((double)fan_in); /* the classic U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
}

void clmlp_net_init(clmlp_net *net, clmlp_init scheme, uint64_t seed)
{
    clmlp_rng rng;
    clmlp_rng_seed(&rng, seed);
    memset(net->params, 0, net->n_params_padded * sizeof(float));
    for (int l = 0; l < net->n_layers; l++) {
        double lim = init_limit(scheme, net->sizes[l], net->sizes[l + 1]);
        float *W = clmlp_net_W(net, l);
        size_t nw = net->sizes[l] * net->sizes[l + 1];
        for (size_t i = 0; i < nw; i++)
            W[i] = (float)((2.0 * clmlp_rng_uniform(&rng) - 1.0) * lim);
    }
}

clmlp_status clmlp_net_clone(clmlp_net **out, const clmlp_net *src)
{
    clmlp_status st = clmlp_net_create(out, src->n_layers, src->sizes, src->act, src->loss, NULL, 0);
    if (st == CLMLP_OK)
        memcpy((*out)->params, src->params, src->n_params_padded * sizeof(float));
    return st;
}

void clmlp_net_free(clmlp_net *net)
{
    if (!net)
        return;
    free(net->params);
    free(net);
}

size_t clmlp_net_max_width(const clmlp_net *net)
{
    size_t m = 0;
    for (int l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] > m)
            m = net->sizes[l];
    return m;
}

clmlp_hyper clmlp_hyper_default(void)
{
    clmlp_hyper h = {CLMLP_OPT_SGD, 0.1f, 0.9f, 0.9f, 0.999f, 1e-8f, 0.0f};
    return h;
}

const char *clmlp_hyper_check(const clmlp_hyper *h, char *buf, size_t len)
{
    /* Written so that NaN fails every test. */
    const struct {
        const char *name, *range;
        float v;
        int ok;
    } s[] = {
        {"learning rate", "must be finite and > 0", h->lr, h->lr > 0.0f && isfinite(h->lr)},
        {"momentum", "is outside [0, 1)", h->momentum, h->momentum >= 0.0f && h->momentum < 1.0f},
        {"beta1", "is outside [0, 1)", h->beta1, h->beta1 >= 0.0f && h->beta1 < 1.0f},
        {"beta2", "is outside [0, 1)", h->beta2, h->beta2 >= 0.0f && h->beta2 < 1.0f},
        {"eps", "must be finite and > 0", h->eps, h->eps > 0.0f && isfinite(h->eps)},
        {"l2", "must be finite and >= 0", h->l2, h->l2 >= 0.0f && isfinite(h->l2)},
    };
    if ((unsigned)h->optimizer > CLMLP_OPT_ADAM) {
        snprintf(buf, len, "optimizer code %u is not 0 (sgd), 1 (momentum) or 2 (adam)",
                 (unsigned)h->optimizer);
        return buf;
    }
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        if (!s[i].ok) {
            snprintf(buf, len, "%s %g %s", s[i].name, (double)s[i].v, s[i].range);
            return buf;
        }
    return NULL;
}
