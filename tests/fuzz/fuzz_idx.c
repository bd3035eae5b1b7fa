/* fuzz_idx.c - libFuzzer target for the IDX reader (clmlp_idx_load), plain and gzip.
 *
 * Input layout (tests/fuzz/make_seeds.c writes seeds in it):
 *   byte 0      flags: flags & 3 picks what is fuzzed -
 *                 0: both files, the payload split at bytes 1-2 (big-endian, clamped),
 *                 1: the image file, against a fixed valid label file (3 labels),
 *                 2: the label file, against a fixed valid image file (3 images of 2x2),
 *                 3: the image file alone (no label file: what predict reads);
 *               bit 2 gzips the image file, bit 3 the label file (fixed ones included), so the
 *               IDX parser behind the gzip layer sees the fuzzer's bytes, not zlib's checks.
 *   bytes 1-2   split point (mode 0 only; present in every mode so seeds can switch modes)
 *   bytes 3..   payload
 * Raw gzip bytes in the payload (1F 8B ...) reach the gzip error paths as well.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "data/dataset.h"
#include "fuzz_common.h"

static const unsigned char fixed_images[16 + 12] = {
    0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
    0, 64, 128, 255, 1, 2, 3, 4, 250, 251, 252, 253};
static const unsigned char fixed_labels[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 9, 4};

/* What a successful load promises (dataset.h). */
static void idx_check_loaded(const clmlp_dataset *d, int with_labels)
{
    FUZZ_CHECK(d->n > 0 && d->X, "idx: success with no samples");
    FUZZ_CHECK(d->rows > 0 && d->cols > 0 && d->dim == d->rows * d->cols,
               "idx: dim %zu is not rows %zu x cols %zu", d->dim, d->rows, d->cols);
    for (size_t i = 0; i < d->n * d->dim; i++) /* also makes ASan see every pixel */
        FUZZ_CHECK(isfinite(d->X[i]), "idx: non-finite pixel %zu", i);
    if (!with_labels) {
        FUZZ_CHECK(!d->labels && d->n_classes == 0, "idx: labels without a label file");
        return;
    }
    FUZZ_CHECK(d->labels != NULL, "idx: no labels from a label file");
    FUZZ_CHECK(d->n_classes >= 1 && d->n_classes <= 256, "idx: n_classes %d", d->n_classes);
    int max = 0;
    for (size_t i = 0; i < d->n; i++) {
        FUZZ_CHECK(d->labels[i] >= 0 && d->labels[i] < d->n_classes,
                   "idx: label %d at %zu outside [0, %d)", (int)d->labels[i], i, d->n_classes);
        if (d->labels[i] > max)
            max = d->labels[i];
    }
    FUZZ_CHECK(max + 1 == d->n_classes, "idx: n_classes %d but largest label %d", d->n_classes,
               max);
}

/* One input; returns the loader's status for the regression test, which calls this directly. */
static clmlp_status fuzz_idx_input(const uint8_t *data, size_t size)
{
    unsigned flags = size > 0 ? data[0] : 0;
    size_t split = size > 2 ? (size_t)data[1] << 8 | data[2] : 0;
    const uint8_t *payload = size > 3 ? data + 3 : data;
    size_t len = size > 3 ? size - 3 : 0;
    int mode = (int)(flags & 3u), gz_img = (flags >> 2) & 1, gz_lab = (flags >> 3) & 1;
    const void *img = payload, *lab = payload;
    size_t img_len = len, lab_len = len;

    if (split > len)
        split = len;
    if (mode == 0) {
        img_len = split;
        lab = payload + split;
        lab_len = len - split;
    } else if (mode == 1 || mode == 3) {
        lab = fixed_labels; /* written but not read in mode 3 */
        lab_len = sizeof fixed_labels;
    } else {
        img = fixed_images;
        img_len = sizeof fixed_images;
    }
    const char *img_path = fuzz_put_maybe_gz(0, img, img_len, gz_img);
    const char *lab_path = fuzz_put_maybe_gz(1, lab, lab_len, gz_lab);

    clmlp_dataset d;
    char err[FUZZ_ERRLEN];
    memset(&d, 0x5A, sizeof d); /* junk: the loader must neither trust nor free it */
    memset(err, 'x', sizeof err);
    clmlp_status s = clmlp_idx_load(img_path, mode == 3 ? NULL : lab_path, &d, err, sizeof err);
    if (s == CLMLP_OK) {
        idx_check_loaded(&d, mode != 3);
        clmlp_dataset_free(&d);
    } else {
        fuzz_check_error(s, err, "idx");
        FUZZ_CHECK(fuzz_dataset_empty(&d), "idx: failed load left *out non-empty");
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
    fuzz_idx_input(data, size);
    return 0;
}
#endif
