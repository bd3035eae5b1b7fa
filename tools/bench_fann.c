/* bench_fann.c - the FANN baseline for BENCHMARKS.md ("Against FANN"): the same network as
 * clmlp's benchmarks, 784-256-128-10, trained on Fashion-MNIST by FANN 2.2 (float build, to match
 * clmlp's float32), timed with the wall clock around fann_train_epoch, then tested.
 *
 * FANN has no softmax/cross-entropy: the network is tanh hidden layers (FANN_SIGMOID_SYMMETRIC at
 * steepness 1.0, i.e. exactly tanh) and a logistic output (FANN_SIGMOID at FANN's default
 * steepness 0.5, i.e. 1/(1+e^-x)) trained on squared error against one-hot 0/1 targets: FANN's
 * own loss, and clmlp's `--act tanh --loss mse` (whose default output is sigmoid). The error
 * function is set to FANN_ERRORFUNC_LINEAR (plain MSE; FANN's default, FANN_ERRORFUNC_TANH,
 * stretches large errors, at the same cost). Weights start uniform in [-0.1, 0.1] (FANN's
 * default range, seeded here), no momentum, learning rate --lr.
 *
 * Modes (one epoch = one pass of fann_train_epoch over the first --n training samples, in file
 * order):
 *   incremental  FANN_TRAIN_INCREMENTAL: forward, backward and weight update per sample (plain
 *                per-sample SGD, batch 1: FANN's classic mode; fann_train_epoch calls fann_train
 *                once per sample)
 *   batch        FANN_TRAIN_BATCH: forward and backward per sample, gradients summed over the
 *                whole epoch, one update at the end (full-batch gradient descent: the speed of
 *                the gradient computation; one epoch of it does not train the network)
 * Every run builds a fresh network (seed + run index). FANN is single-threaded; each run also
 * prints its CPU time, which on a shared machine shows how much of a core it had.
 *
 * Build (Debian: apt-get install libfann-dev; clmlp's library only reads the IDX files):
 *   cmake -S . -B build-fann -DCMAKE_BUILD_TYPE=Release && cmake --build build-fann -j2
 *   cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Ihost tools/bench_fann.c build-fann/libclmlp.a \
 *      -lfloatfann -lOpenCL -lz -lm -lpthread -o build-fann/bench-fann
 * Usage:
 *   build-fann/bench-fann [--mode incremental|batch|both] [--n N] [--runs R] [--lr X]
 *                         [--seed S] [--data DIR] [--no-test]
 * Defaults: both modes, N = 60000 (one full epoch), 3 runs, lr 0.01, seed 1,
 * /usr/share/datasets/fashion-mnist. Prints one line per run and the median samples/s per mode.
 */
#include <floatfann.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/dataset.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The first n samples of d as FANN training data: pixels as read (scaled to [0, 1]), one-hot
 * 0/1 targets. */
static struct fann_train_data *to_fann(const clmlp_dataset *d, size_t n, int classes)
{
    struct fann_train_data *t = fann_create_train((unsigned)n, (unsigned)d->dim, (unsigned)classes);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(t->input[i], d->X + i * d->dim, d->dim * sizeof(float));
        for (int c = 0; c < classes; c++)
            t->output[i][c] = (d->labels[i] == c) ? 1.0f : 0.0f;
    }
    return t;
}

static double test_accuracy(struct fann *ann, const clmlp_dataset *test)
{
    size_t right = 0;
    for (size_t i = 0; i < test->n; i++) {
        fann_type *y = fann_run(ann, test->X + i * test->dim);
        int best = 0;
        for (int c = 1; c < 10; c++)
            if (y[c] > y[best])
                best = c;
        right += (best == test->labels[i]);
    }
    return (double)right / (double)test->n;
}

static struct fann *make_net(enum fann_train_enum algo, float lr, unsigned seed)
{
    struct fann *ann = fann_create_standard(4, 784, 256, 128, 10);
    if (!ann)
        return NULL;
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_steepness_hidden(ann, 1.0f);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_output(ann, 0.5f);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_training_algorithm(ann, algo);
    fann_set_learning_rate(ann, lr);
    fann_set_learning_momentum(ann, 0.0f);
    srand(seed);
    fann_randomize_weights(ann, -0.1f, 0.1f);
    return ann;
}

static int bench_mode(const char *name, enum fann_train_enum algo, struct fann_train_data *train,
                      const clmlp_dataset *test, int runs, float lr, unsigned seed)
{
    double *rate = malloc((size_t)runs * sizeof *rate);
    if (!rate)
        return 1;
    unsigned n = fann_length_train_data(train);
    for (int r = 0; r < runs; r++) {
        struct fann *ann = make_net(algo, lr, seed + (unsigned)r);
        if (!ann) {
            fprintf(stderr, "fann_create_standard failed\n");
            free(rate);
            return 1;
        }
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        float mse = fann_train_epoch(ann, train);
        double dt = clock_s(CLOCK_MONOTONIC) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        rate[r] = n / dt;
        /* CPU time shows how much of a core the run had on a shared machine (FANN is
         * single-threaded: n / cpu is its speed on a core of its own). */
        printf("%-11s run %d: %u samples in %.3f s = %.0f samples/s (CPU %.3f s: %.0f samples "
               "per CPU-second), train MSE %.4f", name, r + 1, n, dt, rate[r], cpu, n / cpu, mse);
        if (test)
            printf(", test accuracy %.2f%%", 100.0 * test_accuracy(ann, test));
        printf("\n");
        fflush(stdout);
        fann_destroy(ann);
    }
    qsort(rate, (size_t)runs, sizeof *rate, cmp_double);
    printf("%-11s median %.0f samples/s (min %.0f, max %.0f) over %d runs\n", name,
           runs % 2 ? rate[runs / 2] : 0.5 * (rate[runs / 2 - 1] + rate[runs / 2]), rate[0],
           rate[runs - 1], runs);
    fflush(stdout);
    free(rate);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = "both", *dir = "/usr/share/datasets/fashion-mnist";
    size_t n = 60000;
    int runs = 3, do_test = 1;
    float lr = 0.01f;
    unsigned seed = 1;
    for (int i = 1; i < argc; i++) {
        int more = i + 1 < argc;
        if (!strcmp(argv[i], "--mode") && more)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--n") && more)
            n = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && more)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lr") && more)
            lr = strtof(argv[++i], NULL);
        else if (!strcmp(argv[i], "--seed") && more)
            seed = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--data") && more)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--no-test"))
            do_test = 0;
        else {
            fprintf(stderr, "usage: %s [--mode incremental|batch|both] [--n N] [--runs R] "
                            "[--lr X] [--seed S] [--data DIR] [--no-test]\n", argv[0]);
            return 2;
        }
    }
    int inc = !strcmp(mode, "incremental") || !strcmp(mode, "both");
    int bat = !strcmp(mode, "batch") || !strcmp(mode, "both");
    if ((!inc && !bat) || runs < 1 || n < 1) {
        fprintf(stderr, "bad --mode, --runs or --n\n");
        return 2;
    }

    char err[512];
    clmlp_dataset tr = {0}, te = {0};
    if (clmlp_dataset_load_dir(dir, 0, &tr, err, sizeof err) != CLMLP_OK ||
        (do_test && clmlp_dataset_load_dir(dir, 1, &te, err, sizeof err) != CLMLP_OK)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (tr.dim != 784 || tr.n_classes > 10 || (do_test && te.dim != 784)) {
        fprintf(stderr, "expected 784-pixel images and 10 classes\n");
        return 1;
    }
    if (n > tr.n)
        n = tr.n;
    struct fann_train_data *train = to_fann(&tr, n, 10);
    if (!train) {
        fprintf(stderr, "fann_create_train failed\n");
        return 1;
    }
    printf("FANN 2.2 (float), network 784-256-128-10, tanh hidden, sigmoid output, MSE, lr %g, "
           "%zu training samples, %d runs\n", (double)lr, n, runs);
    int rc = 0;
    if (inc)
        rc |= bench_mode("incremental", FANN_TRAIN_INCREMENTAL, train, do_test ? &te : NULL, runs,
                         lr, seed);
    if (bat)
        rc |= bench_mode("batch", FANN_TRAIN_BATCH, train, do_test ? &te : NULL, runs, lr, seed);
    fann_destroy_train(train);
    clmlp_dataset_free(&tr);
    clmlp_dataset_free(&te);
    return rc;
}
