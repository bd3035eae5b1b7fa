/* main.c - the clmlp command: dispatches to a subcommand, answers --help and --version. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_common.h"

#ifndef CLMLP_VERSION
#define CLMLP_VERSION "0.1.0"
#endif

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand commands[] = {
    {"train", cmd_train, "train a network and optionally save it"},
    {"eval", cmd_eval, "loss, accuracy and confusion matrix of a saved model"},
    {"predict", cmd_predict, "class and probabilities for every input sample"},
    {"compare", cmd_compare, "run the same steps on an OpenCL device and the CPU reference"},
    {"devices", cmd_devices, "list OpenCL platforms and devices"},
    {"vanish", cmd_vanish, "the vanishing-gradient experiment: per-layer |delta| by activation"},
    {"bench", cmd_bench, "time every kernel and the training step (samples/s, GFLOP/s)"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: clmlp COMMAND [OPTIONS]\n"
               "Backpropagation training of fully connected networks on OpenCL devices.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'clmlp COMMAND --help' for the options of a command.\n"
               "  --help     show this help\n"
               "  --version  show the version\n");
}

/* Output that never reached its file (a full disk, /dev/full) must not end in exit 0. */
static int finish_stdout(const char *cmd, int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "clmlp %s: writing the standard output failed: %s\n", cmd,
                strerror(errno));
        return rc == CLI_EXIT_OK ? CLI_EXIT_FAIL : rc;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("clmlp %s\n", CLMLP_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return finish_stdout(cmd, commands[i].run(argc - 1, argv + 1));
    return cli_usage(NULL, "unknown command '%s'", cmd);
}
