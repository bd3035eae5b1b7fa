/* testutil.c - shared test helpers; see testutil.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SENTINEL_BITS 0x7FC0DEADu /* a NaN with a payload no kernel produces */

float *tu_random(clmlp_rng *rng, size_t n, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)clmlp_rng_uniform(rng);
    return x;
}

unsigned char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

float *tu_abs(const float *x, size_t n)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    ck_assert_ptr_nonnull(y);
    for (size_t i = 0; i < n; i++)
        y[i] = fabsf(x[i]);
    return y;
}

int tu_close(const char *label, const float *got, const float *want, size_t n,
             const float *bound, double atol, double rtol)
{
    size_t bad = 0, worst = 0;
    double max_err = 0.0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        double tol = bound ? bound[i] : atol + rtol * fabs(want[i]);
        if (isnan(got[i]) != isnan(want[i]) || err > tol) {
            if (bad < 5)
                fprintf(stderr, "%s: [%zu] got %.9g want %.9g (|diff| %.3g > tol %.3g)\n", label,
                        i, got[i], want[i], err, tol);
            bad++;
        }
        if (err > max_err || isnan(err)) {
            max_err = err;
            worst = i;
        }
    }
    if (bad)
        fprintf(stderr, "%s: %zu of %zu elements differ; max |diff| %.3g at [%zu]\n", label, bad,
                n, max_err, worst);
    else if (getenv("CLMLP_TEST_VERBOSE"))
        fprintf(stderr, "%s: n=%zu max |diff| %.3g\n", label, n, max_err);
    return bad == 0;
}

clmlp_tiles tu_tiles(void)
{
    const char *name = getenv("CLMLP_TEST_TILES");
    if (!name || !*name || strcmp(name, "cpu") == 0)
        return clmlp_default_tiles;
    if (strcmp(name, "gpu") == 0)
        return clmlp_tiles_for_device(CL_DEVICE_TYPE_GPU);
    if (strcmp(name, "cpu16") == 0) {
        clmlp_tiles t = clmlp_default_tiles;
        t.fwd_tn = t.wg_tn = t.ht_tn = 16;
        return t;
    }
    ck_abort_msg("CLMLP_TEST_TILES=%s: expected cpu, gpu or cpu16", name);
    return clmlp_default_tiles; /* not reached */
}

void tu_cl_open(tu_cl *t)
{
    memset(t, 0, sizeof *t);
    clmlp_cl_device d;
    clmlp_status st = clmlp_cl_pick_device(NULL, &d, t->err, sizeof t->err);
    ck_assert_msg(st == CLMLP_OK, "%s", t->err);
    t->dev = d.device;
    cl_int rc;
    t->ctx = clCreateContext(NULL, 1, &t->dev, NULL, NULL, &rc);
    ck_assert_msg(rc == CL_SUCCESS, "clCreateContext: %s", clmlp_cl_error_name(rc));
    t->q = clCreateCommandQueue(t->ctx, t->dev, 0, &rc);
    ck_assert_msg(rc == CL_SUCCESS, "clCreateCommandQueue: %s", clmlp_cl_error_name(rc));
    clmlp_cl_source src[32];
    size_t count = 0;
    int owned = 0;
    char opts[256];
    st = clmlp_cl_kernel_sources(src, 32, &count, &owned, t->err, sizeof t->err);
    ck_assert_msg(st == CLMLP_OK, "%s", t->err);
    t->tiles = tu_tiles();
    clmlp_cl_build_options(&t->tiles, opts, sizeof opts);
    st = clmlp_cl_build(t->ctx, t->dev, src, count, opts, 0, &t->prog, t->err, sizeof t->err);
    if (owned)
        clmlp_cl_free_sources(src, count);
    ck_assert_msg(st == CLMLP_OK, "%s", t->err);
}

void tu_cl_close(tu_cl *t)
{
    if (t->prog)
        clReleaseProgram(t->prog);
    if (t->q)
        clReleaseCommandQueue(t->q);
    if (t->ctx)
        clReleaseContext(t->ctx);
}

/* A buffer of n floats then TU_GUARD sentinels; body copied from host or set to NaN. */
static cl_mem guarded(tu_cl *t, const void *host, size_t n)
{
    size_t total = n + TU_GUARD;
    uint32_t *init = malloc(total * sizeof *init);
    ck_assert_ptr_nonnull(init);
    for (size_t i = 0; i < total; i++)
        init[i] = SENTINEL_BITS;
    if (host)
        memcpy(init, host, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++) {
            float nan = NAN;
            memcpy(&init[i], &nan, sizeof nan);
        }
    cl_int rc;
    cl_mem m = clCreateBuffer(t->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              total * sizeof(float), init, &rc);
    free(init);
    ck_assert_msg(rc == CL_SUCCESS, "clCreateBuffer: %s", clmlp_cl_error_name(rc));
    return m;
}

cl_mem tu_cl_in(tu_cl *t, const void *host, size_t n) { return guarded(t, host, n); }
cl_mem tu_cl_out(tu_cl *t, size_t n) { return guarded(t, NULL, n); }

void tu_cl_read(tu_cl *t, cl_mem m, void *host, size_t n)
{
    size_t total = n + TU_GUARD;
    uint32_t *all = malloc(total * sizeof *all);
    ck_assert_ptr_nonnull(all);
    cl_int rc = clEnqueueReadBuffer(t->q, m, CL_TRUE, 0, total * 4, all, 0, NULL, NULL);
    ck_assert_msg(rc == CL_SUCCESS, "clEnqueueReadBuffer: %s", clmlp_cl_error_name(rc));
    for (size_t i = n; i < total; i++)
        ck_assert_msg(all[i] == SENTINEL_BITS, "guard word %zu after a %zu-element buffer was "
                      "overwritten: a kernel wrote past its output", i - n, n);
    memcpy(host, all, n * 4);
    free(all);
}

void tu_cl_run(tu_cl *t, const char *name, size_t gx, size_t gy, size_t lx, size_t ly, int nargs,
               const tu_arg *args)
{
    cl_kernel k;
    clmlp_status st = clmlp_cl_kernel(t->prog, name, &k, t->err, sizeof t->err);
    ck_assert_msg(st == CLMLP_OK, "%s", t->err);
    for (int i = 0; i < nargs; i++) {
        cl_int rc = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr);
        ck_assert_msg(rc == CL_SUCCESS, "%s arg %d: %s", name, i, clmlp_cl_error_name(rc));
    }
    cl_uint dims = gy ? 2 : 1;
    size_t global[2] = {gx, gy}, local[2] = {lx, ly ? ly : 1};
    st = clmlp_cl_fit_local(k, t->dev, dims, local, t->err, sizeof t->err);
    ck_assert_msg(st == CLMLP_OK, "%s", t->err);
    st = clmlp_cl_launch(t->q, k, dims, global, local, NULL, t->err, sizeof t->err);
    ck_assert_msg(st == CLMLP_OK, "%s: %s", name, t->err);
    ck_assert_int_eq(clFinish(t->q), CL_SUCCESS);
    clReleaseKernel(k);
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
