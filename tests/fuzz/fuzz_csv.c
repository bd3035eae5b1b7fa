/* fuzz_csv.c - libFuzzer target for the CSV reader (clmlp_csv_load).
 *
 * Input layout (tests/fuzz/make_seeds.c writes seeds in it):
 *   byte 0   options: bits 0-1 label_column (0..2; 3: -1, no label column); bits 2-3 header
 *            (0: detect, 1: none, 2: yes, 3: detect); bits 4-7 n_classes (0: any, else 1..15)
 *   bytes 1..  the file's contents
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "data/dataset.h"
#include "fuzz_common.h"

static void csv_check_loaded(const clmlp_dataset *d, const clmlp_csv_options *opt)
{
    FUZZ_CHECK(d->n > 0 && d->dim > 0 && d->X, "csv: success with no samples");
    FUZZ_CHECK(d->rows == 0 && d->cols == 0, "csv: image shape %zux%zu", d->rows, d->cols);
    for (size_t i = 0; i < d->n * d->dim; i++)
        FUZZ_CHECK(isfinite(d->X[i]), "csv: non-finite feature %zu", i);
    if (opt->label_column < 0) {
        FUZZ_CHECK(!d->labels && d->n_classes == 0, "csv: labels without a label column");
        return;
    }
    FUZZ_CHECK(d->labels != NULL, "csv: no labels from a label column");
    FUZZ_CHECK(d->n_classes >= 1 && d->n_classes <= CLMLP_MAX_LABEL + 1, "csv: n_classes %d",
               d->n_classes);
    if (opt->n_classes > 0)
        FUZZ_CHECK(d->n_classes <= opt->n_classes, "csv: n_classes %d above the option's %d",
                   d->n_classes, opt->n_classes);
    int32_t max = 0;
    for (size_t i = 0; i < d->n; i++) {
        FUZZ_CHECK(d->labels[i] >= 0 && d->labels[i] < d->n_classes,
                   "csv: label %d at %zu outside [0, %d)", (int)d->labels[i], i, d->n_classes);
        if (d->labels[i] > max)
            max = d->labels[i];
    }
    FUZZ_CHECK(max + 1 == d->n_classes, "csv: n_classes %d but largest label %d", d->n_classes,
               (int)max);
}

/* One input; returns the loader's status for the regression test, which calls this directly. */
static clmlp_status fuzz_csv_input(const uint8_t *data, size_t size)
{
    static const int header_of[4] = {-1, 0, 1, -1};
    unsigned o = size > 0 ? data[0] : 0;
    clmlp_csv_options opt = clmlp_csv_options_default();
    opt.label_column = (o & 3u) == 3u ? -1 : (int)(o & 3u);
    opt.header = header_of[(o >> 2) & 3u];
    opt.n_classes = (int)(o >> 4);
    const char *path = fuzz_put(2, size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0);

    clmlp_dataset d;
    char err[FUZZ_ERRLEN];
    memset(&d, 0x5A, sizeof d); /* junk: the loader must neither trust nor free it */
    memset(err, 'x', sizeof err);
    clmlp_status s = clmlp_csv_load(path, &opt, &d, err, sizeof err);
    if (s == CLMLP_OK) {
        csv_check_loaded(&d, &opt);
        clmlp_dataset_free(&d);
    } else {
        fuzz_check_error(s, err, "csv");
        FUZZ_CHECK(fuzz_dataset_empty(&d), "csv: failed load left *out non-empty");
    }
    return s;
}

#ifndef CLMLP_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        registered = 1;
        atexit(fuzz_scratch_cleanup);
    }
    fuzz_csv_input(data, size);
    return 0;
}
#endif
