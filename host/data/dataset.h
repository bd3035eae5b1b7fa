/* dataset.h - labelled samples in host memory, and the readers that validate files into them.
 *
 * Every reader validates before it trusts: on failure it returns a non-OK status, leaves *out
 * empty (nothing to free) and writes one line into err naming the file, the place (byte offset
 * or line:field) and what was expected.
 */
#ifndef CLMLP_DATASET_H
#define CLMLP_DATASET_H

#include "clmlp.h"

typedef struct clmlp_dataset {
    size_t n;          /* samples */
    size_t dim;        /* features per sample */
    size_t rows, cols; /* image shape for IDX data (rows*cols == dim); 0 for CSV */
    float *X;          /* n x dim, row-major; IDX pixels scaled to [0, 1] */
    int32_t *labels;   /* n class labels, each in [0, n_classes); NULL for unlabelled data */
    int n_classes;     /* 1 + the largest label seen (readers) or as checked; 0 unlabelled */
} clmlp_dataset;

/* The largest class label the readers accept (so at most 65536 classes). A label is also the
 * width of the output layer it implies: without a bound, one stray huge label in a file would
 * ask for a network of billions of outputs instead of being reported at its line. */
#define CLMLP_MAX_LABEL 65535

/* Reads an IDX image file (idx3, unsigned byte or big-endian float32 type) and an IDX label
 * file (idx1, unsigned byte). Plain or gzip: gzip is detected by its magic bytes 1F 8B, not by
 * the name. Checks magics, dimensions (64-bit products with overflow checks before any
 * allocation), truncation, trailing bytes and that the counts agree. With labels_path NULL
 * only the images are read (for prediction): out->labels is then NULL and n_classes 0. */
clmlp_status clmlp_idx_load(const char *images_path, const char *labels_path, clmlp_dataset *out,
                            char *err, size_t errlen);

typedef struct clmlp_csv_options {
    int label_column; /* 0-based column holding the class label (default 0); -1: no label
                       * column, every cell is a feature (out->labels NULL, n_classes 0) */
    int header;       /* 1: first line is a header and is skipped; 0: none; -1: detect (default:
                       * the first non-blank line is a header when its label cell is not a
                       * number, so a bad cell elsewhere on line 1 is still reported; without a
                       * label column, when none of its cells is a number) */
    int n_classes;    /* > 0: a label >= n_classes is an error naming its line; 0 (default): any
                       * label up to CLMLP_MAX_LABEL */
} clmlp_csv_options;
clmlp_csv_options clmlp_csv_options_default(void);

/* Reads a numeric CSV: one sample per line, the label column an integer in [0, CLMLP_MAX_LABEL],
 * every other cell a finite number ('.' as decimal point whatever the locale). Accepts LF and
 * CRLF line ends, a UTF-8 BOM, blank lines, a missing final newline and spaces around fields;
 * rejects CR-only line ends, ragged rows, empty, non-numeric or non-finite cells, quoted fields
 * and files with no samples. */
clmlp_status clmlp_csv_load(const char *path, const clmlp_csv_options *opt, clmlp_dataset *out,
                            char *err, size_t errlen);

/* Loads the train or test split from an MNIST-format folder, accepting the file name spellings
 * train-images-idx3-ubyte, train-images.idx3-ubyte, each optionally with .gz (t10k-* for test). */
clmlp_status clmlp_dataset_load_dir(const char *dir, int test_split, clmlp_dataset *out,
                                    char *err, size_t errlen);
/* The image and label files clmlp_dataset_load_dir reads, as malloc'd paths (the caller frees
 * both; both NULL on failure), so that later messages can name the file itself. */
clmlp_status clmlp_dataset_find_dir(const char *dir, int test_split, char **images,
                                    char **labels, char *err, size_t errlen);

/* Checks every label is in [0, n_classes); the error names the first offender, its index and the
 * number of offenders, e.g. "label 10 at index 1 is outside [0, 9] (2 labels out of range)". */
clmlp_status clmlp_dataset_check_labels(const clmlp_dataset *d, int n_classes, const char *path,
                                        char *err, size_t errlen);

/* Per-feature standardisation with the given mean and std (std 0 treated as 1). */
void clmlp_dataset_standardize(clmlp_dataset *d, const float *mean, const float *std);
/* Computes per-feature mean and std of d into the dim-long arrays. */
void clmlp_dataset_moments(const clmlp_dataset *d, float *mean, float *std);

/* Splits off the last `count` samples of d into val (a copy); d keeps the first n - count. */
clmlp_status clmlp_dataset_split_tail(clmlp_dataset *d, size_t count, clmlp_dataset *val);

void clmlp_dataset_free(clmlp_dataset *d);

#endif
