/* test_cl_errors.c - OpenCL failures give clear errors, never crashes (shared/cases C09 and the
 * device-choice part of C17): build logs with the right file and line, fp64 checked before
 * building, a missing kernel named, a broken kernel folder refused by the engine, an absent
 * device named, error codes named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char *read_case(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CLMLP_CASES_DIR, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

/* Builds one case file on the default device; returns the status and fills err. */
static clmlp_status build_case(tu_cl *t, const char *file, int flags, cl_program *prog)
{
    clmlp_cl_device d;
    ck_assert_int_eq(clmlp_cl_pick_device(NULL, &d, t->err, sizeof t->err), CLMLP_OK);
    t->dev = d.device;
    cl_int rc;
    t->ctx = clCreateContext(NULL, 1, &t->dev, NULL, NULL, &rc);
    ck_assert_int_eq(rc, CL_SUCCESS);
    char *src = read_case(file);
    clmlp_cl_source s = {file, src};
    clmlp_status st = clmlp_cl_build(t->ctx, t->dev, &s, 1, "-cl-std=CL1.2", flags, prog, t->err,
                                     sizeof t->err);
    free(src);
    return st;
}

START_TEST(c09_broken_kernel_shows_the_build_log)
{
    tu_cl t = {0};
    cl_program prog = (cl_program)1;
    clmlp_status st = build_case(&t, "c09_broken_kernel.cl", 0, &prog);
    ck_assert_int_eq(st, CLMLP_ERR_OPENCL);
    ck_assert_ptr_null(prog); /* never handed out: later calls cannot use it */
    ck_assert_msg(strstr(t.err, "CL_BUILD_PROGRAM_FAILURE (-11)"), "%s", t.err);
    ck_assert_msg(strstr(t.err, "c09_broken_kernel.cl"), "file not named: %s", t.err);
    ck_assert_msg(strstr(t.err, "build log"), "no build log: %s", t.err);
    /* the compiler's diagnostic names the file and line 7 thanks to #line */
    ck_assert_msg(strstr(t.err, "c09_broken_kernel.cl:7"), "line 7 not reported: %s", t.err);
    clReleaseContext(t.ctx);
}
END_TEST

START_TEST(c09_fp64_is_checked_before_building)
{
    tu_cl t = {0};
    cl_program prog;
    clmlp_status st = build_case(&t, "c09_needs_fp64.cl", CLMLP_CL_BUILD_ASSUME_NO_FP64, &prog);
    ck_assert_int_eq(st, CLMLP_ERR_OPENCL);
    ck_assert_msg(strstr(t.err, "no fp64 support") && strstr(t.err, "c09_needs_fp64.cl"), "%s", t.err);
    clReleaseContext(t.ctx);
    /* With the device's real capability (PoCL has fp64) it builds. */
    tu_cl u = {0};
    st = build_case(&u, "c09_needs_fp64.cl", 0, &prog);
    cl_device_fp_config cfg = 0;
    clGetDeviceInfo(u.dev, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof cfg, &cfg, NULL);
    if (cfg) {
        ck_assert_msg(st == CLMLP_OK, "%s", u.err);
        clReleaseProgram(prog);
    } else {
        ck_assert_int_eq(st, CLMLP_ERR_OPENCL);
    }
    clReleaseContext(u.ctx);
}
END_TEST

START_TEST(c09_wrong_kernel_name_is_named)
{
    tu_cl t = {0};
    cl_program prog;
    ck_assert_int_eq(build_case(&t, "c09_wrong_kernel_name.cl", 0, &prog), CLMLP_OK);
    cl_kernel k = (cl_kernel)1;
    clmlp_status st = clmlp_cl_kernel(prog, "forward_layer", &k, t.err, sizeof t.err);
    ck_assert_int_eq(st, CLMLP_ERR_OPENCL);
    ck_assert_ptr_null(k);
    ck_assert_msg(strstr(t.err, "CL_INVALID_KERNEL_NAME (-46)") && strstr(t.err, "forward_layer"), "%s", t.err);
    clReleaseProgram(prog);
    clReleaseContext(t.ctx);
}
END_TEST

/* $CLMLP_KERNEL_DIR pointing at a folder whose forward_layer.cl is broken: the engine refuses
 * to start, with the log, and frees everything (ASan/LSan check the frees). */
START_TEST(engine_with_a_broken_kernel_fails_cleanly)
{
    char dir[] = "/tmp/clmlp-kernels-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp %s/*.cl %s/ && cp %s/c09_broken_kernel.cl %s/forward_layer.cl",
             CLMLP_TEST_KERNEL_DIR, dir, CLMLP_CASES_DIR, dir);
    ck_assert_int_eq(system(cmd), 0);
    setenv("CLMLP_KERNEL_DIR", dir, 1);
    const size_t sizes[] = {2, 2};
    const clmlp_act act[] = {CLMLP_ACT_SOFTMAX};
    clmlp_net *net;
    ck_assert_int_eq(clmlp_net_create(&net, 1, sizes, act, CLMLP_LOSS_CE, NULL, 0), CLMLP_OK);
    clmlp_hyper h = clmlp_hyper_default();
    clmlp_engine *e = (clmlp_engine *)1;
    char err[16384];
    clmlp_status st = clmlp_engine_create(&e, CLMLP_BACKEND_OPENCL, NULL, net, &h, 4, err, sizeof err);
    unsetenv("CLMLP_KERNEL_DIR");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(st, CLMLP_ERR_OPENCL);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err, "forward_layer.cl:7") && strstr(err, "CL_BUILD_PROGRAM_FAILURE"), "%s", err);
    clmlp_net_free(net);
}
END_TEST

START_TEST(missing_kernel_dir_names_the_path)
{
    setenv("CLMLP_KERNEL_DIR", "/nonexistent/kernels", 1);
    clmlp_cl_source src[32];
    size_t n;
    int owned;
    char err[1024];
    clmlp_status st = clmlp_cl_kernel_sources(src, 32, &n, &owned, err, sizeof err);
    unsetenv("CLMLP_KERNEL_DIR");
    ck_assert_int_eq(st, CLMLP_ERR_IO);
    ck_assert_msg(strstr(err, "/nonexistent/kernels/"), "%s", err);
}
END_TEST

START_TEST(error_codes_have_names)
{
    ck_assert_str_eq(clmlp_cl_error_name(-54), "CL_INVALID_WORK_GROUP_SIZE");
    ck_assert_str_eq(clmlp_cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    ck_assert_str_eq(clmlp_cl_error_name(-46), "CL_INVALID_KERNEL_NAME");
    char buf[512];
    clmlp_cl_fail(buf, sizeof buf, -1001, "clGetPlatformIDs", "x.c", 3);
    ck_assert_msg(strstr(buf, "pocl-opencl-icd") && strstr(buf, "x.c:3"), "%s", buf);
}
END_TEST

/* C07: local sizes above the kernel's limit are reduced, not passed through. */
START_TEST(c07_local_sizes_are_fitted)
{
    tu_cl t;
    tu_cl_open(&t);
    cl_kernel k;
    ck_assert_int_eq(clmlp_cl_kernel(t.prog, "forward_layer", &k, t.err, sizeof t.err), CLMLP_OK);
    size_t kmax;
    clGetKernelWorkGroupInfo(k, t.dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL);
    size_t local[2] = {4096, 4096};
    ck_assert_int_eq(clmlp_cl_fit_local(k, t.dev, 2, local, t.err, sizeof t.err), CLMLP_OK);
    ck_assert_uint_le(local[0] * local[1], kmax);
    ck_assert_uint_ge(local[0] * local[1], 1);
    ck_assert_uint_eq(clmlp_round_up(37, 16), 48);
    ck_assert_uint_eq(clmlp_round_up(257, 64), 320);
    ck_assert_uint_eq(clmlp_round_up(1000, 256), 1024);
    ck_assert_uint_eq(clmlp_round_up(13, 12), 24);
    clReleaseKernel(k);
    tu_cl_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("OpenCL errors");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, c09_broken_kernel_shows_the_build_log);
    tcase_add_test(tc, c09_fp64_is_checked_before_building);
    tcase_add_test(tc, c09_wrong_kernel_name_is_named);
    tcase_add_test(tc, engine_with_a_broken_kernel_fails_cleanly);
    tcase_add_test(tc, missing_kernel_dir_names_the_path);
    tcase_add_test(tc, error_codes_have_names);
    tcase_add_test(tc, c07_local_sizes_are_fitted);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
