/* cmd_predict.c - `clmlp predict MODEL INPUT`: the predicted class and the output
 * probabilities of every sample of an IDX image file or a CSV file. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_cmds.h"
#include "cli_common.h"
#include "cli_model.h"
#include "model_io.h"

static const char predict_help[] =
    "Usage: clmlp predict MODEL INPUT [OPTIONS]\n"
    "Prints one line per sample of INPUT: the predicted class, then the model's outputs\n"
    "(probabilities for a softmax model), comma-separated.\n"
    "\n"
    "INPUT is recognised by its contents:\n"
    "  - an IDX image file (idx3, unsigned byte or float32; plain or gzip), e.g.\n"
    "    t10k-images-idx3-ubyte.gz; pixels are scaled to [0, 1] as in training. Any gzip\n"
    "    file is read as IDX;\n"
    "  - otherwise a CSV file, read as train reads it ('.' decimal point, no empty or quoted\n"
    "    cells). By default every column is a feature (no label). With\n"
    "    --label-column N, column N holds a label: it is not fed to the model, and the\n"
    "    accuracy against it is printed on stderr.\n"
    "\n"
    "  --output FILE         write the lines to FILE instead of stdout; the file is replaced\n"
    "                        atomically, only once every line is ready (it may not be MODEL\n"
    "                        or INPUT)\n"
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

/* ---- Input: the shared readers, in their unlabelled modes ------------------------------- */

/* IDX when the file is gzip (the CSV reader reads plain text only) or starts with the two zero
 * bytes every IDX magic starts with; the IDX reader then says precisely what is wrong (an idx1
 * file, a corrupt stream, a header claiming more than the file holds). Everything else is read
 * as CSV, whose reader names the line and field of anything that is not numbers. */
static int is_idx_input(const char *path)
{
    unsigned char b[2] = {1, 1};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f)
        fclose(f);
    return got == 2 && ((b[0] == 0x1F && b[1] == 0x8B) || (b[0] == 0 && b[1] == 0));
}

static int load_features(const predict_args *a, clmlp_dataset *d)
{
    char err[1024];
    clmlp_csv_options opt = a->csv;
    clmlp_status st;
    opt.label_column = -1; /* every column is a feature */
    if (is_idx_input(a->input))
        st = clmlp_idx_load(a->input, NULL, d, err, sizeof err);
    else
        st = clmlp_csv_load(a->input, &opt, d, err, sizeof err);
    if (st != CLMLP_OK) {
        cli_err("predict", "%s", err);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* ---- Output --------------------------------------------------------------------------- */

/* 1 when a and b name the same file: the same inode if both exist, else the same text. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a, b) == 0;
}

/* Before any work: --output may not replace the model or the input (a symlink or hard link to
 * either counts), nor something that is not a regular file (a folder, /dev/null, a FIFO), and
 * its folder must take a new file. */
static int check_output(const predict_args *a)
{
    if (!a->output)
        return CLI_EXIT_OK;
    if (!*a->output)
        return cli_usage("predict", "--output needs a file name"); /* before same_file's stat */
    if (same_file(a->output, a->input) || same_file(a->output, a->model)) {
        cli_err("predict", "--output %s would overwrite the %s %s", a->output,
                same_file(a->output, a->input) ? "INPUT" : "MODEL",
                same_file(a->output, a->input) ? a->input : a->model);
        return CLI_EXIT_USAGE;
    }
    return cli_check_output("predict", "--output", a->output, 1);
}

/* The text of every line, built in memory so that --output is written in one atomic step. */
typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

static int text_reserve(text_buf *t, size_t n)
{
    if (n <= t->cap - t->len)
        return 1;
    if (n > SIZE_MAX / 2 - t->len)
        return 0;
    size_t cap = t->cap ? t->cap : 65536;
    while (cap - t->len < n)
        cap *= 2;
    char *p = realloc(t->data, cap);
    if (!p)
        return 0;
    t->data = p;
    t->cap = cap;
    return 1;
}

/* Appends one line per sample: the class, then the k outputs. */
static int format_predictions(text_buf *t, const float *P, size_t n, size_t k)
{
    enum { FIELD = 32 }; /* room for one ",%.7g" or "%zu" field and its NUL */
    for (size_t i = 0; i < n; i++) {
        const float *p = P + i * k;
        if (k > SIZE_MAX / FIELD - 2 || !text_reserve(t, (k + 2) * FIELD))
            return 0;
        t->len += (size_t)snprintf(t->data + t->len, FIELD, "%zu", cli_argmax(p, k));
        for (size_t j = 0; j < k; j++)
            t->len += (size_t)snprintf(t->data + t->len, FIELD, ",%.7g", (double)p[j]);
        t->data[t->len++] = '\n';
    }
    return 1;
}

static int write_predictions(const predict_args *a, const float *P, size_t n, size_t k)
{
    text_buf t = {NULL, 0, 0};
    if (!format_predictions(&t, P, n, k)) {
        free(t.data);
        cli_err("predict", "out of memory for the output of %zu samples", n);
        return CLI_EXIT_FAIL;
    }
    int rc = CLI_EXIT_OK;
    if (a->output) {
        char err[1024];
        if (clmlp_write_file_atomic(a->output, t.data, t.len, err, sizeof err) != CLMLP_OK) {
            cli_err("predict", "--output: %s", err);
            rc = CLI_EXIT_FAIL;
        }
    } else if ((t.len > 0 && fwrite(t.data, 1, t.len, stdout) != t.len) || fflush(stdout) != 0) {
        /* stdout's error flag stays set: main() reports it once and exits 1. */
        rc = CLI_EXIT_FAIL;
    }
    free(t.data);
    return rc;
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
    if (a->labelled)
        return cli_load_eval_data("predict", NULL, a->input, &a->csv, cli_model_classes(m),
                                  m->net->sizes[0], d);
    return load_features(a, d);
}

int cmd_predict(int argc, char **argv)
{
    predict_args a;
    memset(&a, 0, sizeof a);
    a.csv = clmlp_csv_options_default();
    int rc = parse_args(&a, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
    rc = check_output(&a);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_model m;
    clmlp_dataset d;
    memset(&d, 0, sizeof d);
    float *P = NULL;
    rc = cli_model_load("predict", a.model, &m);
    if (rc == CLI_EXIT_OK)
        rc = load_input(&a, &m, &d);
    if (rc == CLI_EXIT_OK)
        rc = cli_model_prepare_data("predict", &m, a.input, &d, a.labelled);
    if (rc == CLI_EXIT_OK)
        rc = cli_model_predict("predict", &m, a.device, a.input, &d, NULL, &P);
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
