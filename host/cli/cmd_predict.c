/* cmd_predict.c - `clmlp predict MODEL INPUT`: the predicted class and the output
 * probabilities of every sample of an IDX image file or a CSV file. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cli_cmds.h"
#include "cli_common.h"
#include "cli_model.h"

static const char predict_help[] =
    "Usage: clmlp predict MODEL INPUT [OPTIONS]\n"
    "Prints one line per sample of INPUT: the predicted class, then the model's outputs\n"
    "(probabilities for a softmax model), comma-separated.\n"
    "\n"
    "INPUT is recognised by its contents:\n"
    "  - an IDX image file (idx3, unsigned byte or float32; plain or gzip), e.g.\n"
    "    t10k-images-idx3-ubyte.gz; pixels are scaled to [0, 1] as in training;\n"
    "  - otherwise a CSV file. By default every column is a feature (no label). With\n"
    "    --label-column N, column N holds a label: it is not fed to the model, and the\n"
    "    accuracy against it is printed on stderr.\n"
    "\n"
    "  --output FILE         write the lines to FILE instead of stdout\n"
    "  --label-column N      the CSV has a label in 0-based column N (see above)\n"
    "  --header yes|no|auto  whether the CSV starts with a header line (default auto: a first\n"
    "                        line that is not numeric is a header)\n"
    "  --device D            OpenCL device index or name substring, or cpu (default as train)\n"
    "  --help                show this help\n"
    "Standardisation saved with the model is applied to the inputs first.\n";

typedef struct predict_args {
    const char *model, *input, *output, *device;
    clmlp_csv_options csv;
    int labelled;
} predict_args;

static int parse_args(predict_args *a, int argc, char **argv)
{
    enum { O_OUTPUT = 256, O_LABEL, O_HEADER, O_DEVICE, O_HELP };
    static const struct option opts[] = {
        {"output", required_argument, NULL, O_OUTPUT},
        {"label-column", required_argument, NULL, O_LABEL},
        {"header", required_argument, NULL, O_HEADER},
        {"device", required_argument, NULL, O_DEVICE}, {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    uint64_t v = 0;
    int id;
    opterr = 0;
    optind = 1;
    while ((id = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (id) {
        case 'o':
        case O_OUTPUT: a->output = optarg; break;
        case O_DEVICE: a->device = optarg; break;
        case O_LABEL:
            if (!cli_parse_u64("predict", "--label-column", optarg, 0, 1000000, &v))
                return CLI_EXIT_USAGE;
            a->csv.label_column = (int)v;
            a->labelled = 1;
            break;
        case O_HEADER:
            if (!cli_parse_header("predict", optarg, &a->csv.header))
                return CLI_EXIT_USAGE;
            break;
        case 'h':
        case O_HELP: fputs(predict_help, stdout); return CLI_EXIT_HELP;
        case ':': return cli_usage("predict", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage("predict", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind < 2)
        return cli_usage("predict", "need MODEL and INPUT");
    a->model = argv[optind];
    a->input = argv[optind + 1];
    if (argc - optind > 2)
        return cli_usage("predict", "unexpected argument '%s'", argv[optind + 2]);
    return CLI_EXIT_OK;
}

/* ---- IDX images without labels (clmlp_idx_load wants a label file) ---------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* 1: the file starts like an idx3 image file (after gunzip when compressed). */
static int looks_like_idx(const char *path)
{
    unsigned char h[4];
    gzFile f = gzopen(path, "rb"); /* reads plain files as they are */
    if (!f)
        return 0;
    int n = gzread(f, h, sizeof h);
    gzclose(f);
    return n == 4 && h[0] == 0 && h[1] == 0 && (h[2] == 0x08 || h[2] == 0x0D) && h[3] == 3;
}

static int idx_pixels(gzFile f, const char *path, int is_float, size_t count, float *X)
{
    size_t width = is_float ? 4 : 1, chunk = 1 << 16;
    unsigned char *buf = malloc(chunk * width);
    if (!buf) {
        cli_err("predict", "out of memory");
        return CLI_EXIT_FAIL;
    }
    int rc = CLI_EXIT_OK;
    for (size_t done = 0; done < count && rc == CLI_EXIT_OK;) {
        size_t want = count - done < chunk ? count - done : chunk;
        if (gzread(f, buf, (unsigned)(want * width)) != (int)(want * width)) {
            cli_err("predict", "%s: truncated: expected %zu pixels, the file ends before", path,
                    count);
            rc = CLI_EXIT_FAIL;
            break;
        }
        for (size_t i = 0; i < want; i++) {
            if (!is_float) {
                X[done + i] = (float)buf[i] / 255.0f;
                continue;
            }
            uint32_t bits = be32(buf + 4 * i);
            memcpy(&X[done + i], &bits, sizeof bits);
            if (!isfinite(X[done + i])) {
                cli_err("predict", "%s: pixel %zu is not finite", path, done + i);
                rc = CLI_EXIT_FAIL;
            }
        }
        done += want;
    }
    free(buf);
    return rc;
}

static int idx_header(gzFile f, const char *path, clmlp_dataset *d, int *is_float)
{
    unsigned char h[16];
    if (gzread(f, h, sizeof h) != (int)sizeof h) {
        cli_err("predict", "%s: shorter than the 16-byte IDX header", path);
        return CLI_EXIT_FAIL;
    }
    *is_float = h[2] == 0x0D;
    uint64_t n = be32(h + 4), rows = be32(h + 8), cols = be32(h + 12);
    if (n == 0 || rows == 0 || cols == 0 || rows * cols > (1u << 30) ||
        n * rows * cols > (uint64_t)SIZE_MAX / sizeof(float) || n > UINT32_MAX) {
        cli_err("predict", "%s: bad IDX dimensions %llu x %llu x %llu", path,
                (unsigned long long)n, (unsigned long long)rows, (unsigned long long)cols);
        return CLI_EXIT_FAIL;
    }
    d->n = (size_t)n;
    d->rows = (size_t)rows;
    d->cols = (size_t)cols;
    d->dim = (size_t)(rows * cols);
    return CLI_EXIT_OK;
}

static int load_idx_images(const char *path, size_t max_dim, clmlp_dataset *d)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        cli_err("predict", "%s: cannot open: %s", path, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    int is_float = 0;
    int rc = idx_header(f, path, d, &is_float);
    if (rc == CLI_EXIT_OK && d->dim != max_dim) {
        cli_err("predict", "%s has %zu pixels per image but the model's input layer has %zu",
                path, d->dim, max_dim);
        rc = CLI_EXIT_FAIL;
    }
    if (rc == CLI_EXIT_OK) {
        d->X = malloc(d->n * d->dim * sizeof *d->X);
        rc = d->X ? idx_pixels(f, path, is_float, d->n * d->dim, d->X) : CLI_EXIT_FAIL;
        if (!d->X)
            cli_err("predict", "out of memory for %zu images", d->n);
    }
    unsigned char extra;
    if (rc == CLI_EXIT_OK && gzread(f, &extra, 1) != 0) {
        cli_err("predict", "%s: unexpected bytes after the %zu images", path, d->n);
        rc = CLI_EXIT_FAIL;
    }
    gzclose(f);
    if (rc != CLI_EXIT_OK)
        clmlp_dataset_free(d);
    return rc;
}

/* ---- CSV of features only ------------------------------------------------------------- */

/* Parses one line of comma-separated numbers into row (cap values); returns the count, or
 * (size_t)-1 after printing an error. */
static size_t parse_csv_row(const char *path, size_t line_no, char *line, float *row, size_t cap)
{
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end = NULL;
        errno = 0;
        double v = strtod(tok, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (end == tok || *end || errno == ERANGE || !isfinite(v)) {
            cli_err("predict", "%s:%zu: field %zu ('%s') is not a finite number", path, line_no,
                    n + 1, tok);
            return (size_t)-1;
        }
        if (n < cap)
            row[n] = (float)v;
        n++;
    }
    return n;
}

static int is_blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

/* Appends a row to d, growing it; dim is fixed by the model. */
static int push_row(clmlp_dataset *d, size_t *cap, const float *row)
{
    if (d->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        float *X = nc > SIZE_MAX / sizeof(float) / d->dim ? NULL
                                                           : realloc(d->X, nc * d->dim * sizeof *X);
        if (!X) {
            cli_err("predict", "out of memory for the CSV rows");
            return CLI_EXIT_FAIL;
        }
        d->X = X;
        *cap = nc;
    }
    memcpy(d->X + d->n * d->dim, row, d->dim * sizeof *row);
    d->n++;
    return CLI_EXIT_OK;
}

static int read_feature_lines(FILE *fp, const char *path, int header, clmlp_dataset *d,
                              float *row)
{
    char *line = NULL;
    size_t len_cap = 0, cap = 0, line_no = 0;
    int rc = CLI_EXIT_OK, first = 1;
    while (rc == CLI_EXIT_OK && getline(&line, &len_cap, fp) != -1) {
        line_no++;
        line[strcspn(line, "\r\n")] = '\0';
        char *s = line;
        if (line_no == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF)
            s += 3; /* UTF-8 byte order mark */
        if (is_blank(s))
            continue;
        int skip = first && (header == 1 || (header == -1 && strpbrk(s, "0123456789") == NULL));
        first = 0;
        if (skip)
            continue; /* a header line */
        size_t n = parse_csv_row(path, line_no, s, row, d->dim);
        if (n == (size_t)-1)
            rc = CLI_EXIT_FAIL;
        else if (n != d->dim) {
            cli_err("predict", "%s:%zu: %zu values but the model's input layer has %zu (use "
                    "--label-column N if the file holds labels)", path, line_no, n, d->dim);
            rc = CLI_EXIT_FAIL;
        } else
            rc = push_row(d, &cap, row);
    }
    free(line);
    if (rc == CLI_EXIT_OK && d->n == 0) {
        cli_err("predict", "%s: no samples", path);
        rc = CLI_EXIT_FAIL;
    }
    return rc;
}

static int load_feature_csv(const char *path, int header, size_t dim, clmlp_dataset *d)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        cli_err("predict", "%s: cannot open: %s", path, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    float *row = malloc(dim * sizeof *row);
    d->dim = dim;
    int rc = row ? read_feature_lines(fp, path, header, d, row) : CLI_EXIT_FAIL;
    if (!row)
        cli_err("predict", "out of memory");
    free(row);
    fclose(fp);
    if (rc != CLI_EXIT_OK)
        clmlp_dataset_free(d);
    return rc;
}

/* ---- Output --------------------------------------------------------------------------- */

static int write_predictions(const predict_args *a, const float *P, size_t n, size_t k)
{
    FILE *out = a->output ? fopen(a->output, "w") : stdout;
    if (!out) {
        cli_err("predict", "%s: cannot open for writing: %s", a->output, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        const float *p = P + i * k;
        fprintf(out, "%zu", cli_argmax(p, k));
        for (size_t j = 0; j < k; j++)
            fprintf(out, ",%.7g", (double)p[j]);
        fputc('\n', out);
    }
    int bad = ferror(out);
    if (a->output)
        bad |= fclose(out) != 0;
    else
        bad |= fflush(out) != 0;
    if (bad) {
        cli_err("predict", "%s: write failed", a->output ? a->output : "standard output");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static void report_accuracy(const clmlp_dataset *d, const float *P, size_t k)
{
    size_t correct = 0;
    for (size_t i = 0; i < d->n; i++)
        correct += cli_argmax(P + i * k, k) == (size_t)d->labels[i];
    fprintf(stderr, "accuracy against the label column: %.4f (%zu/%zu)\n",
            (double)correct / (double)d->n, correct, d->n);
}

static int load_input(const predict_args *a, const cli_model *m, clmlp_dataset *d)
{
    size_t in = m->net->sizes[0];
    if (a->labelled)
        return cli_load_eval_data("predict", NULL, a->input, &a->csv, d);
    if (looks_like_idx(a->input))
        return load_idx_images(a->input, in, d);
    return load_feature_csv(a->input, a->csv.header, in, d);
}

int cmd_predict(int argc, char **argv)
{
    predict_args a;
    memset(&a, 0, sizeof a);
    a.csv = clmlp_csv_options_default();
    int rc = parse_args(&a, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
    cli_model m;
    clmlp_dataset d;
    memset(&d, 0, sizeof d);
    float *P = NULL;
    rc = cli_model_load("predict", a.model, &m);
    if (rc == CLI_EXIT_OK)
        rc = load_input(&a, &m, &d);
    if (rc == CLI_EXIT_OK)
        rc = cli_model_prepare_data("predict", &m, &d, a.labelled);
    if (rc == CLI_EXIT_OK)
        rc = cli_model_predict("predict", &m, a.device, &d, NULL, &P);
    size_t k = m.net ? m.net->sizes[m.net->n_layers] : 0;
    if (rc == CLI_EXIT_OK)
        rc = write_predictions(&a, P, d.n, k);
    if (rc == CLI_EXIT_OK && a.labelled)
        report_accuracy(&d, P, k);
    free(P);
    clmlp_dataset_free(&d);
    cli_model_free(&m);
    return rc;
}
