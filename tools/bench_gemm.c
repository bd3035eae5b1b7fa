/* bench_gemm.c - tuning harness for the three GEMM kernels: builds the kernels with the given
 * -D options, runs one kernel on given shapes with a given local size, checks the result against
 * the C twin (max error relative to the Higham-style scale sum |x y|) and prints the median
 * device time and GFLOP/s over many runs. Not part of the library; by hand:
 *   cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -DCL_TARGET_OPENCL_VERSION=120 -Ihost \
 *      tools/bench_gemm.c build-perf/libclmlp.a -lOpenCL -lz -lm -lpthread -o build-perf/bench-gemm
 * Usage: bench-gemm KERNEL TM TN LX LY "B,n_in,n_out;B,n_in,n_out..." [REPS] [EXTRA -D OPTIONS]
 * KERNEL is forward_layer, forward_layer_t (given W^T, all units per work-item), hidden_delta,
 * hidden_delta_t (given W^T), weight_grad or weight_grad_narrow; TM x TN is the register block the options give that kernel (it sets the
 * global size; for weight_grad_narrow TM is its inputs per work-item, 32, and TN is unused). $BENCH_ACT picks
 * the activation code (default 0, identity); $CLMLP_KERNEL_DIR the kernel sources. Single-core
 * figures (POCL_MAX_PTHREAD_COUNT=1) are the steadiest on a shared machine. Exits 1 when a
 * result breaks its bound. The build also makes it (target bench-gemm), and the test
 * tool_bench_gemm runs every kernel through it once, so that it keeps up with the kernels'
 * arguments. weight_grad's optimizer step is off here: the figure is the product's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl/cl_util.h"
#include "ref/ref_kernels.h"
#include "rng.h"

#define CHECK(call)                                                                               \
    do {                                                                                          \
        cl_int rc_ = (call);                                                                      \
        if (rc_ != CL_SUCCESS) {                                                                  \
            fprintf(stderr, "%s: %s (line %d)\n", #call, clmlp_cl_error_name(rc_), __LINE__);     \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *rnd(clmlp_rng *r, size_t n)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(clmlp_rng_uniform(r) * 2 - 1);
    return v;
}

static cl_mem buf(cl_context ctx, const float *host, size_t n)
{
    cl_int rc;
    cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0),
                              n * sizeof(float), (void *)host, &rc);
    CHECK(rc);
    return m;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s KERNEL TM TN LX LY SHAPES [REPS] [OPTIONS]\n", argv[0]);
        return 2;
    }
    const char *kname = argv[1];
    size_t tm = strtoul(argv[2], NULL, 10), tn = strtoul(argv[3], NULL, 10);
    size_t local[2] = {strtoul(argv[4], NULL, 10), strtoul(argv[5], NULL, 10)};
    int reps = argc > 7 ? atoi(argv[7]) : 50, failed = 0;
    if (reps < 1)
        reps = 1;
    char opts[1024];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 %s", argc > 8 ? argv[8] : "");
    char err[16384];
    clmlp_cl_device d;
    if (clmlp_cl_pick_device(NULL, &d, err, sizeof err) != CLMLP_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    cl_int rc;
    cl_context ctx = clCreateContext(NULL, 1, &d.device, NULL, NULL, &rc);
    CHECK(rc);
    cl_command_queue q = clCreateCommandQueue(ctx, d.device, CL_QUEUE_PROFILING_ENABLE, &rc);
    CHECK(rc);
    clmlp_cl_source src[32];
    size_t count;
    int owned;
    cl_program prog;
    if (clmlp_cl_kernel_sources(src, 32, &count, &owned, err, sizeof err) != CLMLP_OK ||
        clmlp_cl_build(ctx, d.device, src, count, opts, 0, &prog, err, sizeof err) != CLMLP_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    cl_kernel k;
    if (clmlp_cl_kernel(prog, kname, &k, err, sizeof err) != CLMLP_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char shapes[1024];
    snprintf(shapes, sizeof shapes, "%s", argv[6]);
    char *save = NULL;
    clmlp_rng r;
    clmlp_rng_seed(&r, 7);
    for (char *tok = strtok_r(shapes, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        size_t B, ni, no;
        if (sscanf(tok, "%zu,%zu,%zu", &B, &ni, &no) != 3)
            return 2;
        int fwd_t = strcmp(kname, "forward_layer_t") == 0;
        int fwd = strcmp(kname, "forward_layer") == 0 || fwd_t, hid = strncmp(kname, "hidden_delta", 12) == 0;
        float *X = rnd(&r, B * ni), *W = rnd(&r, ni * no), *D = rnd(&r, B * no), *b = rnd(&r, no);
        size_t out_n = fwd ? B * no : hid ? B * ni : ni * no;
        float *want = malloc(out_n * 4), *got = malloc(out_n * 4), *scale = malloc(out_n * 4);
        float *aX = malloc(B * ni * 4), *aW = malloc(ni * no * 4), *aD = malloc(B * no * 4);
        for (size_t i = 0; i < B * ni; i++)
            aX[i] = fabsf(X[i]);
        for (size_t i = 0; i < ni * no; i++)
            aW[i] = fabsf(W[i]);
        for (size_t i = 0; i < B * no; i++)
            aD[i] = fabsf(D[i]);
        float *WT = malloc(ni * no * 4); /* hidden_delta_t reads W^T */
        for (size_t j = 0; j < ni; j++)
            for (size_t c = 0; c < no; c++)
                WT[c * ni + j] = W[j * no + c];
        int tr = strcmp(kname, "hidden_delta_t") == 0 || fwd_t;
        cl_mem mX = buf(ctx, X, B * ni), mW = buf(ctx, tr ? WT : W, ni * no), mD = buf(ctx, D, B * no);
        free(WT);
        cl_mem mb = buf(ctx, b, no), mO = buf(ctx, NULL, out_n), mdb = buf(ctx, NULL, no);
        cl_uint uB = (cl_uint)B, uni = (cl_uint)ni, uno = (cl_uint)no;
        cl_int act = getenv("BENCH_ACT") ? atoi(getenv("BENCH_ACT")) : CLMLP_ACT_IDENTITY;
        size_t gx, gy;
        if (fwd) {
            CHECK(clSetKernelArg(k, 0, sizeof mX, &mX));
            CHECK(clSetKernelArg(k, 1, sizeof mW, &mW));
            CHECK(clSetKernelArg(k, 2, sizeof mb, &mb));
            CHECK(clSetKernelArg(k, 3, sizeof mO, &mO));
            CHECK(clSetKernelArg(k, 7, sizeof act, &act));
            gx = fwd_t ? 1 : (no + tn - 1) / tn, gy = (B + tm - 1) / tm; /* _t: all units */
            ref_forward_layer(X, W, b, want, B, ni, no, act);
            float *ab = malloc(no * 4);
            for (size_t i = 0; i < no; i++)
                ab[i] = fabsf(b[i]);
            ref_forward_layer(aX, aW, ab, scale, B, ni, no, act);
            free(ab);
        } else if (hid) {
            /* A_prev = X for the derivative; identity act makes it 1 */
            CHECK(clSetKernelArg(k, 0, sizeof mD, &mD));
            CHECK(clSetKernelArg(k, 1, sizeof mW, &mW));
            CHECK(clSetKernelArg(k, 2, sizeof mX, &mX));
            CHECK(clSetKernelArg(k, 3, sizeof mO, &mO));
            CHECK(clSetKernelArg(k, 7, sizeof act, &act));
            gx = (ni + tn - 1) / tn, gy = (B + tm - 1) / tm;
            ref_hidden_delta(D, W, X, want, B, ni, no, act);
            ref_hidden_delta(aD, aW, X, scale, B, ni, no, act);
        } else {
            CHECK(clSetKernelArg(k, 0, sizeof mX, &mX));
            CHECK(clSetKernelArg(k, 1, sizeof mD, &mD));
            CHECK(clSetKernelArg(k, 2, sizeof mO, &mO));
            CHECK(clSetKernelArg(k, 3, sizeof mdb, &mdb)); /* the bias gradient, not checked */
            /* The optimizer step of the epilogue off (UPDATE_NONE, kernels/update_rules.cl):
             * the product alone. Its parameter buffers are then never touched. */
            cl_int no_update = 0;
            cl_float zero = 0.0f;
            for (cl_uint a = 7; a < 13; a++) /* W, bias and their two moments: unused */
                CHECK(clSetKernelArg(k, a, sizeof mO, a % 2 ? &mO : &mdb));
            CHECK(clSetKernelArg(k, 13, sizeof no_update, &no_update));
            for (cl_uint a = 14; a < 19; a++)
                CHECK(clSetKernelArg(k, a, sizeof zero, &zero));
            gx = (no + tn - 1) / tn, gy = (ni + tm - 1) / tm;
            if (strcmp(kname, "weight_grad_narrow") == 0) /* TM = inputs per work-item, 1-D */
                gx = (ni + tm - 1) / tm, gy = 1;
            float *db = malloc(no * 4);
            ref_weight_grad(X, D, want, db, B, ni, no);
            ref_weight_grad(aX, aD, scale, db, B, ni, no);
            free(db);
        }
        cl_uint base = 4;
        CHECK(clSetKernelArg(k, base, sizeof uB, &uB));
        CHECK(clSetKernelArg(k, base + 1, sizeof uni, &uni));
        CHECK(clSetKernelArg(k, base + 2, sizeof uno, &uno));
        size_t glob[2] = {clmlp_round_up(gx, local[0]), clmlp_round_up(gy, local[1])};
        double *t = malloc((size_t)reps * sizeof *t);
        for (int i = -3; i < reps; i++) {
            cl_event ev;
            CHECK(clEnqueueNDRangeKernel(q, k, 2, NULL, glob, local, 0, NULL, &ev));
            CHECK(clWaitForEvents(1, &ev));
            cl_ulong t0, t1;
            CHECK(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL));
            CHECK(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL));
            CHECK(clReleaseEvent(ev));
            if (i >= 0)
                t[i] = (double)(t1 - t0);
        }
        CHECK(clEnqueueReadBuffer(q, mO, CL_TRUE, 0, out_n * 4, got, 0, NULL, NULL));
        double worst = 0;
        size_t n_red = fwd ? ni : hid ? no : B;
        for (size_t i = 0; i < out_n; i++) {
            double e = fabs((double)got[i] - want[i]) / ((n_red + 2) * 5.96e-8 * scale[i] + 16 * 5.96e-8 * fabs(want[i]) + 1e-30);
            if (!(e <= worst))
                worst = e;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp);
        double med = t[reps / 2];
        printf("%-14s %4zux%4zux%4zu  median %9.1f us  (min %9.1f)  %7.2f GFLOP/s  err/bound %.3f%s\n",
               kname, B, ni, no, med / 1e3, t[0] / 1e3, 2.0 * B * ni * no / med, worst,
               worst > 1 ? "  FAIL" : "");
        failed |= !(worst <= 1);
        clReleaseMemObject(mX), clReleaseMemObject(mW), clReleaseMemObject(mD);
        clReleaseMemObject(mb), clReleaseMemObject(mO), clReleaseMemObject(mdb);
        free(X), free(W), free(D), free(b), free(want), free(got), free(scale), free(aX), free(aW);
        free(aD), free(t);
    }
    clReleaseKernel(k);
    clReleaseProgram(prog);
    clReleaseCommandQueue(q);
    clReleaseContext(ctx);
    if (owned)
        clmlp_cl_free_sources(src, count);
    return failed; /* 1 when a result broke its bound */
}
