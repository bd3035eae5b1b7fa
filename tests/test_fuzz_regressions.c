/* test_fuzz_regressions.c - Check suite replaying every input in tests/fuzz/regressions through
 * the same code the fuzzers run (tests/fuzz/fuzz_*.c), so a reader bug the fuzzers once found
 * stays fixed in every build, including the ASan+UBSan one, without clang or libFuzzer.
 *
 * A file's name says which fuzzer it belongs to (idx-*, csv-*, model-*) and it is in that
 * fuzzer's input layout (see the top of each fuzz_*.c). The verdict is the fuzzers' own: a
 * clean error or a success that keeps the readers' promises; a crash or sanitizer report fails.
 * So does running out of memory: memory is capped (a 2 GiB address space; in sanitizer builds,
 * where RLIMIT_AS would break ASan's shadow mappings, ASan's 1 GiB limit per malloc), far above
 * what any of these few-byte inputs justifies, so CLMLP_ERR_NOMEM means a reader trusted a size
 * the file claimed but did not hold - what the fuzzers' 2 GiB malloc limit reports as an OOM.
 */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"

#ifndef CLMLP_CASES_DIR
#error "CLMLP_CASES_DIR must name the tests/cases folder"
#endif
#define REGRESSIONS_DIR CLMLP_CASES_DIR "/../fuzz/regressions"

/* A broken promise fails the test instead of aborting (the fuzzers' FUZZ_FAIL). */
#define FUZZ_FAIL(...) ck_abort_msg(__VA_ARGS__)
/* The fuzz targets' bodies, without their libFuzzer entry points. */
#define CLMLP_FUZZ_NO_ENTRY
#include "fuzz/fuzz_csv.c"
#include "fuzz/fuzz_idx.c"
#include "fuzz/fuzz_model.c"

#define MAX_FILES 1024

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

/* Read by ASan at start-up (a weak hook; unused without ASan): a malloc above 1 GiB returns
 * NULL instead of succeeding lazily, so the reader's NOMEM path shows the over-allocation. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "max_allocation_size_mb=1024:allocator_may_return_null=1";
}

/* Without ASan, the same cap through the address-space limit (inherited by Check's forks). */
static void cap_memory(void)
{
#ifndef ASAN_BUILD
    struct rlimit lim;
    const rlim_t cap = (rlim_t)2 << 30; /* the process itself plus 1 GiB and more of slack */
    if (getrlimit(RLIMIT_AS, &lim) == 0 && (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > cap)) {
        lim.rlim_cur = cap;
        if (setrlimit(RLIMIT_AS, &lim) != 0)
            perror("setrlimit(RLIMIT_AS)");
    }
#endif
}

static char *g_names[MAX_FILES];
static int g_count;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the folder once, sorted, so loop index i names the same file in every run. */
static void list_regressions(void)
{
    DIR *d = opendir(REGRESSIONS_DIR);
    struct dirent *e;
    if (!d)
        return; /* reported by test_folder_not_empty */
    while ((e = readdir(d)) != NULL && g_count < MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        g_names[g_count] = strdup(e->d_name);
        if (g_names[g_count])
            g_count++;
    }
    closedir(d);
    qsort(g_names, (size_t)g_count, sizeof g_names[0], by_name);
}

/* An empty or missing folder would make the loop test vacuous. */
START_TEST(test_folder_not_empty)
{
    ck_assert_msg(g_count > 0, "no regression inputs found in %s", REGRESSIONS_DIR);
}
END_TEST

START_TEST(test_replay)
{
    const char *name = g_names[_i];
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", REGRESSIONS_DIR, name);
    unsigned char *data = tu_read_file(path, &len);
    clmlp_status s = CLMLP_OK;
    if (strncmp(name, "idx-", 4) == 0)
        s = fuzz_idx_input(data, len);
    else if (strncmp(name, "csv-", 4) == 0)
        s = fuzz_csv_input(data, len);
    else if (strncmp(name, "model-", 6) == 0)
        s = fuzz_model_input(data, len);
    else
        ck_abort_msg("%s: name must start with idx-, csv- or model- (the fuzzer it is for)",
                     name);
    free(data);
    fuzz_scratch_cleanup();
    ck_assert_msg(s != CLMLP_ERR_NOMEM, "%s (%zu bytes): out of memory under the cap: the "
                  "reader allocated what the file claimed, not what it held", name, len);
}
END_TEST

static void put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* The fix for idx-gzip-* grows a gzip file's pixel buffer as data arrives (16384 floats, then
 * doubling, capped at the header's size) instead of allocating the header's claim up front.
 * The fuzzers' inputs are too small to reach the doubling, so here: 3 images of 128x128
 * (49152 pixels: two doublings and a cap), ubyte (_i 0) and float32 (_i 1), must load from gzip
 * exactly as from the plain file. */
START_TEST(test_gzip_pixels_grow_like_plain)
{
    const uint32_t n = 3, side = 128, px = n * side * side;
    const size_t elem = _i ? 4 : 1, len = 16 + px * elem;
    unsigned char *img = malloc(len), lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 2, 0, 1};
    clmlp_dataset plain, gz;
    char err[FUZZ_ERRLEN];
    ck_assert_ptr_nonnull(img);
    put_be32(img, _i ? 0x00000D03u : 0x00000803u);
    put_be32(img + 4, n);
    put_be32(img + 8, side);
    put_be32(img + 12, side);
    for (uint32_t k = 0; k < px; k++) {
        if (!_i) {
            img[16 + k] = (unsigned char)(k % 251);
            continue;
        }
        float v = 0.25f * (float)(k % 1000);
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        put_be32(img + 16 + 4 * k, bits);
    }
    const char *lab_path = fuzz_put(1, lab, sizeof lab);
    const char *img_path = fuzz_put_maybe_gz(0, img, len, 0);
    ck_assert_msg(clmlp_idx_load(img_path, lab_path, &plain, err, sizeof err) == CLMLP_OK, "%s",
                  err);
    img_path = fuzz_put_maybe_gz(0, img, len, 1);
    ck_assert_msg(clmlp_idx_load(img_path, lab_path, &gz, err, sizeof err) == CLMLP_OK, "%s",
                  err);
    ck_assert_uint_eq(gz.n, n);
    ck_assert_uint_eq(gz.dim, side * side);
    ck_assert_int_eq(memcmp(plain.X, gz.X, px * sizeof *gz.X), 0);
    for (uint32_t k = 0; k < px; k++) {
        float want = _i ? 0.25f * (float)(k % 1000) : (float)((k % 251) / 255.0);
        ck_assert_msg(gz.X[k] == want, "pixel %u: %g, expected %g", (unsigned)k, (double)gz.X[k],
                      (double)want);
    }
    ck_assert_int_eq(gz.labels[0], 2);
    ck_assert_int_eq(gz.n_classes, 3);
    clmlp_dataset_free(&plain);
    clmlp_dataset_free(&gz);
    free(img);
    fuzz_scratch_cleanup();
}
END_TEST

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4096];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    char tmp[512];
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = tcase_create("replay");
    SRunner *sr;
    int failed;

    /* The fuzz bodies make their scratch files in $TMPDIR: point it at a private folder that
     * is removed below, so a failing (forked, aborted) test leaves nothing in /tmp. */
    snprintf(tmp, sizeof tmp, "%s/clmlp_fuzz_regressions_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp) || setenv("TMPDIR", tmp, 1) != 0) {
        perror("mkdtemp");
        return 1;
    }
    list_regressions();
    cap_memory();
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_folder_not_empty);
    tcase_add_loop_test(tc, test_replay, 0, g_count);
    tcase_add_loop_test(tc, test_gzip_pixels_grow_like_plain, 0, 2);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_dir(tmp);
    for (int i = 0; i < g_count; i++)
        free(g_names[i]);
    return failed == 0 ? 0 : 1;
}
