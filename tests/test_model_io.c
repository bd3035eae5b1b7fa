/* test_model_io.c - Check suite for the model file format: round trips, atomic replacement,
 * and refusal of truncated, corrupted, foreign and crafted-invalid files. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_io.h"

/* ---- Fixture: a fresh temporary folder per test ------------------------------------------ */

static char tmpdir[256];
static char pathbuf[4][512];
static int pathslot;

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/clmlp_model_io_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    chmod(tmpdir, 0700);
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[768];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

/* A path inside the test's folder; a few stay valid at once (rotating buffers). */
static const char *tmp_path(const char *name)
{
    char *p = pathbuf[pathslot++ % 4];
    snprintf(p, sizeof pathbuf[0], "%s/%s", tmpdir, name);
    return p;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* ---- Files as byte buffers -------------------------------------------------------------- */

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (len)
        ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- Networks with every kind of finite float ------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rand32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Any finite bit pattern (subnormals, -0, huge values included): exact round trips matter. */
static float rand_finite(void)
{
    uint32_t u = rand32();
    if ((u & 0x7f800000u) == 0x7f800000u)
        u &= ~0x00800000u; /* exponent all ones is Inf/NaN: clear one of its bits */
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static clmlp_net *make_net(int n_layers, const size_t *sizes, const clmlp_act *act,
                           clmlp_loss loss)
{
    clmlp_net *net = NULL;
    char err[256];
    ck_assert_int_eq(clmlp_net_create(&net, n_layers, sizes, act, loss, err, sizeof err),
                     CLMLP_OK);
    for (int l = 0; l < n_layers; l++) {
        float *W = clmlp_net_W(net, l), *b = clmlp_net_b(net, l);
        for (size_t i = 0; i < sizes[l] * sizes[l + 1]; i++)
            W[i] = rand_finite();
        for (size_t i = 0; i < sizes[l + 1]; i++)
            b[i] = rand_finite();
    }
    return net;
}

static void assert_nets_identical(const clmlp_net *a, const clmlp_net *b)
{
    ck_assert_int_eq(a->n_layers, b->n_layers);
    for (int l = 0; l <= a->n_layers; l++)
        ck_assert_uint_eq(a->sizes[l], b->sizes[l]);
    for (int l = 0; l < a->n_layers; l++)
        ck_assert_int_eq(a->act[l], b->act[l]);
    ck_assert_int_eq(a->loss, b->loss);
    ck_assert_uint_eq(a->n_params, b->n_params);
    ck_assert_uint_eq(a->n_params_padded, b->n_params_padded);
    /* Whole padded arrays: tensors bit for bit, padding zero in both. */
    ck_assert_int_eq(memcmp(a->params, b->params, a->n_params_padded * sizeof(float)), 0);
}

static void fill_meta(clmlp_model_meta *m, size_t norm_dim)
{
    memset(m, 0, sizeof *m);
    m->seed = 0xDEADBEEFCAFEF00Du;
    m->epochs = 17;
    snprintf(m->device, sizeof m->device, "pthread-skylake (PoCL)");
    if (!norm_dim)
        return;
    m->norm_dim = norm_dim;
    m->norm_mean = malloc(norm_dim * sizeof(float));
    m->norm_std = malloc(norm_dim * sizeof(float));
    ck_assert(m->norm_mean && m->norm_std);
    for (size_t k = 0; k < norm_dim; k++) {
        m->norm_mean[k] = (float)k * 0.37f - 3.0f;
        m->norm_std[k] = k % 5 == 0 ? 0.0f : 0.01f + (float)k; /* 0 marks a constant feature */
    }
}

static void assert_meta_equal(const clmlp_model_meta *a, const clmlp_model_meta *b)
{
    ck_assert_uint_eq(a->seed, b->seed);
    ck_assert_uint_eq(a->epochs, b->epochs);
    ck_assert_str_eq(a->device, b->device);
    ck_assert_uint_eq(a->norm_dim, b->norm_dim);
    if (a->norm_dim) {
        ck_assert_int_eq(memcmp(a->norm_mean, b->norm_mean, a->norm_dim * sizeof(float)), 0);
        ck_assert_int_eq(memcmp(a->norm_std, b->norm_std, a->norm_dim * sizeof(float)), 0);
    } else {
        ck_assert_ptr_null(b->norm_mean);
        ck_assert_ptr_null(b->norm_std);
    }
}

/* A load that must fail: non-OK, no network, zeroed meta, one line naming the file (and, for
 * format errors, a byte offset). Returns the status. */
static clmlp_status expect_load_fails(const char *path, char *err, size_t errlen)
{
    clmlp_net *net = (clmlp_net *)&rng_state; /* garbage in: the loader must set it to NULL */
    clmlp_model_meta meta;
    memset(&meta, 0x5a, sizeof meta);
    clmlp_status st = clmlp_model_load(path, &net, &meta, err, errlen);
    ck_assert_msg(st != CLMLP_OK, "loading %s succeeded", path);
    ck_assert_ptr_null(net);
    ck_assert_ptr_null(meta.norm_mean);
    ck_assert_uint_eq(meta.norm_dim, 0);
    ck_assert_msg(strstr(err, path) != NULL, "message lacks the file name: %s", err);
    ck_assert_msg(strchr(err, '\n') == NULL, "message is not one line: %s", err);
    if (st == CLMLP_ERR_FORMAT)
        ck_assert_msg(strstr(err, "byte") != NULL, "message lacks a byte offset: %s", err);
    return st;
}

/* The small model whose every prefix and every flipped byte the tests load. */
static unsigned char *small_model_file(const char *path, size_t *len)
{
    static const size_t sizes[] = {2, 3, 2};
    static const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SOFTMAX};
    clmlp_net *net = make_net(2, sizes, act, CLMLP_LOSS_CE);
    clmlp_model_meta meta;
    fill_meta(&meta, 2);
    char err[512];
    ck_assert_msg(clmlp_model_save(path, net, &meta, err, sizeof err) == CLMLP_OK, "%s", err);
    clmlp_net_free(net);
    clmlp_model_meta_free(&meta);
    return read_bytes(path, len);
}

/* ---- Round trips ------------------------------------------------------------------------- */

static void roundtrip(int n_layers, const size_t *sizes, const clmlp_act *act, clmlp_loss loss,
                      int with_norm)
{
    const char *path = tmp_path("model.clmlp");
    clmlp_net *net = make_net(n_layers, sizes, act, loss), *back = NULL;
    clmlp_model_meta meta, got;
    fill_meta(&meta, with_norm ? sizes[0] : 0);
    char err[512];
    ck_assert_msg(clmlp_model_save(path, net, &meta, err, sizeof err) == CLMLP_OK, "%s", err);
    ck_assert_str_eq(err, "");
    ck_assert_msg(clmlp_model_load(path, &back, &got, err, sizeof err) == CLMLP_OK, "%s", err);
    ck_assert_str_eq(err, "");
    assert_nets_identical(net, back);
    assert_meta_equal(&meta, &got);
    clmlp_net_free(net);
    clmlp_net_free(back);
    clmlp_model_meta_free(&meta);
    clmlp_model_meta_free(&got);
}

START_TEST(test_roundtrip_shapes)
{
    static const size_t s11[] = {1, 1};
    static const clmlp_act a11[] = {CLMLP_ACT_IDENTITY};
    static const size_t mnist[] = {784, 256, 128, 10};
    static const clmlp_act amnist[] = {CLMLP_ACT_RELU, CLMLP_ACT_RELU, CLMLP_ACT_SOFTMAX};
    static const size_t s573[] = {5, 7, 3};
    static const clmlp_act a573[] = {CLMLP_ACT_TANH, CLMLP_ACT_SIGMOID};
    for (int with_norm = 0; with_norm <= 1; with_norm++) {
        roundtrip(1, s11, a11, CLMLP_LOSS_MSE, with_norm);
        roundtrip(3, mnist, amnist, CLMLP_LOSS_CE, with_norm);
        roundtrip(2, s573, a573, CLMLP_LOSS_MSE, with_norm);
    }
}
END_TEST

START_TEST(test_roundtrip_special_floats)
{
    static const size_t sizes[] = {3, 4};
    static const clmlp_act act[] = {CLMLP_ACT_IDENTITY};
    const char *path = tmp_path("special.clmlp");
    clmlp_net *net = make_net(1, sizes, act, CLMLP_LOSS_MSE), *back = NULL;
    const float special[] = {-0.0f, 0.0f, FLT_MIN, FLT_MIN / 1024.0f, -FLT_MIN / 3.0f, FLT_MAX,
                             -FLT_MAX, 1.0f, -1.0f, 0.1f, FLT_EPSILON, 3.4e38f};
    memcpy(clmlp_net_W(net, 0), special, sizeof special);
    char err[512];
    ck_assert_msg(clmlp_model_save(path, net, NULL, err, sizeof err) == CLMLP_OK, "%s", err);
    ck_assert_msg(clmlp_model_load(path, &back, NULL, err, sizeof err) == CLMLP_OK, "%s", err);
    assert_nets_identical(net, back);
    ck_assert(signbit(clmlp_net_cW(back, 0)[0]));
    clmlp_net_free(net);
    clmlp_net_free(back);
}
END_TEST

START_TEST(test_meta_optional_and_device_limits)
{
    static const size_t sizes[] = {2, 2};
    static const clmlp_act act[] = {CLMLP_ACT_SIGMOID};
    const char *path = tmp_path("meta.clmlp");
    clmlp_net *net = make_net(1, sizes, act, CLMLP_LOSS_MSE), *back = NULL;
    clmlp_model_meta meta, got;
    char err[512];
    /* No meta on save: zeros on load. */
    ck_assert_int_eq(clmlp_model_save(path, net, NULL, err, sizeof err), CLMLP_OK);
    ck_assert_int_eq(clmlp_model_load(path, &back, &got, err, sizeof err), CLMLP_OK);
    ck_assert_uint_eq(got.seed, 0);
    ck_assert_uint_eq(got.epochs, 0);
    ck_assert_str_eq(got.device, "");
    ck_assert_uint_eq(got.norm_dim, 0);
    clmlp_net_free(back);
    /* The longest device name fits exactly. */
    fill_meta(&meta, 0);
    memset(meta.device, 'd', sizeof meta.device - 1);
    meta.device[sizeof meta.device - 1] = '\0';
    meta.seed = UINT64_MAX;
    meta.epochs = UINT32_MAX;
    ck_assert_int_eq(clmlp_model_save(path, net, &meta, err, sizeof err), CLMLP_OK);
    ck_assert_int_eq(clmlp_model_load(path, &back, &got, err, sizeof err), CLMLP_OK);
    assert_meta_equal(&meta, &got);
    clmlp_net_free(back);
    /* A name that is not a C string is refused, and the file stays as it was. */
    size_t before_len, after_len;
    unsigned char *before = read_bytes(path, &before_len);
    meta.device[sizeof meta.device - 1] = 'x';
    ck_assert_int_eq(clmlp_model_save(path, net, &meta, err, sizeof err), CLMLP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err, path));
    unsigned char *after = read_bytes(path, &after_len);
    ck_assert_uint_eq(before_len, after_len);
    ck_assert_int_eq(memcmp(before, after, before_len), 0);
    /* A standardisation of the wrong width is refused. */
    meta.device[0] = '\0';
    meta.norm_dim = 3;
    float three[3] = {0, 0, 0};
    meta.norm_mean = meta.norm_std = three;
    ck_assert_int_eq(clmlp_model_save(path, net, &meta, err, sizeof err), CLMLP_ERR_ARG);
    free(before);
    free(after);
    clmlp_net_free(net);
}
END_TEST

START_TEST(test_save_refuses_nonfinite)
{
    static const size_t sizes[] = {2, 3, 2};
    static const clmlp_act act[] = {CLMLP_ACT_RELU, CLMLP_ACT_IDENTITY};
    const char *path = tmp_path("nan.clmlp");
    clmlp_net *net = make_net(2, sizes, act, CLMLP_LOSS_MSE);
    clmlp_net_W(net, 1)[4] = NAN; /* W_1 is 3 x 2: element 4 is row 2, column 0 */
    char err[512];
    ck_assert_int_eq(clmlp_model_save(path, net, NULL, err, sizeof err), CLMLP_ERR_NONFINITE);
    ck_assert_msg(strstr(err, "W_1[2][0]") && strstr(err, "NaN") && strstr(err, path), "%s", err);
    ck_assert_int_eq(access(path, F_OK), -1);
    clmlp_net_W(net, 1)[4] = 0.0f;
    clmlp_net_b(net, 0)[1] = -INFINITY;
    ck_assert_int_eq(clmlp_model_save(path, net, NULL, err, sizeof err), CLMLP_ERR_NONFINITE);
    ck_assert_msg(strstr(err, "b_0[1]") && strstr(err, "-Inf"), "%s", err);
    ck_assert_int_eq(count_entries(tmpdir), 0);
    clmlp_net_free(net);
}
END_TEST

/* ---- Atomic replacement ------------------------------------------------------------------ */

START_TEST(test_save_replaces_atomically)
{
    static const size_t sizes[] = {5, 7, 3};
    static const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SIGMOID};
    const char *path = tmp_path("model.clmlp");
    clmlp_net *a = make_net(2, sizes, act, CLMLP_LOSS_MSE);
    clmlp_net *b = make_net(2, sizes, act, CLMLP_LOSS_MSE), *back = NULL;
    char err[512];
    ck_assert_int_eq(clmlp_model_save(path, a, NULL, err, sizeof err), CLMLP_OK);
    ck_assert_int_eq(chmod(path, 0640), 0);
    size_t a_len;
    unsigned char *a_bytes = read_bytes(path, &a_len);
    struct stat st_a, st_b;
    ck_assert_int_eq(stat(path, &st_a), 0);
    int fd = open(path, O_RDONLY); /* a reader holding the old file open */
    ck_assert_int_ge(fd, 0);

    ck_assert_msg(clmlp_model_save(path, b, NULL, err, sizeof err) == CLMLP_OK, "%s", err);

    /* A new inode was renamed into place; the open reader still sees the whole old file. */
    ck_assert_int_eq(stat(path, &st_b), 0);
    ck_assert(st_a.st_ino != st_b.st_ino);
    ck_assert_int_eq(st_b.st_mode & 0777, 0640);
    unsigned char *old = malloc(a_len + 1);
    ck_assert_ptr_nonnull(old);
    ck_assert_int_eq(read(fd, old, a_len + 1), (ssize_t)a_len);
    ck_assert_int_eq(memcmp(old, a_bytes, a_len), 0);
    close(fd);
    ck_assert_int_eq(clmlp_model_load(path, &back, NULL, err, sizeof err), CLMLP_OK);
    assert_nets_identical(b, back);
    ck_assert_int_eq(count_entries(tmpdir), 1); /* no temporary file left behind */
    free(old);
    free(a_bytes);
    clmlp_net_free(a);
    clmlp_net_free(b);
    clmlp_net_free(back);
}
END_TEST

START_TEST(test_new_file_mode)
{
    static const size_t sizes[] = {1, 1};
    static const clmlp_act act[] = {CLMLP_ACT_IDENTITY};
    const char *path = tmp_path("fresh.clmlp");
    clmlp_net *net = make_net(1, sizes, act, CLMLP_LOSS_MSE);
    char err[512];
    ck_assert_int_eq(clmlp_model_save(path, net, NULL, err, sizeof err), CLMLP_OK);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    clmlp_net_free(net);
}
END_TEST

/* Saves big over small and checks the small file survived byte for byte, alone in its folder. */
static void assert_failed_save_keeps(const char *path, const unsigned char *bytes, size_t len,
                                     const clmlp_net *big, int expect_entries)
{
    char err[1024];
    clmlp_status st = clmlp_model_save(path, big, NULL, err, sizeof err);
    ck_assert_int_eq(st, CLMLP_ERR_IO);
    ck_assert_msg(strstr(err, path) != NULL, "%s", err);
    size_t now_len;
    unsigned char *now = read_bytes(path, &now_len);
    ck_assert_uint_eq(now_len, len);
    ck_assert_int_eq(memcmp(now, bytes, len), 0);
    free(now);
    ck_assert_int_eq(count_entries(tmpdir), expect_entries);
}

START_TEST(test_failed_save_leaves_file)
{
    static const size_t small_sizes[] = {2, 2};
    static const clmlp_act small_act[] = {CLMLP_ACT_IDENTITY};
    static const size_t big_sizes[] = {784, 256, 128, 10};
    static const clmlp_act big_act[] = {CLMLP_ACT_RELU, CLMLP_ACT_RELU, CLMLP_ACT_SOFTMAX};
    const char *path = tmp_path("keep.clmlp");
    clmlp_net *small = make_net(1, small_sizes, small_act, CLMLP_LOSS_MSE);
    clmlp_net *big = make_net(3, big_sizes, big_act, CLMLP_LOSS_CE);
    char err[1024];
    ck_assert_int_eq(clmlp_model_save(path, small, NULL, err, sizeof err), CLMLP_OK);
    size_t len;
    unsigned char *bytes = read_bytes(path, &len);

    /* The disk "fills up" mid-write: RLIMIT_FSIZE makes write() fail with EFBIG (even for
     * root, unlike permissions). The existing file is below the limit, so reading it works. */
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_failed_save_keeps(path, bytes, len, big, 1);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

    /* A folder we may not write to (only meaningful without root's override). */
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(tmpdir, 0500), 0);
        assert_failed_save_keeps(path, bytes, len, big, 1);
        ck_assert_int_eq(chmod(tmpdir, 0700), 0);
    }

    /* A folder that does not exist: nothing is created anywhere. */
    const char *nowhere = tmp_path("no/such/folder/model.clmlp");
    ck_assert_int_eq(clmlp_model_save(nowhere, small, NULL, err, sizeof err), CLMLP_ERR_IO);
    ck_assert_msg(strstr(err, nowhere) != NULL, "%s", err);
    ck_assert_int_eq(count_entries(tmpdir), 1);

    /* The target is a folder: rename fails after the write; the temporary file goes away. */
    const char *sub = tmp_path("a_folder");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/x", sub);
    write_bytes(inner, "x", 1);
    ck_assert_int_eq(clmlp_model_save(sub, small, NULL, err, sizeof err), CLMLP_ERR_IO);
    ck_assert_msg(strstr(err, sub) != NULL, "%s", err);
    ck_assert_int_eq(count_entries(tmpdir), 2);
    ck_assert_int_eq(count_entries(sub), 1);

    free(bytes);
    clmlp_net_free(small);
    clmlp_net_free(big);
}
END_TEST

START_TEST(test_write_file_atomic_bytes)
{
    const char *path = tmp_path("blob");
    char err[512];
    const char text[] = "hello, atomic world";
    ck_assert_int_eq(clmlp_write_file_atomic(path, text, sizeof text, err, sizeof err), CLMLP_OK);
    size_t len;
    unsigned char *got = read_bytes(path, &len);
    ck_assert_uint_eq(len, sizeof text);
    ck_assert_int_eq(memcmp(got, text, len), 0);
    free(got);
    ck_assert_int_eq(clmlp_write_file_atomic(path, NULL, 0, err, sizeof err), CLMLP_OK);
    got = read_bytes(path, &len);
    ck_assert_uint_eq(len, 0);
    free(got);
    /* A bare file name lands in the current folder. */
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_int_eq(clmlp_write_file_atomic("bare", text, 5, err, sizeof err), CLMLP_OK);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(access(tmp_path("bare"), F_OK), 0);
    ck_assert_int_eq(count_entries(tmpdir), 2);
}
END_TEST

/* ---- Damaged and foreign files ----------------------------------------------------------- */

START_TEST(test_every_truncation_fails)
{
    const char *good = tmp_path("good.clmlp"), *cut = tmp_path("cut.clmlp");
    size_t len;
    unsigned char *bytes = small_model_file(good, &len);
    char err[512];
    for (size_t n = 0; n < len; n++) {
        write_bytes(cut, bytes, n);
        clmlp_status st = expect_load_fails(cut, err, sizeof err);
        ck_assert_msg(st == CLMLP_ERR_FORMAT, "prefix %zu: %s", n, err);
        if (n >= 12) /* past the header every cut reads as a truncation or a missing END */
            ck_assert_msg(strstr(err, "truncated") != NULL, "prefix %zu: %s", n, err);
    }
    free(bytes);
}
END_TEST

START_TEST(test_every_flipped_byte_fails)
{
    const char *good = tmp_path("good.clmlp"), *bad = tmp_path("bad.clmlp");
    size_t len;
    unsigned char *bytes = small_model_file(good, &len);
    char err[512];
    static const unsigned char masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
    for (size_t i = 0; i < len; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            bytes[i] ^= masks[m];
            write_bytes(bad, bytes, len);
            clmlp_status st = expect_load_fails(bad, err, sizeof err);
            ck_assert_msg(st == CLMLP_ERR_FORMAT, "byte %zu ^ %02x: %s", i, masks[m], err);
            bytes[i] ^= masks[m];
        }
    free(bytes);
}
END_TEST

START_TEST(test_foreign_files_fail)
{
    char err[512];
    const char *text = tmp_path("notes.txt");
    write_bytes(text, "784,256,10\nhello\n", 17);
    ck_assert_int_eq(expect_load_fails(text, err, sizeof err), CLMLP_ERR_FORMAT);
    ck_assert_msg(strstr(err, "not a clmlp model") != NULL, "%s", err);

    const char *empty = tmp_path("empty.clmlp");
    write_bytes(empty, "", 0);
    ck_assert_int_eq(expect_load_fails(empty, err, sizeof err), CLMLP_ERR_FORMAT);
    ck_assert_msg(strstr(err, "empty") != NULL, "%s", err);

    /* An MNIST image file: idx3 magic, 2 images of 28x28. */
    unsigned char idx[16 + 2 * 28 * 28] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
    for (size_t i = 16; i < sizeof idx; i++)
        idx[i] = (unsigned char)(i * 7);
    const char *idxp = tmp_path("train-images-idx3-ubyte");
    write_bytes(idxp, idx, sizeof idx);
    ck_assert_int_eq(expect_load_fails(idxp, err, sizeof err), CLMLP_ERR_FORMAT);
    ck_assert_msg(strstr(err, "00 00 08 03") != NULL, "%s", err);

    /* A prefix of the magic only, and a folder, and nothing at all. */
    const char *prefix = tmp_path("prefix.clmlp");
    write_bytes(prefix, "CLMLP", 5);
    ck_assert_int_eq(expect_load_fails(prefix, err, sizeof err), CLMLP_ERR_FORMAT);
    ck_assert_int_eq(expect_load_fails(tmpdir, err, sizeof err), CLMLP_ERR_IO);
    ck_assert_int_eq(expect_load_fails(tmp_path("missing.clmlp"), err, sizeof err), CLMLP_ERR_IO);
}
END_TEST

/* ---- Crafted files: valid container, invalid contents ------------------------------------ */

typedef struct craft {
    uint32_t version;
    uint32_t n_layers;
    uint64_t sizes[CLMLP_MAX_LAYERS + 2];
    uint32_t act[CLMLP_MAX_LAYERS + 1];
    uint32_t loss;
    int64_t parm_floats;  /* -1: what the sizes imply */
    float parm_value;     /* every parameter */
    int omit_nets, omit_meta, omit_parm, twice_nets, unknown_chunk;
    uint32_t device_len;  /* claimed; the bytes written are 'd' x min(claim, 200) */
    int64_t norm_dim;     /* -1: none */
    float norm_std;
    uint32_t nets_extra;  /* bytes appended to NETS */
    size_t garbage;       /* bytes after END */
} craft;

/* A valid 2-3-2 tanh/softmax/CE model description to start from. */
static craft craft_default(void)
{
    craft c;
    memset(&c, 0, sizeof c);
    c.version = 1;
    c.n_layers = 2;
    c.sizes[0] = 2;
    c.sizes[1] = 3;
    c.sizes[2] = 2;
    c.act[0] = CLMLP_ACT_TANH;
    c.act[1] = CLMLP_ACT_SOFTMAX;
    c.loss = CLMLP_LOSS_CE;
    c.parm_floats = -1;
    c.parm_value = 0.5f;
    c.device_len = 3;
    c.norm_dim = -1;
    c.norm_std = 1.0f;
    return c;
}

static void put_nets(clmlp_chunk_writer *w, const craft *c)
{
    clmlp_cw_begin(w, "NETS");
    clmlp_cw_u32(w, c->n_layers);
    for (uint32_t l = 0; l <= c->n_layers && l < CLMLP_MAX_LAYERS + 2; l++)
        clmlp_cw_u64(w, c->sizes[l]);
    for (uint32_t l = 0; l < c->n_layers && l < CLMLP_MAX_LAYERS + 1; l++)
        clmlp_cw_u32(w, c->act[l]);
    clmlp_cw_u32(w, c->loss);
    for (uint32_t i = 0; i < c->nets_extra; i++)
        clmlp_cw_bytes(w, "\0", 1);
    clmlp_cw_end(w);
}

static void put_parm(clmlp_chunk_writer *w, const craft *c)
{
    int64_t n = c->parm_floats;
    if (n < 0) {
        n = 0;
        for (uint32_t l = 0; l < c->n_layers; l++)
            n += (int64_t)(c->sizes[l] * c->sizes[l + 1] + c->sizes[l + 1]);
    }
    clmlp_cw_begin(w, "PARM");
    for (int64_t i = 0; i < n; i++) {
        float v = i == n - 1 ? c->parm_value : 0.25f; /* the odd value goes last: b of the top */
        clmlp_cw_f32s(w, &v, 1);
    }
    clmlp_cw_end(w);
}

static void write_craft(const char *path, const craft *c)
{
    clmlp_chunk_writer w;
    clmlp_cw_init(&w, CLMLP_MODEL_MAGIC, c->version);
    if (!c->omit_nets)
        put_nets(&w, c);
    if (c->twice_nets)
        put_nets(&w, c);
    if (c->unknown_chunk) {
        clmlp_cw_begin(&w, "XTRA");
        clmlp_cw_bytes(&w, "future stuff", 12);
        clmlp_cw_end(&w);
    }
    if (!c->omit_meta) {
        char dev[200];
        memset(dev, 'd', sizeof dev);
        clmlp_cw_begin(&w, "META");
        clmlp_cw_u64(&w, 42);
        clmlp_cw_u32(&w, 3);
        clmlp_cw_u32(&w, c->device_len);
        clmlp_cw_bytes(&w, dev, c->device_len < sizeof dev ? c->device_len : sizeof dev);
        clmlp_cw_end(&w);
    }
    if (c->norm_dim >= 0) {
        clmlp_cw_begin(&w, "NORM");
        clmlp_cw_u64(&w, (uint64_t)c->norm_dim);
        for (int64_t k = 0; k < c->norm_dim; k++)
            clmlp_cw_f32s(&w, &c->parm_value, 1);
        for (int64_t k = 0; k < c->norm_dim; k++)
            clmlp_cw_f32s(&w, &c->norm_std, 1);
        clmlp_cw_end(&w);
    }
    if (!c->omit_parm)
        put_parm(&w, c);
    ck_assert_int_eq(clmlp_cw_finish(&w), CLMLP_OK);
    for (size_t i = 0; i < c->garbage; i++)
        clmlp_cw_bytes(&w, "G", 1);
    write_bytes(path, w.data, w.len);
    clmlp_cw_free(&w);
}

/* Writes the crafted file and expects a format error whose message holds `needle`. */
static void expect_craft_fails(const craft *c, const char *needle)
{
    const char *path = tmp_path("crafted.clmlp");
    char err[512];
    write_craft(path, c);
    ck_assert_int_eq(expect_load_fails(path, err, sizeof err), CLMLP_ERR_FORMAT);
    ck_assert_msg(strstr(err, needle) != NULL, "expected \"%s\" in: %s", needle, err);
}

START_TEST(test_crafted_default_loads)
{
    craft c = craft_default();
    c.unknown_chunk = 1; /* forward compatibility: unknown chunks are skipped */
    c.norm_dim = 2;
    const char *path = tmp_path("crafted.clmlp");
    write_craft(path, &c);
    clmlp_net *net = NULL;
    clmlp_model_meta meta;
    char err[512];
    ck_assert_msg(clmlp_model_load(path, &net, &meta, err, sizeof err) == CLMLP_OK, "%s", err);
    ck_assert_str_eq(meta.device, "ddd");
    ck_assert_uint_eq(meta.seed, 42);
    ck_assert_uint_eq(meta.norm_dim, 2);
    ck_assert(clmlp_net_cb(net, 1)[1] == 0.5f);
    ck_assert(clmlp_net_cW(net, 0)[0] == 0.25f);
    clmlp_net_free(net);
    clmlp_model_meta_free(&meta);
}
END_TEST

START_TEST(test_crafted_huge_sizes)
{
    craft c = craft_default();
    c.sizes[1] = (uint64_t)1 << 40; /* absurd width: refused before any product or allocation */
    c.parm_floats = 10;
    expect_craft_fails(&c, "out of range");
    c.sizes[1] = UINT64_MAX;
    expect_craft_fails(&c, "out of range");
    c = craft_default();
    c.sizes[0] = c.sizes[1] = (uint64_t)1 << 30; /* 2^60 parameters claimed, a few stored */
    c.parm_floats = 10;
    expect_craft_fails(&c, "PARM");
    /* 32 layers of 2^30 units: the 64-bit sum overflows unless checked. */
    c = craft_default();
    c.n_layers = CLMLP_MAX_LAYERS;
    for (int l = 0; l <= CLMLP_MAX_LAYERS; l++)
        c.sizes[l] = (uint64_t)1 << 30;
    for (int l = 0; l < CLMLP_MAX_LAYERS; l++)
        c.act[l] = CLMLP_ACT_RELU;
    c.loss = CLMLP_LOSS_MSE;
    c.parm_floats = 4;
    expect_craft_fails(&c, "imply more than");
}
END_TEST

START_TEST(test_crafted_bad_shape)
{
    craft c = craft_default();
    c.n_layers = 0;
    expect_craft_fails(&c, "layer count 0");
    c = craft_default();
    c.n_layers = CLMLP_MAX_LAYERS + 1;
    expect_craft_fails(&c, "layer count 33");
    c = craft_default();
    c.sizes[2] = 0;
    expect_craft_fails(&c, "size 0 of layer 2");
    c = craft_default();
    c.act[0] = 9;
    expect_craft_fails(&c, "unknown activation code 9");
    c = craft_default();
    c.loss = 7;
    expect_craft_fails(&c, "unknown loss code 7");
    c = craft_default();
    c.act[0] = CLMLP_ACT_SOFTMAX;
    expect_craft_fails(&c, "softmax on hidden layer 0");
    c = craft_default();
    c.act[1] = CLMLP_ACT_SIGMOID; /* cross-entropy without softmax: clmlp_net_create refuses */
    expect_craft_fails(&c, "invalid network");
    c = craft_default();
    c.sizes[2] = 1; /* softmax over one unit: constant output, zero gradient */
    expect_craft_fails(&c, "at least 2 output units");
    c = craft_default();
    c.nets_extra = 3;
    expect_craft_fails(&c, "3 unexpected bytes");
}
END_TEST

START_TEST(test_crafted_bad_chunks)
{
    craft c = craft_default();
    c.omit_nets = 1;
    expect_craft_fails(&c, "missing NETS");
    c = craft_default();
    c.omit_meta = 1;
    expect_craft_fails(&c, "missing META");
    c = craft_default();
    c.omit_parm = 1;
    expect_craft_fails(&c, "missing PARM");
    c = craft_default();
    c.twice_nets = 1;
    expect_craft_fails(&c, "duplicate NETS");
    c = craft_default();
    c.parm_floats = 16; /* one short of the 17 implied */
    expect_craft_fails(&c, "implies 68");
    c = craft_default();
    c.parm_floats = 18;
    expect_craft_fails(&c, "PARM chunk");
    c = craft_default();
    c.device_len = 200;
    expect_craft_fails(&c, "device name length 200");
    c = craft_default();
    c.garbage = 5;
    expect_craft_fails(&c, "5 bytes of trailing garbage");
}
END_TEST

START_TEST(test_crafted_bad_values)
{
    craft c = craft_default();
    c.parm_value = NAN;
    expect_craft_fails(&c, "b_1[1]");
    expect_craft_fails(&c, "NaN");
    c.parm_value = INFINITY;
    expect_craft_fails(&c, "+Inf");
    c = craft_default();
    c.norm_dim = 3;
    expect_craft_fails(&c, "standardisation width 3");
    c = craft_default();
    c.norm_dim = 2;
    c.norm_std = -1.0f;
    expect_craft_fails(&c, "std[0]");
    c = craft_default();
    c.norm_dim = 2;
    c.parm_value = NAN; /* NORM means are parm_value too: they are checked first */
    expect_craft_fails(&c, "mean[0]");
}
END_TEST

START_TEST(test_crafted_versions)
{
    craft c = craft_default();
    c.version = 2;
    expect_craft_fails(&c, "version 2");
    expect_craft_fails(&c, "(version 1)");
    c.version = 0;
    expect_craft_fails(&c, "version 0");
}
END_TEST

/* ---- The generic container and the error buffer ------------------------------------------ */

START_TEST(test_chunk_container_api)
{
    const char *path = tmp_path("ckpt.bin");
    clmlp_chunk_writer w;
    clmlp_cw_init(&w, "CLMLPCKP", 3);
    clmlp_cw_begin(&w, "OPTS");
    clmlp_cw_u32(&w, 0xA1B2C3D4u);
    clmlp_cw_u64(&w, 0x0102030405060708u);
    float f[2] = {1.5f, -2.0f};
    clmlp_cw_f32s(&w, f, 2);
    clmlp_cw_end(&w);
    ck_assert_int_eq(clmlp_cw_finish(&w), CLMLP_OK);
    /* Little-endian on disk: the u32 follows the 12-byte header and the 12-byte chunk head. */
    ck_assert_int_eq(w.data[24], 0xD4);
    ck_assert_int_eq(w.data[27], 0xA1);
    ck_assert_int_eq(memcmp(w.data + w.len - 16, "END ", 4), 0);
    char err[512];
    ck_assert_int_eq(clmlp_write_file_atomic(path, w.data, w.len, err, sizeof err), CLMLP_OK);
    clmlp_cw_free(&w);

    clmlp_chunk_file file;
    ck_assert_int_eq(clmlp_chunk_file_read(&file, path, "CLMLPCKP", 3, "clmlp checkpoint", err,
                                           sizeof err), CLMLP_OK);
    ck_assert_uint_eq(file.version, 3);
    clmlp_chunk c;
    ck_assert_int_eq(clmlp_chunk_find(&file, "NETS", 0, &c, err, sizeof err), CLMLP_OK);
    ck_assert_int_eq(c.present, 0);
    ck_assert_int_eq(clmlp_chunk_find(&file, "OPTS", 1, &c, err, sizeof err), CLMLP_OK);
    ck_assert_int_eq(c.present, 1);
    ck_assert_str_eq(c.tag, "OPTS");
    ck_assert_uint_eq(c.len, 20);
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, &file, &c, err, sizeof err);
    ck_assert_uint_eq(clmlp_cr_u32(&r, "a"), 0xA1B2C3D4u);
    ck_assert_uint_eq(clmlp_cr_u64(&r, "b"), 0x0102030405060708u);
    ck_assert_int_eq(clmlp_cr_done(&r), 0); /* 8 bytes of floats are left */
    ck_assert_msg(strstr(err, "8 unexpected bytes") != NULL, "%s", err);
    clmlp_cr_init(&r, &file, &c, err, sizeof err);
    clmlp_cr_u32(&r, "a");
    clmlp_cr_u64(&r, "b");
    float back[2];
    const unsigned char *p = clmlp_cr_bytes(&r, 8, "floats");
    ck_assert_ptr_nonnull(p);
    clmlp_decode_f32s(p, back, 2);
    ck_assert(back[0] == 1.5f && back[1] == -2.0f);
    ck_assert_int_eq(clmlp_cr_u32(&r, "the missing field"), 0);
    ck_assert_msg(strstr(err, "the missing field") != NULL, "%s", err);
    ck_assert_int_eq(clmlp_cr_done(&r), 0);
    clmlp_chunk_file_free(&file);

    /* A model reader refuses the checkpoint by its magic; a checkpoint reader at version 2
     * refuses version 3 naming both. */
    ck_assert_int_eq(expect_load_fails(path, err, sizeof err), CLMLP_ERR_FORMAT);
    ck_assert_int_eq(clmlp_chunk_file_read(&file, path, "CLMLPCKP", 2, "clmlp checkpoint", err,
                                           sizeof err), CLMLP_ERR_FORMAT);
    ck_assert_msg(strstr(err, "version 3") && strstr(err, "version 2"), "%s", err);
    ck_assert_ptr_null(file.data);
}
END_TEST

START_TEST(test_model_chunks_in_a_checkpoint)
{
    static const size_t sizes[] = {5, 7, 3};
    static const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SIGMOID};
    clmlp_net *net = make_net(2, sizes, act, CLMLP_LOSS_MSE), *back = NULL;
    clmlp_model_meta meta, got;
    fill_meta(&meta, 5);
    char err[512];
    clmlp_chunk_writer w;
    clmlp_cw_init(&w, "CLMLPCKP", 1);
    ck_assert_int_eq(clmlp_model_write_chunks(&w, net, &meta, err, sizeof err), CLMLP_OK);
    clmlp_cw_begin(&w, "OPTS");
    clmlp_cw_u32(&w, 7);
    clmlp_cw_end(&w);
    ck_assert_int_eq(clmlp_cw_finish(&w), CLMLP_OK);
    const char *path = tmp_path("ckpt.bin");
    ck_assert_int_eq(clmlp_write_file_atomic(path, w.data, w.len, err, sizeof err), CLMLP_OK);
    clmlp_cw_free(&w);
    clmlp_chunk_file file;
    ck_assert_int_eq(clmlp_chunk_file_read(&file, path, "CLMLPCKP", 1, "clmlp checkpoint", err,
                                           sizeof err), CLMLP_OK);
    ck_assert_int_eq(clmlp_model_read_chunks(&file, &back, &got, err, sizeof err), CLMLP_OK);
    assert_nets_identical(net, back);
    assert_meta_equal(&meta, &got);
    clmlp_chunk_file_free(&file);
    clmlp_net_free(net);
    clmlp_net_free(back);
    clmlp_model_meta_free(&meta);
    clmlp_model_meta_free(&got);
}
END_TEST

START_TEST(test_error_buffers)
{
    const char *path = tmp_path("notes.txt");
    write_bytes(path, "plain text, not a model", 23);
    clmlp_net *net = NULL;
    ck_assert_int_eq(clmlp_model_load(path, &net, NULL, NULL, 0), CLMLP_ERR_FORMAT);
    ck_assert_ptr_null(net);
    char small[8];
    memset(small, 'x', sizeof small);
    ck_assert_int_eq(clmlp_model_load(path, &net, NULL, small, sizeof small), CLMLP_ERR_FORMAT);
    ck_assert_uint_eq(strlen(small), sizeof small - 1); /* truncated, NUL-terminated */
    char one[1] = {'x'};
    ck_assert_int_eq(clmlp_model_load(path, &net, NULL, one, sizeof one), CLMLP_ERR_FORMAT);
    ck_assert_int_eq(one[0], '\0');
    clmlp_model_meta_free(NULL);
    clmlp_model_meta zero;
    memset(&zero, 0, sizeof zero);
    clmlp_model_meta_free(&zero);
}
END_TEST

static Suite *model_io_suite(void)
{
    Suite *s = suite_create("model_io");
    TCase *tc = tcase_create("model_io");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_roundtrip_shapes);
    tcase_add_test(tc, test_roundtrip_special_floats);
    tcase_add_test(tc, test_meta_optional_and_device_limits);
    tcase_add_test(tc, test_save_refuses_nonfinite);
    tcase_add_test(tc, test_save_replaces_atomically);
    tcase_add_test(tc, test_new_file_mode);
    tcase_add_test(tc, test_failed_save_leaves_file);
    tcase_add_test(tc, test_write_file_atomic_bytes);
    tcase_add_test(tc, test_every_truncation_fails);
    tcase_add_test(tc, test_every_flipped_byte_fails);
    tcase_add_test(tc, test_foreign_files_fail);
    tcase_add_test(tc, test_crafted_default_loads);
    tcase_add_test(tc, test_crafted_huge_sizes);
    tcase_add_test(tc, test_crafted_bad_shape);
    tcase_add_test(tc, test_crafted_bad_chunks);
    tcase_add_test(tc, test_crafted_bad_values);
    tcase_add_test(tc, test_crafted_versions);
    tcase_add_test(tc, test_chunk_container_api);
    tcase_add_test(tc, test_model_chunks_in_a_checkpoint);
    tcase_add_test(tc, test_error_buffers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(model_io_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
