/* dataset.c - what is done with a loaded dataset: finding MNIST files in a folder, checking
 * labels against a class count, standardising features, splitting off a validation tail, and
 * freeing. The file readers themselves are in idx.c and csv.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"

#if defined(__GNUC__)
#define DS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DS_PRINTF(a, b)
#endif

/* Columns handled per pass in clmlp_dataset_moments: the accumulators stay on the stack and
 * each pass walks the rows in memory order. */
#define DS_COL_BLOCK 64

static DS_PRINTF(3, 4) void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A name counts as present unless the system says it does not exist, so that a file that is
 * there but unreadable is reported by the reader with its real error. */
static int path_present(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return !S_ISDIR(st.st_mode);
    return errno != ENOENT && errno != ENOTDIR;
}

/* Returns a malloc'd "dir/prefix-kind-idxN-ubyte[.gz]" in spelling `which` (0..3), or NULL. */
static char *candidate(const char *dir, const char *prefix, const char *kind, int idx_dims,
                       int which)
{
    const char *sep = (which & 1) ? "." : "-"; /* train-images.idx3 vs train-images-idx3 */
    const char *gz = (which & 2) ? ".gz" : "";
    int len = snprintf(NULL, 0, "%s/%s-%s%sidx%d-ubyte%s", dir, prefix, kind, sep, idx_dims, gz);
    char *p;
    if (len < 0)
        return NULL;
    p = malloc((size_t)len + 1);
    if (p)
        snprintf(p, (size_t)len + 1, "%s/%s-%s%sidx%d-ubyte%s", dir, prefix, kind, sep, idx_dims,
                 gz);
    return p;
}

/* Finds the first existing spelling; on failure err lists every path tried. */
static clmlp_status find_file(const char *dir, const char *prefix, const char *kind,
                              int idx_dims, char **found, char *err, size_t errlen)
{
    char *tried[4] = {NULL, NULL, NULL, NULL};
    clmlp_status s = CLMLP_ERR_IO;
    *found = NULL;
    for (int i = 0; i < 4; i++) {
        tried[i] = candidate(dir, prefix, kind, idx_dims, i);
        if (!tried[i]) {
            set_err(err, errlen, "%s: out of memory", dir);
            s = CLMLP_ERR_NOMEM;
            break;
        }
        if (path_present(tried[i])) {
            *found = tried[i];
            tried[i] = NULL;
            s = CLMLP_OK;
            break;
        }
    }
    if (s == CLMLP_ERR_IO)
        set_err(err, errlen, "%s: no %s %s file; tried %s, %s, %s, %s", dir, prefix, kind,
                tried[0], tried[1], tried[2], tried[3]);
    for (int i = 0; i < 4; i++)
        free(tried[i]);
    return s;
}

clmlp_status clmlp_dataset_find_dir(const char *dir, int test_split, char **images,
                                    char **labels, char *err, size_t errlen)
{
    const char *prefix = test_split ? "t10k" : "train";
    struct stat st;
    clmlp_status s;

    if (err && errlen)
        err[0] = '\0';
    if (!images || !labels || !dir) {
        set_err(err, errlen, "clmlp_dataset_find_dir: missing %s", dir ? "output" : "folder");
        return CLMLP_ERR_ARG;
    }
    *images = *labels = NULL;
    if (stat(dir, &st) != 0) {
        set_err(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return CLMLP_ERR_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "%s: not a folder (expected one holding %s-images-idx3-ubyte[.gz]"
                " and %s-labels-idx1-ubyte[.gz])", dir, prefix, prefix);
        return CLMLP_ERR_IO;
    }
    s = find_file(dir, prefix, "images", 3, images, err, errlen);
    if (s == CLMLP_OK)
        s = find_file(dir, prefix, "labels", 1, labels, err, errlen);
    if (s != CLMLP_OK) {
        free(*images);
        *images = NULL;
    }
    return s;
}

clmlp_status clmlp_dataset_load_dir(const char *dir, int test_split, clmlp_dataset *out,
                                    char *err, size_t errlen)
{
    char *images = NULL, *labels = NULL;
    clmlp_status s;

    if (err && errlen)
        err[0] = '\0';
    if (!out || !dir) {
        set_err(err, errlen, "clmlp_dataset_load_dir: missing %s", out ? "folder" : "output");
        return CLMLP_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    s = clmlp_dataset_find_dir(dir, test_split, &images, &labels, err, errlen);
    if (s == CLMLP_OK)
        s = clmlp_idx_load(images, labels, out, err, errlen);
    free(images);
    free(labels);
    return s;
}

clmlp_status clmlp_dataset_check_labels(const clmlp_dataset *d, int n_classes, const char *path,
                                        char *err, size_t errlen)
{
    size_t bad = 0, first = 0;
    if (!d || n_classes <= 0 || (d->n > 0 && !d->labels)) {
        set_err(err, errlen, "%s%sclmlp_dataset_check_labels: bad arguments (n_classes %d)",
                path ? path : "", path ? ": " : "", n_classes);
        return CLMLP_ERR_ARG;
    }
    for (size_t i = d->n; i-- > 0;) {
        if (d->labels[i] < 0 || d->labels[i] >= n_classes) {
            bad++;
            first = i;
        }
    }
    if (bad == 0)
        return CLMLP_OK;
    set_err(err, errlen, "%s%slabel %ld at index %zu is outside [0, %d] (%zu label%s out of range;"
            " labels must be 0..%d)", path ? path : "", path ? ": " : "",
            (long)d->labels[first], first, n_classes - 1, bad, bad == 1 ? "" : "s",
            n_classes - 1);
    return CLMLP_ERR_FORMAT;
}

void clmlp_dataset_standardize(clmlp_dataset *d, const float *mean, const float *std)
{
    if (!d || !d->X || !mean || !std)
        return;
    for (size_t i = 0; i < d->n; i++) {
        float *row = d->X + i * d->dim;
        for (size_t j = 0; j < d->dim; j++) {
            /* a constant feature (std 0) is only centred; dividing would give NaN or Inf */
            float s = std[j] > 0.0f ? std[j] : 1.0f;
            row[j] = (row[j] - mean[j]) / s;
        }
    }
}

/* Mean and population std of columns [c0, c0+w) in two passes, accumulated in double so that
 * 60000 samples do not lose the small variances of border pixels. */
static void moments_block(const clmlp_dataset *d, size_t c0, size_t w, float *mean, float *std)
{
    double sum[DS_COL_BLOCK] = {0}, sq[DS_COL_BLOCK] = {0}, m[DS_COL_BLOCK];
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < w; j++)
            sum[j] += d->X[i * d->dim + c0 + j];
    for (size_t j = 0; j < w; j++)
        m[j] = sum[j] / (double)d->n;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < w; j++) {
            double dev = d->X[i * d->dim + c0 + j] - m[j];
            sq[j] += dev * dev;
        }
    for (size_t j = 0; j < w; j++) {
        mean[c0 + j] = (float)m[j];
        std[c0 + j] = (float)sqrt(sq[j] / (double)d->n);
    }
}

void clmlp_dataset_moments(const clmlp_dataset *d, float *mean, float *std)
{
    if (!d || !mean || !std)
        return;
    if (d->n == 0 || !d->X) {
        for (size_t j = 0; d && j < d->dim; j++) {
            mean[j] = 0.0f;
            std[j] = 0.0f;
        }
        return;
    }
    for (size_t c0 = 0; c0 < d->dim; c0 += DS_COL_BLOCK) {
        size_t w = d->dim - c0 < DS_COL_BLOCK ? d->dim - c0 : DS_COL_BLOCK;
        moments_block(d, c0, w, mean, std);
    }
}

/* Gives back the memory of the rows split off; a failed shrink just keeps the larger block. */
static void shrink(clmlp_dataset *d, size_t keep)
{
    float *X;
    int32_t *labels;
    d->n = keep;
    if (keep == 0) {
        free(d->X);
        free(d->labels);
        d->X = NULL;
        d->labels = NULL;
        return;
    }
    X = d->dim ? realloc(d->X, keep * d->dim * sizeof *X) : NULL; /* realloc(p, 0) is murky */
    if (X)
        d->X = X;
    labels = realloc(d->labels, keep * sizeof *labels);
    if (labels)
        d->labels = labels;
}

clmlp_status clmlp_dataset_split_tail(clmlp_dataset *d, size_t count, clmlp_dataset *val)
{
    size_t keep;
    if (!d || !val || count > d->n || (count > 0 && (!d->X || !d->labels)))
        return CLMLP_ERR_ARG;
    memset(val, 0, sizeof *val);
    keep = d->n - count;
    val->dim = d->dim;
    val->rows = d->rows;
    val->cols = d->cols;
    val->n_classes = d->n_classes;
    if (count == 0)
        return CLMLP_OK;
    /* n*dim*sizeof(float) was allocated by the reader, so count*dim*sizeof(float) fits */
    val->X = malloc(count * d->dim * sizeof *val->X);
    val->labels = malloc(count * sizeof *val->labels);
    if (!val->X || !val->labels) {
        clmlp_dataset_free(val);
        return CLMLP_ERR_NOMEM;
    }
    memcpy(val->X, d->X + keep * d->dim, count * d->dim * sizeof *val->X);
    memcpy(val->labels, d->labels + keep, count * sizeof *val->labels);
    val->n = count;
    shrink(d, keep);
    return CLMLP_OK;
}

void clmlp_dataset_free(clmlp_dataset *d)
{
    if (!d)
        return;
    free(d->X);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
