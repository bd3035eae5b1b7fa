/* cmd_eval.c - `clmlp eval MODEL`: loss, accuracy and confusion matrix of a saved model on a
 * labelled data set. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_common.h"
#include "cli_model.h"
#include "train.h"

static const char eval_help[] =
    "Usage: clmlp eval MODEL [OPTIONS]\n"
    "Evaluates a saved model on labelled data: loss, accuracy and the confusion matrix\n"
    "(rows: true class, columns: predicted class).\n"
    "\n"
    "  --data DIR            MNIST-format folder; its t10k-* test split is used\n"
    "                        (default " CLI_DEFAULT_DATA ")\n"
    "  --csv FILE            CSV with a label column instead\n"
    "  --label-column N      0-based label column of the CSV (default 0)\n"
    "  --header yes|no|auto  whether the CSV starts with a header line (default auto)\n"
    "  --device D            OpenCL device index or name substring, or cpu (default as train)\n"
    "  --help                show this help\n"
    "Standardisation saved with the model is applied to the data first.\n";

typedef struct eval_args {
    const char *model, *data_dir, *csv_path, *device;
    clmlp_csv_options csv;
} eval_args;

static int parse_args(eval_args *a, int argc, char **argv)
{
    enum { O_DATA = 256, O_CSV, O_LABEL, O_HEADER, O_DEVICE, O_HELP };
    static const struct option opts[] = {
        {"data", required_argument, NULL, O_DATA},   {"csv", required_argument, NULL, O_CSV},
        {"label-column", required_argument, NULL, O_LABEL},
        {"header", required_argument, NULL, O_HEADER},
        {"device", required_argument, NULL, O_DEVICE}, {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    uint64_t v = 0;
    int id;
    opterr = 0;
    optind = 1;
    while ((id = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (id) {
        case O_DATA: a->data_dir = optarg; break;
        case O_CSV: a->csv_path = optarg; break;
        case O_DEVICE: a->device = optarg; break;
        case O_LABEL:
            if (!cli_parse_u64("eval", "--label-column", optarg, 0, 1000000, &v))
                return CLI_EXIT_USAGE;
            a->csv.label_column = (int)v;
            break;
        case O_HEADER:
            if (!cli_parse_header("eval", optarg, &a->csv.header))
                return CLI_EXIT_USAGE;
            break;
        case 'h':
        case O_HELP: fputs(eval_help, stdout); return CLI_EXIT_HELP;
        case ':': return cli_usage("eval", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage("eval", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage("eval", "missing MODEL");
    a->model = argv[optind++];
    if (optind < argc)
        return cli_usage("eval", "unexpected argument '%s'", argv[optind]);
    if (a->data_dir && a->csv_path)
        return cli_usage("eval", "--data and --csv exclude each other");
    return CLI_EXIT_OK;
}

static void print_confusion(const size_t *cm, size_t k)
{
    printf("confusion matrix (rows: true class, columns: predicted class)\n%6s", "");
    for (size_t j = 0; j < k; j++)
        printf(" %6zu", j);
    printf("\n");
    for (size_t i = 0; i < k; i++) {
        printf("%6zu", i);
        for (size_t j = 0; j < k; j++)
            printf(" %6zu", cm[i * k + j]);
        printf("\n");
    }
}

/* Scores the predictions and prints the report. */
static int report(const clmlp_net *net, const clmlp_dataset *d, const float *P)
{
    size_t k = net->sizes[net->n_layers], correct = 0;
    double loss = 0.0;
    if (!clmlp_score_outputs(P, d->labels, d->n, k, net->loss, &loss, &correct)) {
        cli_err("eval", "the model produced NaN or Inf outputs");
        return CLI_EXIT_FAIL;
    }
    size_t *cm = calloc(k * k, sizeof *cm);
    if (!cm) {
        cli_err("eval", "out of memory for the confusion matrix");
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < d->n; i++)
        cm[(size_t)d->labels[i] * k + cli_argmax(P + i * k, k)]++;
    printf("samples: %zu\nloss: %.6f (%s)\naccuracy: %.4f (%zu/%zu)\n", d->n, loss,
           clmlp_loss_name(net->loss), (double)correct / (double)d->n, correct, d->n);
    print_confusion(cm, k);
    free(cm);
    return CLI_EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    eval_args a;
    memset(&a, 0, sizeof a);
    a.csv = clmlp_csv_options_default();
    int rc = parse_args(&a, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
    cli_model m;
    clmlp_dataset d;
    memset(&d, 0, sizeof d);
    float *P = NULL;
    rc = cli_model_load("eval", a.model, &m);
    if (rc == CLI_EXIT_OK)
        rc = cli_load_eval_data("eval", a.data_dir, a.csv_path, &a.csv, cli_model_classes(&m),
                                m.net->sizes[0], &d);
    const char *src = a.csv_path ? a.csv_path : a.data_dir ? a.data_dir : CLI_DEFAULT_DATA;
    if (rc == CLI_EXIT_OK)
        rc = cli_model_prepare_data("eval", &m, src, &d, 1);
    if (rc == CLI_EXIT_OK)
        rc = cli_model_predict("eval", &m, a.device, src, &d, stdout, &P);
    if (rc == CLI_EXIT_OK)
        rc = report(m.net, &d, P);
    free(P);
    clmlp_dataset_free(&d);
    cli_model_free(&m);
    return rc;
}
