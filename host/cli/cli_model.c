/* cli_model.c - loading a saved model and running it on data, for eval and predict. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_model.h"

int cli_model_load(const char *cmd, const char *path, cli_model *m)
{
    char err[1024];
    memset(m, 0, sizeof *m);
    if (clmlp_model_load(path, &m->net, &m->meta, err, sizeof err) != CLMLP_OK) {
        cli_err(cmd, "%s", err);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

void cli_model_free(cli_model *m)
{
    clmlp_net_free(m->net);
    clmlp_model_meta_free(&m->meta);
    m->net = NULL;
}

int cli_model_classes(const cli_model *m)
{
    size_t k = m->net->sizes[m->net->n_layers];
    return k > INT_MAX ? INT_MAX : (int)k;
}

/* One column more than the model takes is most likely a label the user did not mention. */
static void width_error(const char *cmd, const char *path, const clmlp_dataset *d, size_t in,
                        int labelled)
{
    int label_hint = !labelled && d->rows == 0 && d->dim == in + 1;
    cli_err(cmd, "%s: %zu features per sample but the model's input layer has %zu%s", path,
            d->dim, in, label_hint ? " (use --label-column N if the file holds labels)" : "");
}

int cli_model_prepare_data(const char *cmd, const cli_model *m, const char *path,
                           clmlp_dataset *d, int labelled)
{
    char err[1024];
    size_t in = m->net->sizes[0];
    if (d->dim != in) {
        width_error(cmd, path, d, in, labelled);
        return CLI_EXIT_FAIL;
    }
    /* The loaders already checked the labels against the model where they could; this is the
     * guarantee for whatever path the data took. */
    if (labelled && clmlp_dataset_check_labels(d, cli_model_classes(m), path, err, sizeof err) !=
                        CLMLP_OK) {
        cli_err(cmd, "%s (the model has %d outputs)", err, cli_model_classes(m));
        return CLI_EXIT_FAIL;
    }
    if (m->meta.norm_dim)
        clmlp_dataset_standardize(d, m->meta.norm_mean, m->meta.norm_std);
    return CLI_EXIT_OK;
}

/* The first sample with an output that is NaN or Inf, or SIZE_MAX. */
static size_t first_nonfinite_sample(const float *P, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            if (!isfinite(P[i * k + j]))
                return i;
    return SIZE_MAX;
}

static double largest_magnitude(const float *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i]));
    return m;
}

/* Refuses outputs that are not all finite, naming the first such sample of `path`. */
static int check_outputs(const char *cmd, const char *path, const clmlp_dataset *d, const float *P,
                         size_t k)
{
    size_t bad = first_nonfinite_sample(P, d->n, k);
    if (bad == SIZE_MAX)
        return CLI_EXIT_OK;
    double largest = largest_magnitude(d->X + bad * d->dim, d->dim);
    if (isinf(largest)) /* a value far outside the training data, over a tiny spread */
        cli_err(cmd, "%s: sample %zu gives NaN or Inf outputs: the model's standardisation "
                "makes one of its inputs infinite (far outside the training data's range)",
                path, bad + 1);
    else
        cli_err(cmd, "%s: sample %zu gives NaN or Inf outputs: its inputs (largest |x| %.3g, "
                "after the model's standardisation if any) overflow the network's float32 sums",
                path, bad + 1, largest);
    return CLI_EXIT_FAIL;
}

int cli_model_predict(const char *cmd, const cli_model *m, const char *device, const char *path,
                      const clmlp_dataset *d, FILE *announce, float **P)
{
    size_t k = m->net->sizes[m->net->n_layers];
    size_t batch = d->n < 1024 ? (d->n ? d->n : 1) : 1024; /* predict works in chunks of this */
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_engine *e = NULL;
    *P = NULL;
    if (d->n > SIZE_MAX / sizeof(float) / k) {
        cli_err(cmd, "too many samples");
        return CLI_EXIT_FAIL;
    }
    int rc = cli_engine(cmd, device, m->net, &h, batch, &e);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (announce)
        fprintf(announce, "device: %s\n", clmlp_engine_device_name(e));
    *P = malloc((d->n ? d->n : 1) * k * sizeof **P);
    clmlp_status st = *P ? clmlp_engine_predict(e, d->X, d->n, *P) : CLMLP_ERR_NOMEM;
    if (st != CLMLP_OK) {
        cli_err(cmd, "prediction failed: %s",
                *P ? clmlp_engine_error(e) : "out of memory for the outputs");
        free(*P);
        *P = NULL;
        rc = CLI_EXIT_FAIL;
    } else if (check_outputs(cmd, path, d, *P, k) != CLI_EXIT_OK) {
        free(*P);
        *P = NULL;
        rc = CLI_EXIT_FAIL;
    }
    clmlp_engine_free(e);
    return rc;
}

size_t cli_argmax(const float *p, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (p[j] > p[best])
            best = j;
    return best;
}
