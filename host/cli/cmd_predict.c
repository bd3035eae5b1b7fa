/* cmd_predict.c - `clmlp predict MODEL INPUT`: the predicted class and the output
 * probabilities of every sample of an IDX image file or a CSV file. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "    t10k-images-idx3-ubyte.gz; pixels are scaled to [0, 1] as in training. Any gzip\n"
    "    file is read as IDX;\n"
    "  - otherwise a CSV file, read as train reads it ('.' decimal point, no empty or quoted\n"
    "    cells). By default every column is a feature (no label). With\n"
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
