/* test_checkpoint.c - checkpoints and resume: a run stopped after an epoch or in the middle of
 * one and resumed from its checkpoint ends with bit-identical weights to a straight run, on
 * both backends and with every optimizer; a checkpoint is a readable model file; a damaged one
 * is refused; a diverged run never overwrites a good checkpoint; one engine's whole state
 * copied into another (compare --resync). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "model_io.h"
#include "testutil.h"
#include "train.h"

static const clmlp_backend backends[] = {CLMLP_BACKEND_REF, CLMLP_BACKEND_OPENCL};

/* 500 samples of 12 features, 4 classes, learnable but not trivially. */
static void make_data(clmlp_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->n = 500, d->dim = 12, d->n_classes = 4;
    d->X = malloc(d->n * d->dim * sizeof *d->X);
    d->labels = malloc(d->n * sizeof *d->labels);
    clmlp_rng rng;
    clmlp_rng_seed(&rng, 11);
    for (size_t i = 0; i < d->n; i++) {
        d->labels[i] = (int32_t)(i % 4);
        for (size_t j = 0; j < d->dim; j++)
            d->X[i * d->dim + j] = (float)(clmlp_rng_uniform(&rng) + (j % 4 == (size_t)d->labels[i]));
    }
}

/* Creates the file named by the mkstemp template `path` (filled in place), for a checkpoint. */
static void make_temp_file(char *path)
{
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp %s failed", path);
    close(fd);
}

static clmlp_net *make_net(void)
{
    const size_t sizes[] = {12, 9, 7, 4};
    const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SIGMOID, CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 3, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_net_init(net, CLMLP_INIT_XAVIER, 5);
    return net;
}

/* Stops the run: after epoch `stop_epoch` (on_epoch) or at sample `stop_at` of it (progress). */
typedef struct stopper {
    unsigned stop_epoch;
    size_t stop_at;
} stopper;

static int stop_on_epoch(const clmlp_epoch_report *r, void *user)
{
    const stopper *s = user;
    return s->stop_at == 0 && r->epoch == s->stop_epoch;
}

static int stop_on_progress(unsigned epoch, size_t done, size_t total, void *user)
{
    const stopper *s = user;
    (void)total;
    return s->stop_at && epoch == s->stop_epoch && done >= s->stop_at;
}

/* The message of the last interrupted run_with. */
static char last_stop[512];

static clmlp_train_options options(clmlp_optimizer o, const char *ckpt)
{
    clmlp_train_options opt = clmlp_train_options_default();
    opt.epochs = 4;
    opt.batch = 64; /* 500 = 7 x 64 + 52: the last batch is partial */
    opt.seed = 9;
    opt.val_fraction = 0.1;
    opt.hyper.optimizer = o;
    opt.hyper.lr = o == CLMLP_OPT_ADAM ? 0.01f : 0.1f;
    opt.cosine_lr = 1;
    opt.checkpoint_path = ckpt;
    opt.checkpoint_every = ckpt ? 1 : 0;
    return opt;
}

/* Trains to the end (or until stopped) and returns the engine's final parameters; `test` is
 * the test set or NULL. */
static clmlp_status run_with(clmlp_backend b, clmlp_train_options *opt,
                             const clmlp_checkpoint *resume, const clmlp_dataset *test,
                             clmlp_net **out)
{
    clmlp_dataset d;
    make_data(&d);
    clmlp_net *net = resume ? NULL : make_net();
    const clmlp_net *shape = resume ? resume->net : net;
    clmlp_engine *e;
    char err[16384];
    ck_assert_msg(clmlp_train_engine_create(&e, b, NULL, shape, opt, err, sizeof err) == CLMLP_OK, "%s", err);
    if (resume) {
        ck_assert_msg(clmlp_checkpoint_apply(resume, e, err, sizeof err) == CLMLP_OK, "%s", err);
        opt->resume = &resume->state;
    }
    clmlp_net *best;
    ck_assert_int_eq(clmlp_net_clone(&best, resume && resume->best ? resume->best : shape), CLMLP_OK);
    clmlp_status st = clmlp_train(e, &d, test, opt, best, NULL, err, sizeof err);
    ck_assert_msg(st == CLMLP_OK || st == CLMLP_ERR_INTERRUPTED, "%s", err);
    if (st == CLMLP_ERR_INTERRUPTED)
        snprintf(last_stop, sizeof last_stop, "%s", err);
    ck_assert_int_eq(clmlp_net_clone(out, shape), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_get_params(e, *out), CLMLP_OK);
    clmlp_engine_free(e);
    clmlp_net_free(best), clmlp_net_free(net);
    clmlp_dataset_free(&d);
    return st;
}

static clmlp_status run(clmlp_backend b, clmlp_train_options *opt, const clmlp_checkpoint *resume,
                        clmlp_net **out)
{
    return run_with(b, opt, resume, NULL, out);
}

/* An engine of backend b on make_net() with Adam (whose state is all three parts: moments and
 * step count), the data and the identity order set, after `steps` steps of 64 samples. */
static clmlp_engine *adam_engine(clmlp_backend b, const clmlp_dataset *d, unsigned steps)
{
    clmlp_net *net = make_net();
    clmlp_hyper h = clmlp_hyper_default();
    h.optimizer = CLMLP_OPT_ADAM;
    h.lr = 0.01f;
    clmlp_engine *e;
    char err[16384];
    ck_assert_msg(clmlp_engine_create(&e, b, NULL, net, &h, 64, err, sizeof err) == CLMLP_OK, "%s",
                  err);
    clmlp_net_free(net);
    uint32_t *order = malloc(d->n * sizeof *order);
    for (size_t i = 0; i < d->n; i++)
        order[i] = (uint32_t)i;
    ck_assert_int_eq(clmlp_engine_set_data(e, d->X, d->labels, d->n, d->dim), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_set_order(e, order, d->n), CLMLP_OK);
    free(order);
    for (unsigned s = 0; s < steps; s++)
        ck_assert_msg(clmlp_engine_train_batch(e, 64 * (size_t)s, 64) == CLMLP_OK, "%s",
                      clmlp_engine_error(e));
    return e;
}

/* clmlp_engine_copy_state (compare --resync): after it the two engines hold the same state,
 * bit for bit: parameters, both moment arrays and the step count (Adam's bias correction),
 * from the device to the reference and back, starting from different states (3 steps against
 * 1). Engines of different shapes are refused. */
START_TEST(copy_state_leaves_one_state)
{
    clmlp_dataset d;
    make_data(&d);
    clmlp_engine *from = adam_engine(backends[_i], &d, 3), *to = adam_engine(backends[!_i], &d, 1);
    ck_assert_msg(clmlp_engine_copy_state(to, from) == CLMLP_OK, "%s", clmlp_engine_error(to));
    clmlp_net *pf = make_net(), *pt = make_net();
    size_t n = pf->n_params_padded;
    float *mf = malloc(n * 4), *vf = malloc(n * 4), *mt = malloc(n * 4), *vt = malloc(n * 4);
    uint64_t sf = 0, st = 0;
    ck_assert_int_eq(clmlp_engine_get_params(from, pf), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_get_params(to, pt), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_get_opt_state(from, &sf, mf, vf), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_get_opt_state(to, &st, mt, vt), CLMLP_OK);
    ck_assert_uint_eq(sf, 3);
    ck_assert_uint_eq(st, 3);
    ck_assert_mem_eq(pt->params, pf->params, n * 4);
    ck_assert_mem_eq(mt, mf, n * 4);
    ck_assert_mem_eq(vt, vf, n * 4);

    const size_t sizes[] = {12, 5, 4};
    const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SOFTMAX};
    clmlp_net *other;
    ck_assert_int_eq(clmlp_net_create(&other, 2, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_engine *small;
    char err[256];
    ck_assert_int_eq(clmlp_engine_create(&small, CLMLP_BACKEND_REF, NULL, other, &h, 8, err,
                                         sizeof err), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_copy_state(small, from), CLMLP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(clmlp_engine_error(small), "shape"));
    clmlp_engine_free(small), clmlp_net_free(other);
    clmlp_engine_free(from), clmlp_engine_free(to);
    clmlp_net_free(pf), clmlp_net_free(pt);
    free(mf), free(vf), free(mt), free(vt);
    clmlp_dataset_free(&d);
}
END_TEST

/* _i: backend x optimizer x (stop after epoch 2 | stop in the middle of epoch 3) */
START_TEST(resume_is_bit_identical_to_a_straight_run)
{
    clmlp_backend b = backends[_i % 2];
    clmlp_optimizer o = (clmlp_optimizer)((_i / 2) % 3);
    int mid_epoch = _i / 6;
    char ckpt[] = "/tmp/clmlp-ckpt-XXXXXX";
    make_temp_file(ckpt);

    clmlp_train_options straight = options(o, NULL);
    clmlp_net *a;
    ck_assert_int_eq(run(b, &straight, NULL, &a), CLMLP_OK);

    stopper s = {mid_epoch ? 3 : 2, mid_epoch ? 200 : 0};
    clmlp_train_options first = options(o, ckpt);
    first.on_epoch = stop_on_epoch, first.on_progress = stop_on_progress, first.user = &s;
    clmlp_net *partial;
    ck_assert_int_eq(run(b, &first, NULL, &partial), CLMLP_ERR_INTERRUPTED);
    ck_assert_msg(memcmp(partial->params, a->params, a->n_params_padded * 4) != 0,
                  "the interrupted run already had the final weights: nothing was tested");

    clmlp_checkpoint c;
    char err[2048];
    ck_assert_msg(clmlp_checkpoint_read(ckpt, &c, err, sizeof err) == CLMLP_OK, "%s", err);
    ck_assert_uint_eq(c.state.epoch, s.stop_epoch + (mid_epoch ? 0 : 1));
    /* META counts the finished epochs of the parameters in the file (it once said 0) */
    ck_assert_uint_eq(c.meta.epochs, c.state.epoch - 1);
    ck_assert_ptr_nonnull(c.best); /* validating: the best parameters travel too */
    clmlp_train_options second = options(o, ckpt);
    clmlp_net *resumed;
    ck_assert_int_eq(run(b, &second, &c, &resumed), CLMLP_OK);
    ck_assert_msg(memcmp(resumed->params, a->params, a->n_params_padded * 4) == 0,
                  "backend %d optimizer %d %s: resumed weights differ from the straight run", (int)b,
                  (int)o, mid_epoch ? "mid-epoch" : "after an epoch");

    /* The checkpoint is also a model file. */
    clmlp_net *as_model;
    ck_assert_msg(clmlp_model_load(ckpt, &as_model, NULL, err, sizeof err) == CLMLP_OK, "%s", err);
    clmlp_net_free(as_model);
    clmlp_checkpoint_free(&c);
    clmlp_net_free(a), clmlp_net_free(partial), clmlp_net_free(resumed);
    unlink(ckpt);
}
END_TEST

/* Counts the progress calls that come after epoch 1's training (done == total again: the
 * test-set evaluation's chunks) and stops at the first; records epoch 1's report. */
typedef struct eval_stopper {
    unsigned calls_at_end;
    int has_test_1, reports;
} eval_stopper;

static int stop_in_evaluation(unsigned epoch, size_t done, size_t total, void *user)
{
    eval_stopper *s = user;
    return epoch == 1 && done == total && ++s->calls_at_end == 2;
}

static int note_epoch(const clmlp_epoch_report *r, void *user)
{
    eval_stopper *s = user;
    s->reports++;
    if (r->epoch == 1)
        s->has_test_1 = r->has_test;
    return 0;
}

/* A stop request during the test-set evaluation (3000 rows, evaluated in chunks) cuts it short
 * instead of waiting for it (a re-tester's find: seconds on a large network): the epoch is kept,
 * reported without test figures, checkpointed, and resuming gives the straight run's weights. */
START_TEST(stop_inside_the_test_evaluation)
{
    clmlp_backend b = backends[_i];
    clmlp_dataset test;
    make_data(&test);
    free(test.X), free(test.labels);
    test.n = 3000;
    test.X = malloc(test.n * test.dim * sizeof *test.X);
    test.labels = malloc(test.n * sizeof *test.labels);
    for (size_t i = 0; i < test.n; i++) {
        test.labels[i] = (int32_t)(i % 4);
        for (size_t j = 0; j < test.dim; j++)
            test.X[i * test.dim + j] = (float)((j % 4 == i % 4) + 0.001 * (double)(i % 97));
    }
    char ckpt[] = "/tmp/clmlp-ckpt-XXXXXX";
    make_temp_file(ckpt);
    clmlp_train_options straight = options(CLMLP_OPT_MOMENTUM, NULL);
    straight.epochs = 2;
    clmlp_net *a, *stopped, *resumed;
    ck_assert_int_eq(run_with(b, &straight, NULL, &test, &a), CLMLP_OK);

    eval_stopper s = {0, -1, 0};
    clmlp_train_options first = options(CLMLP_OPT_MOMENTUM, ckpt);
    first.epochs = 2;
    first.on_progress = stop_in_evaluation, first.on_epoch = note_epoch, first.user = &s;
    ck_assert_int_eq(run_with(b, &first, NULL, &test, &stopped), CLMLP_ERR_INTERRUPTED);
    ck_assert_msg(strstr(last_stop, "after epoch 1 (in its test-set evaluation"), "%s", last_stop);
    ck_assert_int_eq(s.reports, 1);
    ck_assert_int_eq(s.has_test_1, 0);

    clmlp_checkpoint c;
    char err[2048];
    ck_assert_msg(clmlp_checkpoint_read(ckpt, &c, err, sizeof err) == CLMLP_OK, "%s", err);
    ck_assert_uint_eq(c.state.epoch, 2);
    clmlp_train_options second = options(CLMLP_OPT_MOMENTUM, ckpt);
    second.epochs = 2;
    ck_assert_int_eq(run_with(b, &second, &c, &test, &resumed), CLMLP_OK);
    ck_assert_msg(memcmp(resumed->params, a->params, a->n_params_padded * 4) == 0,
                  "backend %d: resumed weights differ from the straight run", (int)b);
    clmlp_checkpoint_free(&c);
    clmlp_net_free(a), clmlp_net_free(stopped), clmlp_net_free(resumed);
    clmlp_dataset_free(&test);
    unlink(ckpt);
}
END_TEST

/* Each epoch's test accuracy; stops after epoch `stop_epoch` (0: never). */
typedef struct test_recorder {
    double acc[8];
    unsigned stop_epoch;
} test_recorder;

static int record_test(const clmlp_epoch_report *r, void *user)
{
    test_recorder *t = user;
    if (r->epoch < 8)
        t->acc[r->epoch] = r->has_test ? r->test_acc : -1.0;
    return r->epoch == t->stop_epoch;
}

/* The checkpoint carries the run's test record (TSTR): the kept epoch's test accuracy and the
 * highest seen, so that a resumed run's summary reports them (it once said 0.0000, or only the
 * resumed epochs' highest; a re-tester's find). */
START_TEST(checkpoint_keeps_the_test_record)
{
    clmlp_dataset test;
    make_data(&test); /* 500 rows like the training set, from the same generator */
    char ckpt[] = "/tmp/clmlp-ckpt-XXXXXX";
    make_temp_file(ckpt);
    test_recorder t = {{0}, 2};
    clmlp_train_options opt = options(CLMLP_OPT_MOMENTUM, ckpt);
    opt.on_epoch = record_test, opt.user = &t;
    clmlp_net *p;
    ck_assert_int_eq(run_with(backends[_i], &opt, NULL, &test, &p), CLMLP_ERR_INTERRUPTED);
    clmlp_checkpoint c;
    char err[2048];
    ck_assert_msg(clmlp_checkpoint_read(ckpt, &c, err, sizeof err) == CLMLP_OK, "%s", err);
    unsigned hi = t.acc[2] > t.acc[1] ? 2 : 1;
    ck_assert_uint_eq(c.state.best_test_epoch, hi);
    ck_assert_double_eq(c.state.best_test_acc, t.acc[hi]);
    ck_assert_uint_ge(c.state.best_epoch, 1);
    ck_assert_double_eq(c.state.kept_test_acc, t.acc[c.state.best_epoch]);
    clmlp_checkpoint_free(&c);
    clmlp_net_free(p);
    clmlp_dataset_free(&test);
    unlink(ckpt);
}
END_TEST

START_TEST(damaged_checkpoint_is_refused)
{
    char ckpt[] = "/tmp/clmlp-ckpt-XXXXXX";
    make_temp_file(ckpt);
    clmlp_train_options opt = options(CLMLP_OPT_MOMENTUM, ckpt);
    opt.epochs = 1;
    clmlp_net *p;
    ck_assert_int_eq(run(CLMLP_BACKEND_REF, &opt, NULL, &p), CLMLP_OK);
    clmlp_net_free(p);
    FILE *f = fopen(ckpt, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 200, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    clmlp_checkpoint ck;
    char err[2048];
    ck_assert_int_ne(clmlp_checkpoint_read(ckpt, &ck, err, sizeof err), CLMLP_OK);
    ck_assert_msg(strstr(err, ckpt) != NULL, "message does not name the file: %s", err);
    ck_assert_ptr_null(ck.net);
    unlink(ckpt);
}
END_TEST

/* A checkpoint whose train state holds settings no run could have (written here through the
 * writer, which stores what it is given, as a crafted file with a valid CRC would): the reader
 * refuses each, naming the field, instead of resuming into a diverging or silent run (a new
 * user's find: NaN lr or momentum 2 were accepted, and a bad optimizer code was reported as
 * "epoch 3 of 2"). */
START_TEST(impossible_train_state_is_refused_by_name)
{
    static const struct {
        const char *what, *needle;
    } cases[] = {
        {"momentum 2", "momentum 2 is outside [0, 1)"},
        {"NaN lr", "learning rate nan"},
        {"negative l2", "l2 -1 must be"},
        {"optimizer 3", "optimizer code 3"},
        {"batch 0", "batch size 0"},
        {"NaN validation fraction", "validation fraction nan"},
        {"step count", "optimizer step 18446744073709551615"},
        {"NaN best loss", "best validation loss nan"},
        {"best epoch ahead", "best epoch 5"},
        {"zero RNG", "RNG state all zero"},
        {"NaN first moment", "optimizer state at byte"},
        {"NaN epoch loss so far", "loss sum nan"},
        {"test record ahead", "test record at byte"},
    };
    char ckpt[] = "/tmp/clmlp-ckpt-XXXXXX";
    make_temp_file(ckpt);
    clmlp_net *net = make_net();
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_engine *e;
    char err[2048];
    ck_assert_int_eq(clmlp_engine_create(&e, CLMLP_BACKEND_REF, NULL, net, &h, 8, err, sizeof err),
                     CLMLP_OK);
    size_t np = net->n_params_padded;
    float *m = calloc(np, sizeof *m), *v = calloc(np, sizeof *v);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* epoch 2 at position 16 of 64 in batches of 8: 8 + 2 steps taken */
        clmlp_train_state st = {.epoch = 2, .epochs = 3, .next_first = 16, .n_train = 64,
                                .batch = 8, .step = 10, .rng_epoch = {{1, 2, 3, 4}},
                                .hyper = h};
        m[3] = 0.0f;
        switch (i) {
        case 0: st.hyper.momentum = 2.0f; break;
        case 1: st.hyper.lr = NAN; break;
        case 2: st.hyper.l2 = -1.0f; break;
        case 3: st.hyper.optimizer = (clmlp_optimizer)3; break;
        case 4: st.batch = 0; break;
        case 5: st.val_fraction = NAN; break;
        case 6: st.step = UINT64_MAX; break;
        case 7: st.best_epoch = 1, st.val_fraction = 0.1, st.best_val_loss = NAN; break;
        case 8: st.best_epoch = 5; break;
        case 9: memset(&st.rng_epoch, 0, sizeof st.rng_epoch); break;
        case 10: m[3] = NAN; break;
        case 11: st.part_known = 1, st.part_loss_sum = NAN; break;
        default: st.best_test_epoch = 5, st.best_test_acc = 0.5; break;
        }
        ck_assert_int_eq(clmlp_engine_set_opt_state(e, st.step, m, v), CLMLP_OK);
        ck_assert_int_eq(clmlp_checkpoint_write(ckpt, e, net, NULL, &st, NULL, err, sizeof err),
                         CLMLP_OK);
        clmlp_checkpoint c;
        ck_assert_int_ne(clmlp_checkpoint_read(ckpt, &c, err, sizeof err), CLMLP_OK);
        ck_assert_msg(strstr(err, ckpt) && strstr(err, cases[i].needle), "%s: %s", cases[i].what,
                      err);
    }
    m[3] = 0.0f;
    ck_assert_int_eq(clmlp_engine_set_opt_state(e, 10, m, v), CLMLP_OK);
    clmlp_train_state good = {.epoch = 2, .epochs = 3, .next_first = 16, .n_train = 64,
                              .batch = 8, .step = 10, .rng_epoch = {{1, 2, 3, 4}}, .hyper = h};
    ck_assert_int_eq(clmlp_checkpoint_write(ckpt, e, net, NULL, &good, NULL, err, sizeof err),
                     CLMLP_OK);
    clmlp_checkpoint c;
    ck_assert_msg(clmlp_checkpoint_read(ckpt, &c, err, sizeof err) == CLMLP_OK, "%s", err);
    clmlp_checkpoint_free(&c);
    clmlp_engine_free(e);
    clmlp_net_free(net);
    free(m), free(v);
    unlink(ckpt);
}
END_TEST

/* The engine refuses the same settings when it is created. */
START_TEST(engine_refuses_impossible_settings)
{
    clmlp_net *net = make_net();
    clmlp_hyper bad[4] = {clmlp_hyper_default(), clmlp_hyper_default(), clmlp_hyper_default(),
                          clmlp_hyper_default()};
    bad[0].lr = 0.0f;
    bad[1].beta2 = 1.0f;
    bad[2].eps = INFINITY;
    bad[3].momentum = -0.5f;
    const char *needle[4] = {"learning rate 0", "beta2 1", "eps inf", "momentum -0.5"};
    for (int i = 0; i < 4; i++) {
        clmlp_engine *e = NULL;
        char err[512];
        ck_assert_int_eq(clmlp_engine_create(&e, CLMLP_BACKEND_REF, NULL, net, &bad[i], 8, err,
                                             sizeof err), CLMLP_ERR_ARG);
        ck_assert_msg(strstr(err, needle[i]), "%s", err);
        ck_assert_ptr_null(e);
    }
    clmlp_net_free(net);
}
END_TEST

/* A run driven to NaN: training stops with the epoch, batch and layer, and the checkpoint from
 * before is left as it was. */
START_TEST(divergence_stops_and_keeps_the_last_good_checkpoint)
{
    char ckpt[] = "/tmp/clmlp-ckpt-XXXXXX";
    make_temp_file(ckpt);
    clmlp_train_options opt = options(CLMLP_OPT_SGD, ckpt);
    opt.epochs = 1;
    clmlp_net *p;
    ck_assert_int_eq(run(CLMLP_BACKEND_OPENCL, &opt, NULL, &p), CLMLP_OK);
    clmlp_net_free(p);
    size_t n_before;
    unsigned char *before = tu_read_file(ckpt, &n_before);

    /* Huge inputs through relu layers (unbounded, unlike tanh and sigmoid, whose saturated
     * units pass no gradient) and a huge rate: the first update overflows the weights. */
    clmlp_dataset d;
    make_data(&d);
    for (size_t i = 0; i < d.n * d.dim; i++)
        d.X[i] *= 1e30f;
    const size_t sizes[] = {12, 9, 7, 4};
    const clmlp_act act[] = {CLMLP_ACT_RELU, CLMLP_ACT_RELU, CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 3, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_net_init(net, CLMLP_INIT_XAVIER, 5);
    clmlp_train_options bad = options(CLMLP_OPT_SGD, ckpt);
    bad.hyper.lr = 1e30f;
    clmlp_engine *e;
    char err[16384];
    ck_assert_int_eq(clmlp_train_engine_create(&e, CLMLP_BACKEND_OPENCL, NULL, net, &bad, err, sizeof err), CLMLP_OK);
    clmlp_net *best;
    clmlp_net_clone(&best, net);
    clmlp_status st = clmlp_train(e, &d, NULL, &bad, best, NULL, err, sizeof err);
    ck_assert_int_eq(st, CLMLP_ERR_NONFINITE);
    ck_assert_msg(strstr(err, "epoch 1") && strstr(err, "batch") && strstr(err, "layer") &&
                  strstr(err, "--lr"), "%s", err);
    size_t n_after;
    unsigned char *after = tu_read_file(ckpt, &n_after);
    ck_assert_uint_eq(n_before, n_after);
    ck_assert_msg(memcmp(before, after, n_before) == 0, "the good checkpoint was overwritten");
    free(before), free(after);
    clmlp_engine_free(e);
    clmlp_net_free(best), clmlp_net_free(net);
    clmlp_dataset_free(&d);
    unlink(ckpt);
}
END_TEST

/* A reference engine (SGD) on an n_layers network of the given sizes, tanh then softmax. */
static clmlp_engine *shaped_engine(int n_layers, const size_t *sizes, clmlp_net **net_out)
{
    clmlp_act act[CLMLP_MAX_LAYERS];
    for (int l = 0; l < n_layers; l++)
        act[l] = l + 1 < n_layers ? CLMLP_ACT_TANH : CLMLP_ACT_SOFTMAX;
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, n_layers, sizes, act, CLMLP_LOSS_CE, NULL, 0),
                     CLMLP_OK);
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_engine *e;
    char err[256];
    ck_assert_msg(clmlp_engine_create(&e, CLMLP_BACKEND_REF, NULL, net, &h, 8, err, sizeof err) ==
                      CLMLP_OK, "%s", err);
    *net_out = net;
    return e;
}

/* Networks whose parameter arrays have one padded length but different layouts (each tensor
 * is padded to CLMLP_PARAM_ALIGN floats): copy_state, get_params and set_params refuse them,
 * naming both shapes, instead of copying values into the wrong places (a reviewer's find:
 * the length was all they checked). */
START_TEST(same_padded_length_other_shape_is_refused)
{
    static const size_t a3[] = {2, 3}, b3[] = {3, 2}, a4[] = {5, 7, 4}, b4[] = {4, 7, 5};
    const size_t *pairs[2][2] = {{a3, b3}, {a4, b4}};
    const int layers[2] = {1, 2};
    for (int p = 0; p < 2; p++) {
        clmlp_net *na, *nb;
        clmlp_engine *ea = shaped_engine(layers[p], pairs[p][0], &na);
        clmlp_engine *eb = shaped_engine(layers[p], pairs[p][1], &nb);
        ck_assert_uint_eq(na->n_params_padded, nb->n_params_padded); /* the case in point */
        ck_assert_int_eq(clmlp_engine_copy_state(ea, eb), CLMLP_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(clmlp_engine_error(ea), "shape"));
        ck_assert_int_eq(clmlp_engine_get_params(ea, nb), CLMLP_ERR_ARG);
        ck_assert_int_eq(clmlp_engine_set_params(ea, nb), CLMLP_ERR_ARG);
        ck_assert_msg(strstr(clmlp_engine_error(ea), p ? "4-7-5" : "3-2") &&
                          strstr(clmlp_engine_error(ea), p ? "5-7-4" : "2-3"),
                      "both shapes named: %s", clmlp_engine_error(ea));
        ck_assert_int_eq(clmlp_engine_get_params(ea, na), CLMLP_OK); /* its own shape is fine */
        clmlp_engine_free(ea), clmlp_engine_free(eb);
        clmlp_net_free(na), clmlp_net_free(nb);
    }
}
END_TEST

/* Replacing the parameters ends the last step's statistics (they described the weights that
 * step left): layer_stats asks for a step instead of mixing the new weights with the old
 * step's gradients; the next step brings them back. */
START_TEST(new_parameters_end_the_last_steps_statistics)
{
    clmlp_dataset d;
    make_data(&d);
    clmlp_engine *e = adam_engine(backends[_i], &d, 1), *other = adam_engine(backends[!_i], &d, 2);
    clmlp_layer_stats ls;
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 0, &ls), CLMLP_OK);
    clmlp_net *p = make_net();
    ck_assert_int_eq(clmlp_engine_get_params(e, p), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_set_params(e, p), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 0, &ls), CLMLP_ERR_ARG);
    ck_assert_int_eq(clmlp_engine_train_batch(e, 64, 64), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 0, &ls), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_copy_state(e, other), CLMLP_OK);
    ck_assert_int_eq(clmlp_engine_layer_stats(e, 0, &ls), CLMLP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(clmlp_engine_error(e), "replaced"));
    clmlp_net_free(p);
    clmlp_engine_free(e), clmlp_engine_free(other);
    clmlp_dataset_free(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoints");
    TCase *tc = tcase_create("resume");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, resume_is_bit_identical_to_a_straight_run, 0, 12);
    tcase_add_test(tc, damaged_checkpoint_is_refused);
    tcase_add_loop_test(tc, copy_state_leaves_one_state, 0, 2);
    tcase_add_test(tc, same_padded_length_other_shape_is_refused);
    tcase_add_loop_test(tc, stop_inside_the_test_evaluation, 0, 2);
    tcase_add_loop_test(tc, checkpoint_keeps_the_test_record, 0, 2);
    tcase_add_test(tc, impossible_train_state_is_refused_by_name);
    tcase_add_test(tc, engine_refuses_impossible_settings);
    tcase_add_loop_test(tc, new_parameters_end_the_last_steps_statistics, 0, 2);
    tcase_add_test(tc, divergence_stops_and_keeps_the_last_good_checkpoint);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
