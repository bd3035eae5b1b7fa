/* test_data.c - Check suite for the data readers: IDX (cases C10, C12, C17), CSV (C12, C14, C19)
 * and the dataset helpers (folder lookup, label check, moments, split).
 *
 * Case files are read from CLMLP_CASES_DIR; files that only make sense generated (truncated,
 * corrupt, oversized) are written by the tests into a mkdtemp folder that main() removes.
 */
#include <check.h>
#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include <zlib.h>

#include "data/dataset.h"

#ifndef CLMLP_CASES_DIR
#error "CLMLP_CASES_DIR must name the tests/cases folder"
#endif

#define ERRLEN 512

static char g_tmp[256]; /* the scratch folder, made by main() */

/* A path by value, so that P("x").s can be passed straight to a call. */
typedef struct pathbuf {
    char s[4096];
} pathbuf;

static pathbuf P(const char *name)
{
    pathbuf p;
    snprintf(p.s, sizeof p.s, "%s/%s", CLMLP_CASES_DIR, name);
    return p;
}

static pathbuf T(const char *name)
{
    pathbuf p;
    snprintf(p.s, sizeof p.s, "%s/%s", g_tmp, name);
    return p;
}

#define HAS(err, sub)                                                                          \
    ck_assert_msg(strstr((err), (sub)) != NULL, "error \"%s\" lacks \"%s\"", (err), (sub))

/* A failed load must leave nothing behind, whatever *out held before. */
#define EXPECT_EMPTY(d)                                                                        \
    do {                                                                                       \
        ck_assert_ptr_null((d).X);                                                             \
        ck_assert_ptr_null((d).labels);                                                        \
        ck_assert_uint_eq((d).n, 0);                                                           \
    } while (0)

/* ---- helpers ---- */

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile g = gzopen(path, "wb9");
    ck_assert_msg(g != NULL, "cannot create %s", path);
    if (len)
        ck_assert_int_eq(gzwrite(g, data, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(g), Z_OK);
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    unsigned char *buf = tu_read_file(from, &len);
    write_bytes(to, buf, len);
    free(buf);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An idx3 file: 16-byte header then `npx` data bytes. Returns the length written into buf. */
static size_t make_idx3(unsigned char *buf, uint32_t magic, uint32_t n, uint32_t rows,
                        uint32_t cols, const unsigned char *px, size_t npx)
{
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
    if (npx)
        memcpy(buf + 16, px, npx);
    return 16 + npx;
}

static size_t make_idx1(unsigned char *buf, uint32_t n, const unsigned char *labels, size_t nl)
{
    put_be32(buf, 0x00000801u);
    put_be32(buf + 4, n);
    if (nl)
        memcpy(buf + 8, labels, nl);
    return 8 + nl;
}

static clmlp_status load_idx(const char *images, const char *labels, clmlp_dataset *d,
                             char *err)
{
    memset(d, 0x5A, sizeof *d); /* junk: the loader must not trust or free it */
    return clmlp_idx_load(P(images).s, P(labels).s, d, err, ERRLEN);
}

static clmlp_status load_csv_opt(const char *path, const clmlp_csv_options *opt,
                                 clmlp_dataset *d, char *err)
{
    memset(d, 0x5A, sizeof *d);
    return clmlp_csv_load(path, opt, d, err, ERRLEN);
}

static clmlp_status load_csv(const char *name, clmlp_dataset *d, char *err)
{
    clmlp_csv_options opt = clmlp_csv_options_default();
    return load_csv_opt(P(name).s, &opt, d, err);
}

/* Runs a CSV load expected to fail and checks the message has the file name and `sub`. */
static void csv_fails(const char *name, const char *sub)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_csv(name, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, name);
    HAS(err, sub);
    EXPECT_EMPTY(d);
}

/* ---- C10: IDX reading ---- */

static void expect_c10(const clmlp_dataset *d)
{
    static const int sums[3] = {136, 392, 648};
    static const int32_t labels[3] = {7, 0, 9};
    double total = 0;
    ck_assert_uint_eq(d->n, 3);
    ck_assert_uint_eq(d->rows, 4);
    ck_assert_uint_eq(d->cols, 4);
    ck_assert_uint_eq(d->dim, 16);
    ck_assert_int_eq(d->n_classes, 10);
    for (int k = 0; k < 3; k++) {
        long sum = 0;
        ck_assert_int_eq(d->labels[k], labels[k]);
        for (int i = 0; i < 16; i++) {
            float v = d->X[k * 16 + i];
            /* pixel (k, r, c) = 16k + 4r + c + 1: also proves the header was skipped */
            ck_assert_int_eq(lrintf(v * 255.0f), 16 * k + i + 1);
            sum += lrintf(v * 255.0f);
            total += v;
        }
        ck_assert_int_eq(sum, sums[k]);
    }
    ck_assert_float_eq(d->X[0], (float)(1 / 255.0));
    ck_assert_double_eq_tol(d->X[0], 0.003921569, 1e-7);
    ck_assert_float_eq(d->X[2 * 16 + 15], (float)(48 / 255.0));
    ck_assert_double_eq_tol(d->X[2 * 16 + 15], 0.188235294, 1e-7);
    ck_assert_double_eq_tol(total, 4.611764706, 1e-6);
}

static void expect_same(const clmlp_dataset *a, const clmlp_dataset *b)
{
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_uint_eq(a->dim, b->dim);
    ck_assert_uint_eq(a->rows, b->rows);
    ck_assert_uint_eq(a->cols, b->cols);
    ck_assert_int_eq(a->n_classes, b->n_classes);
    ck_assert_int_eq(memcmp(a->X, b->X, a->n * a->dim * sizeof *a->X), 0);
    ck_assert_int_eq(memcmp(a->labels, b->labels, a->n * sizeof *a->labels), 0);
}

START_TEST(c10_raw)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", "c10_labels.idx1-ubyte", &d, err),
                     CLMLP_OK);
    expect_c10(&d);
    clmlp_dataset_free(&d);
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(c10_gzip_and_spellings_identical)
{
    static const char *images[] = {"c10_images.idx3-ubyte.gz",
                                   "c10_images_gzipped_but_no_gz_suffix.idx3-ubyte",
                                   "c10_images-idx3-ubyte", "c10_images.idx3-ubyte"};
    static const char *labels[] = {"c10_labels.idx1-ubyte", "c10_labels.idx1-ubyte.gz"};
    clmlp_dataset ref, d;
    char err[ERRLEN];
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", "c10_labels.idx1-ubyte", &ref, err),
                     CLMLP_OK);
    for (size_t i = 0; i < sizeof images / sizeof *images; i++)
        for (size_t j = 0; j < 2; j++) {
            ck_assert_msg(load_idx(images[i], labels[j], &d, err) == CLMLP_OK, "%s + %s: %s",
                          images[i], labels[j], err);
            expect_c10(&d);
            expect_same(&d, &ref);
            clmlp_dataset_free(&d);
        }
    clmlp_dataset_free(&ref);
}
END_TEST

START_TEST(c10_le_header)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_idx("c10_images_le_header.idx3-ubyte", "c10_labels.idx1-ubyte", &d,
                              err), CLMLP_ERR_FORMAT);
    HAS(err, "c10_images_le_header.idx3-ubyte");
    HAS(err, "bad magic 0x03080000, expected 0x00000803");
    HAS(err, "wrong byte order");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(c10_float_type)
{
    clmlp_dataset ref, d;
    char err[ERRLEN];
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", "c10_labels.idx1-ubyte", &ref, err),
                     CLMLP_OK);
    ck_assert_msg(load_idx("c10_images_float_type.idx3-ubyte", "c10_labels.idx1-ubyte", &d,
                           err) == CLMLP_OK, "%s", err);
    expect_c10(&d);
    for (size_t i = 0; i < 48; i++) /* value/255 stored as float32 equals ubyte/255 exactly */
        ck_assert_float_eq(d.X[i], ref.X[i]);
    clmlp_dataset_free(&d);
    clmlp_dataset_free(&ref);
}
END_TEST

START_TEST(c10_missing_file)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_idx("no_such_images.idx3-ubyte", "c10_labels.idx1-ubyte", &d, err),
                     CLMLP_ERR_IO);
    HAS(err, P("no_such_images.idx3-ubyte").s);
    HAS(err, "cannot open");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", "no_such_labels", &d, err),
                     CLMLP_ERR_IO);
    HAS(err, "no_such_labels");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(c10_load_dir_spellings)
{
    pathbuf dir = T("mnist"), dir2 = T("mnist_train_only");
    clmlp_dataset ref, d;
    char err[ERRLEN];
    ck_assert_int_eq(mkdir(dir.s, 0700), 0);
    ck_assert_int_eq(mkdir(dir2.s, 0700), 0);
    copy_file(P("c10_images.idx3-ubyte.gz").s, T("mnist/train-images.idx3-ubyte.gz").s);
    copy_file(P("c10_labels.idx1-ubyte").s, T("mnist/train-labels-idx1-ubyte").s);
    copy_file(P("c10_images.idx3-ubyte").s, T("mnist/t10k-images-idx3-ubyte").s);
    copy_file(P("c10_labels.idx1-ubyte.gz").s, T("mnist/t10k-labels.idx1-ubyte.gz").s);
    copy_file(P("c10_images.idx3-ubyte").s, T("mnist_train_only/train-images.idx3-ubyte").s);
    copy_file(P("c10_labels.idx1-ubyte").s, T("mnist_train_only/train-labels.idx1-ubyte").s);
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", "c10_labels.idx1-ubyte", &ref, err),
                     CLMLP_OK);
    for (int split = 0; split < 2; split++) {
        memset(&d, 0x5A, sizeof d);
        ck_assert_msg(clmlp_dataset_load_dir(dir.s, split, &d, err, ERRLEN) == CLMLP_OK, "%s",
                      err);
        expect_same(&d, &ref);
        clmlp_dataset_free(&d);
    }
    ck_assert_int_eq(clmlp_dataset_load_dir(dir2.s, 0, &d, err, ERRLEN), CLMLP_OK);
    expect_same(&d, &ref);
    clmlp_dataset_free(&d);
    memset(&d, 0x5A, sizeof d);
    ck_assert_int_eq(clmlp_dataset_load_dir(dir2.s, 1, &d, err, ERRLEN), CLMLP_ERR_IO);
    HAS(err, "tried");
    HAS(err, "mnist_train_only/t10k-images-idx3-ubyte,");
    HAS(err, "mnist_train_only/t10k-images-idx3-ubyte.gz");
    HAS(err, "mnist_train_only/t10k-images.idx3-ubyte,");
    HAS(err, "mnist_train_only/t10k-images.idx3-ubyte.gz");
    EXPECT_EMPTY(d);
    memset(&d, 0x5A, sizeof d);
    ck_assert_int_eq(clmlp_dataset_load_dir(T("absent").s, 0, &d, err, ERRLEN), CLMLP_ERR_IO);
    HAS(err, "absent");
    EXPECT_EMPTY(d);
    clmlp_dataset_free(&ref);
}
END_TEST

/* ---- C12: labels ---- */

START_TEST(c12_idx_labels_out_of_range)
{
    clmlp_dataset d;
    char err[ERRLEN];
    const char *lab = "c12_labels_out_of_range.idx1-ubyte";
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", lab, &d, err), CLMLP_OK);
    ck_assert_int_eq(d.labels[0], 7);
    ck_assert_int_eq(d.labels[1], 10);
    ck_assert_int_eq(d.labels[2], 255);
    ck_assert_int_eq(d.n_classes, 256);
    ck_assert_int_eq(clmlp_dataset_check_labels(&d, 10, P(lab).s, err, ERRLEN),
                     CLMLP_ERR_FORMAT);
    HAS(err, lab);
    HAS(err, "label 10 at index 1 is outside [0, 9] (2 labels out of range");
    ck_assert_int_eq(clmlp_dataset_check_labels(&d, 256, P(lab).s, err, ERRLEN), CLMLP_OK);
    clmlp_dataset_free(&d);
}
END_TEST

START_TEST(c12_images_file_as_labels)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", "c10_images.idx3-ubyte", &d, err),
                     CLMLP_ERR_FORMAT);
    HAS(err, "c10_images.idx3-ubyte");
    HAS(err, "magic 2051, expected 2049");
    EXPECT_EMPTY(d);
    /* and the other way round */
    ck_assert_int_eq(load_idx("c10_labels.idx1-ubyte", "c10_labels.idx1-ubyte", &d, err),
                     CLMLP_ERR_FORMAT);
    HAS(err, "magic 2049, expected 2051");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(c12_count_mismatch)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", "c12_labels_count_4_for_3_images.idx1-ubyte",
                              &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "4 labels but 3 images");
    HAS(err, "c12_labels_count_4_for_3_images.idx1-ubyte");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(c12_csv_negative)
{
    csv_fails("c12_csv_label_negative.csv", "c12_csv_label_negative.csv:2:1: label '-1'");
}
END_TEST

START_TEST(c12_csv_fraction)
{
    csv_fails("c12_csv_label_fraction.csv", "c12_csv_label_fraction.csv:2:1: label '2.5'");
}
END_TEST

START_TEST(c12_csv_too_big)
{
    clmlp_csv_options opt = clmlp_csv_options_default();
    clmlp_dataset d;
    char err[ERRLEN];
    const char *name = "c12_csv_label_too_big.csv";
    /* the reader alone accepts 10; the class count check rejects it ... */
    ck_assert_int_eq(load_csv(name, &d, err), CLMLP_OK);
    ck_assert_int_eq(d.n_classes, 11);
    ck_assert_int_eq(clmlp_dataset_check_labels(&d, 10, P(name).s, err, ERRLEN),
                     CLMLP_ERR_FORMAT);
    HAS(err, name);
    HAS(err, "label 10 at index 1 is outside [0, 9] (1 label out of range");
    clmlp_dataset_free(&d);
    /* ... and with the class count given to the reader the message names the line */
    opt.n_classes = 10;
    ck_assert_int_eq(load_csv_opt(P(name).s, &opt, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "c12_csv_label_too_big.csv:2:1: label 10 is outside [0, 9]");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(c12_csv_labels_2_3_for_2_classes)
{
    clmlp_csv_options opt = clmlp_csv_options_default();
    clmlp_dataset d;
    char err[ERRLEN];
    const char *name = "c12_csv_labels_2_and_3_for_2_classes.csv";
    ck_assert_int_eq(load_csv(name, &d, err), CLMLP_OK);
    ck_assert_uint_eq(d.n, 4);
    ck_assert_int_eq(d.n_classes, 4);
    ck_assert_int_eq(clmlp_dataset_check_labels(&d, 2, P(name).s, err, ERRLEN),
                     CLMLP_ERR_FORMAT);
    HAS(err, name);
    HAS(err, "label 2 at index 0 is outside [0, 1] (4 labels out of range");
    ck_assert_int_eq(clmlp_dataset_check_labels(&d, 4, NULL, err, ERRLEN), CLMLP_OK);
    clmlp_dataset_free(&d);
    opt.n_classes = 2;
    ck_assert_int_eq(load_csv_opt(P(name).s, &opt, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, ":1:1: label 2 is outside [0, 1]");
    EXPECT_EMPTY(d);
}
END_TEST

/* ---- C19: CSV deviations ---- */

static void expect_c19(const clmlp_dataset *d)
{
    static const float X[12] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f,
                                0.7f, 0.8f, 0.9f, 1.0f, 0.0f, 0.25f};
    static const int32_t labels[3] = {3, 0, 9};
    ck_assert_uint_eq(d->n, 3);
    ck_assert_uint_eq(d->dim, 4);
    ck_assert_uint_eq(d->rows, 0);
    ck_assert_uint_eq(d->cols, 0);
    ck_assert_int_eq(d->n_classes, 10);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(d->labels[i], labels[i]);
    for (int i = 0; i < 12; i++) /* exact: strings must round like the compiler's literals */
        ck_assert_float_eq(d->X[i], X[i]);
}

static void csv_ok(const char *name)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_msg(load_csv(name, &d, err) == CLMLP_OK, "%s: %s", name, err);
    expect_c19(&d);
    clmlp_dataset_free(&d);
}

START_TEST(c19_ok) { csv_ok("c19_ok.csv"); }
END_TEST

START_TEST(c19_header_row)
{
    clmlp_csv_options opt = clmlp_csv_options_default();
    clmlp_dataset d;
    char err[ERRLEN];
    csv_ok("c19_header_row.csv"); /* detected */
    opt.header = 1;
    ck_assert_int_eq(load_csv_opt(P("c19_header_row.csv").s, &opt, &d, err), CLMLP_OK);
    expect_c19(&d);
    clmlp_dataset_free(&d);
    opt.header = 0; /* told there is none: a good error for line 1, never a row of zeros */
    ck_assert_int_eq(load_csv_opt(P("c19_header_row.csv").s, &opt, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "c19_header_row.csv:1:1: label 'label' is not a number");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(c19_trailing_blank_lines) { csv_ok("c19_trailing_blank_lines.csv"); }
END_TEST

START_TEST(c19_crlf)
{
    clmlp_dataset d;
    char err[ERRLEN];
    csv_ok("c19_crlf.csv");
    ck_assert_int_eq(load_csv("c19_crlf.csv", &d, err), CLMLP_OK);
    ck_assert_float_eq(d.X[3], 0.4f); /* last feature of row 1: the \r is not part of it */
    clmlp_dataset_free(&d);
}
END_TEST

START_TEST(c19_no_final_newline) { csv_ok("c19_no_final_newline.csv"); }
END_TEST

START_TEST(c19_utf8_bom)
{
    clmlp_dataset d;
    char err[ERRLEN];
    csv_ok("c19_utf8_bom.csv");
    ck_assert_int_eq(load_csv("c19_utf8_bom.csv", &d, err), CLMLP_OK);
    ck_assert_int_eq(d.labels[0], 3);
    clmlp_dataset_free(&d);
}
END_TEST

START_TEST(c19_spaces_around_fields) { csv_ok("c19_spaces_around_fields.csv"); }
END_TEST

START_TEST(c19_ragged_row)
{
    csv_fails("c19_ragged_row.csv", "c19_ragged_row.csv:2: expected 5 fields, found 3");
}
END_TEST

START_TEST(c19_non_numeric_cell)
{
    csv_fails("c19_non_numeric_cell.csv", "c19_non_numeric_cell.csv:2:3: 'abc' is not a number");
}
END_TEST

START_TEST(c19_decimal_comma_quoted)
{
    csv_fails("c19_decimal_comma_quoted.csv", "c19_decimal_comma_quoted.csv:1:2: quoted");
}
END_TEST

START_TEST(c19_nan_inf_cells)
{
    csv_fails("c19_nan_inf_cells.csv", "c19_nan_inf_cells.csv:2:2: non-finite value 'nan'");
}
END_TEST

START_TEST(c19_empty_file) { csv_fails("c19_empty_file.csv", "c19_empty_file.csv: no samples"); }
END_TEST

/* strtof would read "0.5" as 0 under a ',' locale; the reader must not care. */
START_TEST(c19_ok_under_comma_locale)
{
    static const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *used = NULL;
    char before[256];
    for (size_t i = 0; i < sizeof names / sizeof *names && !used; i++)
        if (setlocale(LC_ALL, names[i]))
            used = names[i];
    if (used)
        ck_assert_str_eq(localeconv()->decimal_point, ",");
    else
        fprintf(stderr, "note: test_data: no de_DE/fr_FR locale installed; c19_ok.csv is parsed "
                "in the %s locale instead\n", setlocale(LC_ALL, NULL));
    snprintf(before, sizeof before, "%s", setlocale(LC_NUMERIC, NULL));
    csv_ok("c19_ok.csv");
    csv_ok("c19_spaces_around_fields.csv");
    ck_assert_str_eq(setlocale(LC_NUMERIC, NULL), before); /* the process locale is untouched */
    setlocale(LC_ALL, "C");
}
END_TEST

/* ---- C14 / C01: whole files ---- */

static void expect_onehot_40(const clmlp_dataset *d, int sorted)
{
    int count[4] = {0, 0, 0, 0};
    ck_assert_uint_eq(d->n, 40);
    ck_assert_uint_eq(d->dim, 4);
    ck_assert_int_eq(d->n_classes, 4);
    for (size_t i = 0; i < 40; i++) {
        int32_t y = d->labels[i];
        ck_assert_int_eq(y, sorted ? (int32_t)(i / 10) : (int32_t)(i % 4));
        count[y]++;
        for (int j = 0; j < 4; j++)
            ck_assert_float_eq(d->X[i * 4 + (size_t)j], j == y ? 1.0f : 0.0f);
    }
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(count[k], 10);
}

START_TEST(c14_csvs)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_csv("c14_onehot_40.csv", &d, err), CLMLP_OK);
    expect_onehot_40(&d, 0);
    clmlp_dataset_free(&d);
    ck_assert_int_eq(load_csv("c14_sorted_by_label_40.csv", &d, err), CLMLP_OK);
    expect_onehot_40(&d, 1);
    clmlp_dataset_free(&d);
}
END_TEST

START_TEST(c01_huge_features)
{
    static const float X[12] = {12000, -35000, 800, -90000, 41000, -2500,
                                65000, -1200, 99000, -7000, 88000, -64000};
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_csv("c01_huge_features.csv", &d, err), CLMLP_OK);
    ck_assert_uint_eq(d.n, 4);
    ck_assert_uint_eq(d.dim, 3);
    ck_assert_int_eq(d.n_classes, 2);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(d.labels[i], i % 2);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(d.X[i], X[i]);
    clmlp_dataset_free(&d);
}
END_TEST

/* ---- generated IDX files ---- */

static const unsigned char gen_px[12] = {0, 255, 128, 1, 2, 3, 10, 20, 30, 40, 50, 60};
static const unsigned char gen_lab[2] = {1, 0};

/* Writes the valid 2-image 2x3 pair under `stem`; gz selects gzip for both. */
static void write_gen_pair(const char *img, const char *lab, int gz)
{
    unsigned char a[64], b[16];
    size_t la = make_idx3(a, 0x803, 2, 2, 3, gen_px, 12);
    size_t lb = make_idx1(b, 2, gen_lab, 2);
    (gz ? write_gz : write_bytes)(T(img).s, a, la);
    (gz ? write_gz : write_bytes)(T(lab).s, b, lb);
}

static clmlp_status load_tmp(const char *img, const char *lab, clmlp_dataset *d, char *err)
{
    memset(d, 0x5A, sizeof *d);
    return clmlp_idx_load(T(img).s, T(lab).s, d, err, ERRLEN);
}

START_TEST(gen_idx_plain_and_gzip)
{
    clmlp_dataset a, b;
    char err[ERRLEN];
    write_gen_pair("g_img", "g_lab", 0);
    write_gen_pair("g_img.gz", "g_lab.gz", 1);
    ck_assert_msg(load_tmp("g_img", "g_lab", &a, err) == CLMLP_OK, "%s", err);
    ck_assert_msg(load_tmp("g_img.gz", "g_lab.gz", &b, err) == CLMLP_OK, "%s", err);
    ck_assert_uint_eq(a.n, 2);
    ck_assert_uint_eq(a.rows, 2);
    ck_assert_uint_eq(a.cols, 3);
    ck_assert_int_eq(a.n_classes, 2);
    ck_assert_float_eq(a.X[0], 0.0f);
    ck_assert_float_eq(a.X[1], 1.0f);
    ck_assert_float_eq(a.X[2], (float)(128 / 255.0));
    ck_assert_int_eq(a.labels[0], 1);
    expect_same(&a, &b);
    clmlp_dataset_free(&a);
    clmlp_dataset_free(&b);
}
END_TEST

START_TEST(gen_idx_truncated)
{
    unsigned char a[64], b[16];
    clmlp_dataset d;
    char err[ERRLEN];
    /* header: 3 images of 2x2 (12 bytes); data: 10 bytes = 2.5 images */
    size_t la = make_idx3(a, 0x803, 3, 2, 2, gen_px, 10);
    size_t lb = make_idx1(b, 3, gen_lab, 2);
    b[lb++] = 0;
    write_bytes(T("trunc_img").s, a, la);
    write_gz(T("trunc_img.gz").s, a, la);
    write_bytes(T("trunc_lab").s, b, lb);
    ck_assert_int_eq(load_tmp("trunc_img", "trunc_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "trunc_img");
    HAS(err, "truncated");
    HAS(err, "byte offset 26");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_tmp("trunc_img.gz", "trunc_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "trunc_img.gz");
    HAS(err, "truncated");
    HAS(err, "byte offset 26");
    EXPECT_EMPTY(d);
    /* a label file one label short, read through gzip (no length pre-check) */
    write_gz(T("trunc_lab.gz").s, b, lb - 1);
    write_bytes(T("ok3_img").s, a, make_idx3(a, 0x803, 3, 2, 2, gen_px, 12));
    ck_assert_int_eq(load_tmp("ok3_img", "trunc_lab.gz", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "trunc_lab.gz");
    HAS(err, "truncated");
    HAS(err, "byte offset 10");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(gen_idx_trailing_bytes)
{
    unsigned char a[64], b[16];
    clmlp_dataset d;
    char err[ERRLEN];
    size_t la = make_idx3(a, 0x803, 2, 2, 3, gen_px, 12);
    a[la++] = 0xEE;
    a[la++] = 0xEE;
    write_bytes(T("trail_img").s, a, la);
    write_gz(T("trail_img.gz").s, a, la);
    write_bytes(T("trail_lab").s, b, make_idx1(b, 2, gen_lab, 2));
    ck_assert_int_eq(load_tmp("trail_img", "trail_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "trail_img");
    HAS(err, "trailing bytes after byte offset 28");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_tmp("trail_img.gz", "trail_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "trail_img.gz");
    HAS(err, "trailing bytes after byte offset 28");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(gen_gzip_corrupt)
{
    unsigned char *gz;
    size_t len;
    clmlp_dataset d;
    char err[ERRLEN];
    write_gen_pair("crc_img.gz", "crc_lab", 1);
    write_gen_pair("crc_img_unused", "crc_lab", 0);
    gz = tu_read_file(T("crc_img.gz").s, &len);
    ck_assert_uint_gt(len, 18);
    gz[len - 8] ^= 0x01; /* first byte of the CRC32 in the gzip trailer */
    write_bytes(T("crc_img.gz").s, gz, len);
    ck_assert_int_eq(load_tmp("crc_img.gz", "crc_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "crc_img.gz");
    HAS(err, "gzip");
    HAS(err, "corrupt");
    EXPECT_EMPTY(d);
    gz[len - 8] ^= 0x01;
    write_bytes(T("cut_img.gz").s, gz, len - 6); /* stream cut inside the trailer */
    ck_assert_int_eq(load_tmp("cut_img.gz", "crc_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "cut_img.gz");
    HAS(err, "gzip");
    EXPECT_EMPTY(d);
    write_bytes(T("cut2_img.gz").s, gz, len / 2); /* cut inside the deflate data */
    ck_assert_int_eq(load_tmp("cut2_img.gz", "crc_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "cut2_img.gz");
    EXPECT_EMPTY(d);
    free(gz);
}
END_TEST

/* C17: headers whose sizes overflow or are absurd fail before any allocation (under ASan a
 * multi-terabyte malloc would abort the test instead of returning NULL). */
START_TEST(gen_idx_size_overflow)
{
    static const struct {
        uint32_t n, rows, cols;
        const char *key;
    } cases[] = {
        {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, "pixel count overflows 64 bits"},
        {0xFFFFFFFFu, 0xFFFFFFFFu, 1, "byte count overflows 64 bits"},
        {60000, 65536, 65536, "above the limit"},
        {4294967295u, 1, 2, "above the limit"},
    };
    unsigned char a[16], b[16];
    clmlp_dataset d;
    char err[ERRLEN];
    write_bytes(T("ovf_lab").s, b, make_idx1(b, 2, gen_lab, 2));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_bytes(T("ovf_img").s, a,
                    make_idx3(a, 0x803, cases[i].n, cases[i].rows, cases[i].cols, NULL, 0));
        ck_assert_int_eq(load_tmp("ovf_img", "ovf_lab", &d, err), CLMLP_ERR_NOMEM);
        HAS(err, "ovf_img");
        HAS(err, cases[i].key);
        EXPECT_EMPTY(d);
    }
    /* big but allowed: the header passes, then the missing data is reported without reading */
    write_bytes(T("big_img").s, a, make_idx3(a, 0x803, 60000, 28, 28, NULL, 0));
    ck_assert_int_eq(load_tmp("big_img", "ovf_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "truncated");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(gen_idx_bad_headers)
{
    unsigned char a[64], b[16];
    clmlp_dataset d;
    char err[ERRLEN];
    write_bytes(T("h_lab").s, b, make_idx1(b, 2, gen_lab, 2));
    write_bytes(T("h_type").s, a, make_idx3(a, 0x0B03, 2, 2, 3, gen_px, 12));
    ck_assert_int_eq(load_tmp("h_type", "h_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "h_type: unsupported IDX element type 0x0B");
    EXPECT_EMPTY(d);
    write_bytes(T("h_zero").s, a, make_idx3(a, 0x803, 0, 2, 3, NULL, 0));
    ck_assert_int_eq(load_tmp("h_zero", "h_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "0 images");
    EXPECT_EMPTY(d);
    write_bytes(T("h_short").s, a, 7);
    ck_assert_int_eq(load_tmp("h_short", "h_lab", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "h_short: truncated");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(gen_empty_files)
{
    unsigned char a[64];
    clmlp_dataset d;
    char err[ERRLEN];
    write_bytes(T("empty").s, "", 0);
    write_gz(T("empty.gz").s, "", 0);
    write_bytes(T("e_img").s, a, make_idx3(a, 0x803, 2, 2, 3, gen_px, 12));
    ck_assert_int_eq(load_tmp("empty", "e_img", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "empty: empty file");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_tmp("e_img", "empty", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "empty: empty file");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_tmp("empty.gz", "e_img", &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "empty.gz: empty file");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_csv_opt(T("empty").s, NULL, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "empty: no samples");
    EXPECT_EMPTY(d);
}
END_TEST

/* ---- generated CSV files ---- */

START_TEST(gen_csv_long_lines)
{
    enum { NF = 20000 }; /* "0.25," x 20000 = 100000 characters */
    size_t cap = 5 * NF + 64, len = 0;
    char *text = malloc(2 * cap + 200000);
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_ptr_nonnull(text);
    for (int row = 0; row < 2; row++) {
        len += (size_t)sprintf(text + len, "%d", row);
        for (int j = 0; j < NF; j++)
            len += (size_t)sprintf(text + len, ",0.25");
        text[len++] = '\n';
    }
    write_bytes(T("long.csv").s, text, len);
    ck_assert_msg(load_csv_opt(T("long.csv").s, NULL, &d, err) == CLMLP_OK, "%s", err);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.dim, NF);
    for (size_t i = 0; i < 2 * (size_t)NF; i++)
        ck_assert_float_eq(d.X[i], 0.25f);
    clmlp_dataset_free(&d);
    /* a bad cell far along the line is located exactly */
    memcpy(text + len - 5, "x.25", 4); /* the last cell of row 2 */
    write_bytes(T("long_bad.csv").s, text, len);
    ck_assert_int_eq(load_csv_opt(T("long_bad.csv").s, NULL, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "long_bad.csv:2:20001: 'x.25' is not a number");
    EXPECT_EMPTY(d);
    /* one 100000-digit cell: overflows float, and the message quotes it clipped */
    len = (size_t)sprintf(text, "1,");
    memset(text + len, '7', 100000);
    len += 100000;
    write_bytes(T("long_cell.csv").s, text, len);
    ck_assert_int_eq(load_csv_opt(T("long_cell.csv").s, NULL, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "long_cell.csv:1:2: non-finite value '7777");
    HAS(err, "...'");
    ck_assert_uint_lt(strlen(err), 300);
    EXPECT_EMPTY(d);
    free(text);
}
END_TEST

START_TEST(gen_csv_bad_cells)
{
    static const struct {
        const char *text, *key;
    } cases[] = {
        {"1,0.5,inf\n", ":1:3: non-finite value 'inf'"},
        {"1,-Infinity,2\n", ":1:2: non-finite value '-Infinity'"},
        {"1,NaN,2\n", ":1:2: non-finite value 'NaN'"},
        {"1,1e39,2\n", ":1:2: non-finite value '1e39' (outside the float range)"},
        {"1,0x10,2\n", ":1:2: '0x10' is not a number"},
        {"1,1e,2\n", ":1:2: '1e' is not a number"},
        {"1,.,2\n", ":1:2: '.' is not a number"},
        {"1,+,2\n", ":1:2: '+' is not a number"},
        {"1,1.2.3,2\n", ":1:2: '1.2.3' is not a number"},
        {"1,2 3,2\n", ":1:2: '2 3' is not a number"},
        {"1,,2\n", ":1:2: empty field"},
        {"1,2,\n", ":1:3: empty field"},
        {"1,2,3\n1,2,3,4\n", ":2: expected 3 fields, found 4"},
        {"1,2,3\n,,\n", ":2:1: empty field"},
        {"x1,2,3\n", "no samples (only a header line)"}, /* x1 taken as a header */
        {"1,'2',3\n", ":1:2: quoted fields are not supported"},
        {"1\n2\n", ":1: 1 field: need the label"},
        {"99999999999,1\n", ":1:1: label 99999999999 is above 65535, the largest class"},
        {"+1,1\n", ":1:1: label '+1' is not a non-negative integer"},
        {"1e0,1\n", ":1:1: label '1e0' is not a non-negative integer"},
        {"1,2\0,3\n", ":1: NUL byte"},
    };
    static const size_t lens[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
    clmlp_dataset d;
    char err[ERRLEN];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = lens[i] ? lens[i] : strlen(cases[i].text);
        write_bytes(T("bad.csv").s, cases[i].text, len);
        ck_assert_msg(load_csv_opt(T("bad.csv").s, NULL, &d, err) != CLMLP_OK, "case %zu", i);
        HAS(err, "bad.csv");
        HAS(err, cases[i].key);
        EXPECT_EMPTY(d);
    }
}
END_TEST

START_TEST(gen_csv_accepted_forms)
{
    static const char text[] = "\n  \n1, -2.5e-1 ,+3.,.5,1E2\t\r\n\r\n0,0,-0,00.00,1e-50\n\n";
    clmlp_dataset d;
    char err[ERRLEN];
    write_bytes(T("forms.csv").s, text, sizeof text - 1);
    ck_assert_msg(load_csv_opt(T("forms.csv").s, NULL, &d, err) == CLMLP_OK, "%s", err);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.dim, 4);
    ck_assert_float_eq(d.X[0], -0.25f);
    ck_assert_float_eq(d.X[1], 3.0f);
    ck_assert_float_eq(d.X[2], 0.5f);
    ck_assert_float_eq(d.X[3], 100.0f);
    ck_assert_float_eq(d.X[7], 0.0f); /* underflow rounds to zero, it is not an error */
    clmlp_dataset_free(&d);
}
END_TEST

START_TEST(gen_csv_label_column)
{
    static const char text[] = "f1,f2,class\n0.5,1.5,2\n2.5,3.5,0\n";
    clmlp_csv_options opt = clmlp_csv_options_default();
    clmlp_dataset d;
    char err[ERRLEN];
    write_bytes(T("lastcol.csv").s, text, sizeof text - 1);
    opt.label_column = 2;
    ck_assert_msg(load_csv_opt(T("lastcol.csv").s, &opt, &d, err) == CLMLP_OK, "%s", err);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.dim, 2);
    ck_assert_int_eq(d.labels[0], 2);
    ck_assert_int_eq(d.labels[1], 0);
    ck_assert_int_eq(d.n_classes, 3);
    ck_assert_float_eq(d.X[0], 0.5f);
    ck_assert_float_eq(d.X[3], 3.5f);
    clmlp_dataset_free(&d);
    opt.label_column = 3; /* beyond the fields */
    ck_assert_int_eq(load_csv_opt(T("lastcol.csv").s, &opt, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "lastcol.csv:1: 3 fields: need the label (column 3");
    EXPECT_EMPTY(d);
    opt.label_column = -2; /* -1 means "no label column" */
    ck_assert_int_eq(load_csv_opt(T("lastcol.csv").s, &opt, &d, err), CLMLP_ERR_ARG);
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_csv_opt(T("no_such.csv").s, NULL, &d, err), CLMLP_ERR_IO);
    HAS(err, "no_such.csv: cannot open");
    EXPECT_EMPTY(d);
}
END_TEST

/* ---- unlabelled reading (predict), label limits, line ends ---- */

/* clmlp_idx_load without a label file: the same pixels as with one, no labels. */
START_TEST(idx_images_only)
{
    static const char *images[] = {"c10_images.idx3-ubyte", "c10_images.idx3-ubyte.gz",
                                   "c10_images_float_type.idx3-ubyte"};
    clmlp_dataset ref, d;
    char err[ERRLEN];
    ck_assert_int_eq(load_idx("c10_images.idx3-ubyte", "c10_labels.idx1-ubyte", &ref, err),
                     CLMLP_OK);
    for (size_t i = 0; i < sizeof images / sizeof *images; i++) {
        memset(&d, 0x5A, sizeof d);
        ck_assert_msg(clmlp_idx_load(P(images[i]).s, NULL, &d, err, ERRLEN) == CLMLP_OK, "%s",
                      err);
        ck_assert_uint_eq(d.n, 3);
        ck_assert_uint_eq(d.dim, 16);
        ck_assert_uint_eq(d.rows, 4);
        ck_assert_ptr_null(d.labels);
        ck_assert_int_eq(d.n_classes, 0);
        ck_assert_int_eq(memcmp(d.X, ref.X, 48 * sizeof *d.X), 0);
        clmlp_dataset_free(&d);
    }
    clmlp_dataset_free(&ref);
}
END_TEST

/* The images-only mode keeps every check the labelled one has: a label file, a directory,
 * absurd and unbacked headers, corrupt gzip all fail naming the file. */
START_TEST(idx_images_only_errors)
{
    unsigned char a[64], *gz;
    size_t len;
    clmlp_dataset d;
    char err[ERRLEN];
    memset(&d, 0x5A, sizeof d);
    ck_assert_int_eq(clmlp_idx_load(P("c10_labels.idx1-ubyte").s, NULL, &d, err, ERRLEN),
                     CLMLP_ERR_FORMAT);
    HAS(err, "c10_labels.idx1-ubyte: magic 2049, expected 2051");
    HAS(err, "not an image (idx3) file");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(clmlp_idx_load(g_tmp, NULL, &d, err, ERRLEN), CLMLP_ERR_IO);
    HAS(err, "is a directory");
    EXPECT_EMPTY(d);
    write_bytes(T("io_huge").s, a, make_idx3(a, 0x803, 0x7FFFFFFFu, 28, 28, gen_px, 12));
    ck_assert_int_eq(clmlp_idx_load(T("io_huge").s, NULL, &d, err, ERRLEN), CLMLP_ERR_NOMEM);
    HAS(err, "io_huge: header says 2147483647 images");
    HAS(err, "above the limit");
    EXPECT_EMPTY(d);
    /* 5,000,000 images claimed by a 28-byte file: refused before 15.7 GB are allocated */
    write_bytes(T("io_5m").s, a, make_idx3(a, 0x803, 5000000u, 28, 28, gen_px, 12));
    ck_assert_int_eq(clmlp_idx_load(T("io_5m").s, NULL, &d, err, ERRLEN), CLMLP_ERR_FORMAT);
    HAS(err, "io_5m: truncated");
    EXPECT_EMPTY(d);
    write_gen_pair("io_img.gz", "io_lab.gz", 1);
    gz = tu_read_file(T("io_img.gz").s, &len);
    gz[len - 8] ^= 0x01; /* the CRC32 in the trailer */
    write_bytes(T("io_img.gz").s, gz, len);
    free(gz);
    ck_assert_int_eq(clmlp_idx_load(T("io_img.gz").s, NULL, &d, err, ERRLEN), CLMLP_ERR_FORMAT);
    HAS(err, "io_img.gz: gzip data is corrupt");
    HAS(err, "(zlib: ");
    ck_assert_ptr_null(strstr(err, "<fd:"));
    EXPECT_EMPTY(d);
}
END_TEST

static clmlp_status load_text(const char *name, const char *text, int label_column,
                              clmlp_dataset *d, char *err)
{
    clmlp_csv_options opt = clmlp_csv_options_default();
    opt.label_column = label_column;
    write_bytes(T(name).s, text, strlen(text));
    return load_csv_opt(T(name).s, &opt, d, err);
}

START_TEST(csv_features_only)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_msg(load_text("fo.csv", "a,b,c\n0.5,1e-999,-2\n3,4,5\n", -1, &d, err) == CLMLP_OK,
                  "%s", err);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.dim, 3);
    ck_assert_ptr_null(d.labels);
    ck_assert_int_eq(d.n_classes, 0);
    ck_assert_float_eq(d.X[0], 0.5f);
    ck_assert_float_eq(d.X[1], 0.0f); /* underflow: a tiny value, not an error */
    ck_assert_float_eq(d.X[5], 5.0f);
    clmlp_dataset_free(&d);
    ck_assert_int_eq(load_text("fo1.csv", "7\n8\n", -1, &d, err), CLMLP_OK); /* one column */
    ck_assert_uint_eq(d.dim, 1);
    ck_assert_float_eq(d.X[1], 8.0f);
    clmlp_dataset_free(&d);
}
END_TEST

/* The cells predict's old parser got wrong are errors naming line and field. */
START_TEST(csv_features_only_errors)
{
    static const struct {
        const char *text, *key;
    } cases[] = {
        {"0.5,,0.7,0.9,1.1\n", "fe.csv:1:2: empty field"},
        {"0.5,0.7,\n", "fe.csv:1:3: empty field"},
        {"0x10,0.7\n", "fe.csv:1:1: '0x10' is not a number"},
        {"x,0.7\n1,2\n", "fe.csv:1:1: 'x' is not a number"}, /* not all names: not a header */
        {"1,2\n1,2,3\n", "fe.csv:2: expected 2 fields, found 3"},
        {"1,nan\n", "fe.csv:1:2: non-finite value 'nan'"},
        {"a,b\n", "fe.csv: no samples (only a header line)"},
    };
    clmlp_dataset d;
    char err[ERRLEN];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_msg(load_text("fe.csv", cases[i].text, -1, &d, err) == CLMLP_ERR_FORMAT,
                      "case %zu", i);
        HAS(err, cases[i].key);
        EXPECT_EMPTY(d);
    }
}
END_TEST

START_TEST(csv_label_limit)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_text("lim.csv", "0,1\n1,2\n0,3\n1,4\n2,5\n3,6\n1000000000,7\n", 0, &d,
                               err), CLMLP_ERR_FORMAT);
    HAS(err, "lim.csv:7:1: label 1000000000 is above 65535, the largest class clmlp supports");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_text("lim.csv", "0.5,65536\n", 1, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "lim.csv:1:2: label 65536 is above 65535");
    EXPECT_EMPTY(d);
    ck_assert_msg(load_text("lim.csv", "0.5,65535\n", 1, &d, err) == CLMLP_OK, "%s", err);
    ck_assert_int_eq(d.n_classes, 65536);
    clmlp_dataset_free(&d);
    ck_assert_msg(load_text("lim.csv", "000000000000000000007,1\n", 0, &d, err) == CLMLP_OK, "%s",
                  err);
    ck_assert_int_eq(d.labels[0], 7);
    clmlp_dataset_free(&d);
}
END_TEST

START_TEST(csv_line_ends_and_separators)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(load_text("mac.csv", "0,0.5,0.7\r1,0.2,0.3\r", 0, &d, err),
                     CLMLP_ERR_FORMAT);
    HAS(err, "mac.csv: lines end with CR only (classic Mac); convert to LF or CRLF");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_text("mixed.csv", "0,0.5\n1,0.2\r0,0.3\n", 0, &d, err),
                     CLMLP_ERR_FORMAT);
    HAS(err, "mixed.csv:2: carriage return (CR) inside the line");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_text("one.csv", "0,0.5\r", 0, &d, err), CLMLP_OK); /* one CR line */
    clmlp_dataset_free(&d);
    /* decimal commas with ';' separators: the message names the line and says why */
    ck_assert_int_eq(load_text("semi.csv", "label;x;y\n1;2,5;3,5\n", 0, &d, err),
                     CLMLP_ERR_FORMAT);
    HAS(err, "semi.csv:2: expected 1 field, found 3 (';' found: clmlp reads ','");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_text("semi.csv", "1,5;2,5\n", 0, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "semi.csv:1:2: '5;2' is not a number (';' found");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_text("semi.csv", "1;5;2\n", 0, &d, err), CLMLP_ERR_FORMAT);
    HAS(err, "semi.csv: no samples (only a header line) (';' found");
    EXPECT_EMPTY(d);
    ck_assert_int_eq(load_csv_opt(g_tmp, NULL, &d, err), CLMLP_ERR_IO);
    HAS(err, "is a directory, not a CSV file");
    EXPECT_EMPTY(d);
}
END_TEST

START_TEST(find_dir_names_files)
{
    char err[ERRLEN], *img = NULL, *lab = NULL;
    ck_assert_int_eq(mkdir(T("fd").s, 0700), 0);
    copy_file(P("c10_images.idx3-ubyte").s, T("fd/t10k-images-idx3-ubyte").s);
    copy_file(P("c10_labels.idx1-ubyte.gz").s, T("fd/t10k-labels.idx1-ubyte.gz").s);
    ck_assert_msg(clmlp_dataset_find_dir(T("fd").s, 1, &img, &lab, err, ERRLEN) == CLMLP_OK,
                  "%s", err);
    ck_assert_str_eq(img, T("fd/t10k-images-idx3-ubyte").s);
    ck_assert_str_eq(lab, T("fd/t10k-labels.idx1-ubyte.gz").s);
    free(img);
    free(lab);
    ck_assert_int_eq(clmlp_dataset_find_dir(T("fd").s, 0, &img, &lab, err, ERRLEN),
                     CLMLP_ERR_IO);
    ck_assert_ptr_null(img);
    ck_assert_ptr_null(lab);
    HAS(err, "no train images file");
}
END_TEST

/* ---- dataset helpers ---- */

static void make_set(clmlp_dataset *d, size_t n, size_t dim)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->dim = dim;
    d->X = malloc(n * dim * sizeof *d->X);
    d->labels = malloc(n * sizeof *d->labels);
    ck_assert_ptr_nonnull(d->X);
    ck_assert_ptr_nonnull(d->labels);
    for (size_t i = 0; i < n; i++) {
        d->labels[i] = (int32_t)(i % 3);
        for (size_t j = 0; j < dim; j++)
            d->X[i * dim + j] = (float)(i * 10 + j);
    }
    d->n_classes = 3;
}

START_TEST(moments_and_standardize)
{
    enum { DIM = 130 }; /* more than one 64-column block */
    clmlp_dataset d;
    float mean[DIM], std[DIM];
    make_set(&d, 4, DIM);
    for (size_t i = 0; i < 4; i++)
        d.X[i * DIM + 1] = 7.0f; /* a constant feature */
    clmlp_dataset_moments(&d, mean, std);
    ck_assert_double_eq_tol(mean[0], 15.0, 1e-6); /* 0, 10, 20, 30 */
    ck_assert_double_eq_tol(std[0], sqrt(125.0), 1e-5);
    ck_assert_float_eq(mean[1], 7.0f);
    ck_assert_float_eq(std[1], 0.0f);
    ck_assert_double_eq_tol(mean[129], 144.0, 1e-5);
    ck_assert_double_eq_tol(std[129], sqrt(125.0), 1e-5);
    clmlp_dataset_standardize(&d, mean, std);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_float_eq(d.X[i * DIM + 1], 0.0f); /* std 0 treated as 1: no NaN */
        ck_assert_double_eq_tol(d.X[i * DIM], ((double)i * 10 - 15) / sqrt(125.0), 1e-6);
    }
    clmlp_dataset_moments(&d, mean, std);
    ck_assert_double_eq_tol(mean[0], 0.0, 1e-6);
    ck_assert_double_eq_tol(std[0], 1.0, 1e-6);
    clmlp_dataset_free(&d);
}
END_TEST

START_TEST(split_tail)
{
    clmlp_dataset d, v;
    make_set(&d, 5, 3);
    ck_assert_int_eq(clmlp_dataset_split_tail(&d, 6, &v), CLMLP_ERR_ARG);
    ck_assert_int_eq(clmlp_dataset_split_tail(&d, 2, &v), CLMLP_OK);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(v.n, 2);
    ck_assert_uint_eq(v.dim, 3);
    ck_assert_int_eq(v.n_classes, 3);
    ck_assert_float_eq(v.X[0], 30.0f);
    ck_assert_float_eq(v.X[5], 42.0f);
    ck_assert_int_eq(v.labels[0], 0);
    ck_assert_int_eq(v.labels[1], 1);
    ck_assert_float_eq(d.X[8], 22.0f);
    clmlp_dataset_free(&v);
    ck_assert_int_eq(clmlp_dataset_split_tail(&d, 0, &v), CLMLP_OK);
    ck_assert_uint_eq(v.n, 0);
    ck_assert_ptr_null(v.X);
    ck_assert_int_eq(clmlp_dataset_split_tail(&d, 3, &v), CLMLP_OK);
    ck_assert_uint_eq(d.n, 0);
    ck_assert_uint_eq(v.n, 3);
    ck_assert_float_eq(v.X[0], 0.0f);
    clmlp_dataset_free(&v);
    clmlp_dataset_free(&d);
}
END_TEST

START_TEST(bad_arguments)
{
    clmlp_dataset d;
    char err[ERRLEN];
    ck_assert_int_eq(clmlp_idx_load(NULL, "x", &d, err, ERRLEN), CLMLP_ERR_ARG);
    ck_assert_int_eq(clmlp_idx_load(NULL, NULL, &d, err, ERRLEN), CLMLP_ERR_ARG);
    EXPECT_EMPTY(d);
    ck_assert_int_eq(clmlp_idx_load("x", "y", NULL, err, ERRLEN), CLMLP_ERR_ARG);
    ck_assert_int_eq(clmlp_csv_load(NULL, NULL, &d, err, ERRLEN), CLMLP_ERR_ARG);
    ck_assert_int_eq(clmlp_dataset_check_labels(&d, 0, NULL, err, ERRLEN), CLMLP_ERR_ARG);
    /* no error buffer at all: still just a status */
    ck_assert_int_eq(clmlp_idx_load(P("c10_images_le_header.idx3-ubyte").s,
                                    P("c10_labels.idx1-ubyte").s, &d, NULL, 0),
                     CLMLP_ERR_FORMAT);
    ck_assert_int_eq(clmlp_csv_load(P("c19_ragged_row.csv").s, NULL, &d, err, 1),
                     CLMLP_ERR_FORMAT);
    ck_assert_str_eq(err, ""); /* truncated to fit, and terminated */
    clmlp_dataset_free(NULL);
}
END_TEST

/* ---- runner ---- */

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *idx = tcase_create("idx"), *c12 = tcase_create("labels"), *c19 = tcase_create("csv");
    TCase *gen = tcase_create("generated"), *misc = tcase_create("dataset");
    tcase_add_test(idx, c10_raw);
    tcase_add_test(idx, c10_gzip_and_spellings_identical);
    tcase_add_test(idx, c10_le_header);
    tcase_add_test(idx, c10_float_type);
    tcase_add_test(idx, c10_missing_file);
    tcase_add_test(idx, c10_load_dir_spellings);
    tcase_add_test(c12, c12_idx_labels_out_of_range);
    tcase_add_test(c12, c12_images_file_as_labels);
    tcase_add_test(c12, c12_count_mismatch);
    tcase_add_test(c12, c12_csv_negative);
    tcase_add_test(c12, c12_csv_fraction);
    tcase_add_test(c12, c12_csv_too_big);
    tcase_add_test(c12, c12_csv_labels_2_3_for_2_classes);
    tcase_add_test(c19, c19_ok);
    tcase_add_test(c19, c19_header_row);
    tcase_add_test(c19, c19_trailing_blank_lines);
    tcase_add_test(c19, c19_crlf);
    tcase_add_test(c19, c19_no_final_newline);
    tcase_add_test(c19, c19_utf8_bom);
    tcase_add_test(c19, c19_spaces_around_fields);
    tcase_add_test(c19, c19_ragged_row);
    tcase_add_test(c19, c19_non_numeric_cell);
    tcase_add_test(c19, c19_decimal_comma_quoted);
    tcase_add_test(c19, c19_nan_inf_cells);
    tcase_add_test(c19, c19_empty_file);
    tcase_add_test(c19, c19_ok_under_comma_locale);
    tcase_add_test(c19, c14_csvs);
    tcase_add_test(c19, c01_huge_features);
    tcase_add_test(gen, gen_idx_plain_and_gzip);
    tcase_add_test(gen, gen_idx_truncated);
    tcase_add_test(gen, gen_idx_trailing_bytes);
    tcase_add_test(gen, gen_gzip_corrupt);
    tcase_add_test(gen, gen_idx_size_overflow);
    tcase_add_test(gen, gen_idx_bad_headers);
    tcase_add_test(gen, gen_empty_files);
    tcase_add_test(gen, gen_csv_long_lines);
    tcase_add_test(gen, gen_csv_bad_cells);
    tcase_add_test(gen, gen_csv_accepted_forms);
    tcase_add_test(gen, gen_csv_label_column);
    tcase_add_test(gen, idx_images_only);
    tcase_add_test(gen, idx_images_only_errors);
    tcase_add_test(gen, csv_features_only);
    tcase_add_test(gen, csv_features_only_errors);
    tcase_add_test(gen, csv_label_limit);
    tcase_add_test(gen, csv_line_ends_and_separators);
    tcase_add_test(gen, find_dir_names_files);
    tcase_add_test(misc, moments_and_standardize);
    tcase_add_test(misc, split_tail);
    tcase_add_test(misc, bad_arguments);
    suite_add_tcase(s, idx);
    suite_add_tcase(s, c12);
    suite_add_tcase(s, c19);
    suite_add_tcase(s, gen);
    suite_add_tcase(s, misc);
    return s;
}

/* Removes the scratch folder: its files and the one level of subfolders the tests make. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    SRunner *sr;
    int failed;
    snprintf(g_tmp, sizeof g_tmp, "%s/clmlp_test_data_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tree(g_tmp);
    return failed == 0 ? 0 : 1;
}
