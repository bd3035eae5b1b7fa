/* cl_engine.c - the OpenCL backend: device buffers for the dataset, the parameters and every
 * layer's activations and deltas, and the training step as one in-order stream of kernels with
 * no host wait per batch. The same order of phases as host/ref/ref_engine.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cl_util.h"
#include "engine.h"

enum kernel_id {
    K_GATHER, K_FORWARD, K_DELTA_MSE, K_DELTA_CE, K_SOFTMAX, K_HIDDEN, K_WGRAD, K_LAYER_STATS,
    K_TRANSPOSE, K_HIDDEN_T, K_WGRAD_NARROW, K_FORWARD_T, K_COUNT
};

/* One descriptor per kernel: its name, its range rank and the local sizes we ask for on
 * CPU-like and on GPU-like devices. A fixed small set of local sizes: every new one makes PoCL
 * compile again (40-60 ms), and a NULL local size costs far more (a new compile per shape).
 * GEMMs on a CPU: 16 x 1 groups, i.e. 16 neighbouring column blocks of the same rows: with
 * 8 x 16 blocks that is 256 columns (a whole 256-unit layer) sharing A_prev's 8 rows in L1,
 * and still >= 4 groups for two cores at batch 32. PoCL runs a group as a loop on one core, so
 * its size only sets that locality and the number of groups to share out. On a GPU, 16 x 16
 * groups give 256 threads (8 warps) per group. */
static const struct kernel_desc {
    const char *name;
    cl_uint dims;
    size_t local_cpu[2], local_gpu[2];
} kdesc[K_COUNT] = {
    /* A work-item copies 8 rows: a group each on a CPU, so that both cores share even batch
     * 32; on a GPU, 64 threads along the rows' chunks. */
    [K_GATHER] = {"gather_batch", 2, {1, 1}, {64, 1}},
    [K_FORWARD] = {"forward_layer", 2, {16, 1}, {16, 16}},
    [K_DELTA_MSE] = {"output_delta_mse", 1, {64, 1}, {64, 1}},
    [K_DELTA_CE] = {"output_delta_ce", 1, {1, 1}, {64, 1}},
    [K_SOFTMAX] = {"softmax_rows", 1, {64, 1}, {64, 1}},
    [K_HIDDEN] = {"hidden_delta", 2, {16, 1}, {16, 16}},
    [K_WGRAD] = {"weight_grad", 2, {16, 1}, {16, 16}},
    [K_LAYER_STATS] = {"layer_stats", 1, {64, 1}, {64, 1}},
    [K_TRANSPOSE] = {"transpose", 2, {16, 1}, {16, 16}},
    [K_HIDDEN_T] = {"hidden_delta_t", 2, {16, 1}, {16, 16}},
    /* One work-item (32 inputs, every unit, the whole batch) is a few microseconds of work:
     * a group each, so that both cores share even a 128-input layer (4 work-items). */
    [K_WGRAD_NARROW] = {"weight_grad_narrow", 1, {1, 1}, {64, 1}},
    [K_FORWARD_T] = {"forward_layer_t", 2, {1, 1}, {1, 64}},
};

/* The position of the `update` argument of weight_grad and weight_grad_narrow (see
 * backward_all), for the replays of clmlp_engine_replay_alone. */
#define WGRAD_UPDATE_ARG 13

/* Samples per work-item of output_delta_ce (CE_ROWS in kernels/output_delta_ce.cl). */
#define CE_ROWS 8

/* Rows per work-item of gather_batch (GATHER_ROWS in kernels/gather_batch.cl). */
#define GATHER_ROWS 8

/* Rows per work-item of forward_layer_t (FWT_TM in kernels/forward_layer.cl), and the widest
 * layer it takes (its outputs live in one float16 per row). */
#define FWD_T_ROWS 8
#define FWD_T_MAX_UNITS 16

typedef struct cl_state {
    cl_device_id dev;
    int gpu_like; /* CL_DEVICE_TYPE_GPU or _ACCELERATOR: the GPU tiles and local sizes */
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    cl_kernel k[K_COUNT];
    size_t local[K_COUNT][2];
    clmlp_tiles t;
    cl_ulong max_alloc;
    cl_mem X_all, labels_all, order, loss, correct, X, labels, P;
    cl_mem params, grad, opt_m, opt_v;
    cl_mem W[CLMLP_MAX_LAYERS], b[CLMLP_MAX_LAYERS], gW[CLMLP_MAX_LAYERS], gb[CLMLP_MAX_LAYERS];
    cl_mem mW[CLMLP_MAX_LAYERS], mb[CLMLP_MAX_LAYERS], vW[CLMLP_MAX_LAYERS], vb[CLMLP_MAX_LAYERS];
    cl_mem A[CLMLP_MAX_LAYERS], D[CLMLP_MAX_LAYERS];
    cl_mem WT[CLMLP_MAX_LAYERS]; /* W_l^T for hidden_delta_t, layers 1..L-1, rewritten per step */
    cl_mem stats_part; /* layer_stats partial sums of every layer, made on first use */
    /* Profiling hook (bench.h): NULL when off, so a launch pays one untaken branch. */
    struct prof_log *prof;
    struct capture_log *capture; /* launch arguments, for clmlp_engine_replay_alone */
    clmlp_launch at; /* layer and shape of the next launch, set by the enqueue loops */
} cl_state;

/* The launches recorded since clmlp_engine_profile_begin, with their events. */
struct prof_log {
    size_t n, cap;
    cl_event *ev;
    clmlp_launch *rec;
};

/* The launches (kernel, sizes, argument values) recorded since clmlp_engine_capture_begin.
 * Every argument of our kernels is a cl_mem or a 4-byte scalar: 8 bytes hold any of them. */
#define CAPTURE_MAX 64
#define CAPTURE_ARGS 20
struct captured {
    int id;
    size_t gx, gy;
    int n;
    size_t size[CAPTURE_ARGS];
    unsigned char val[CAPTURE_ARGS][8];
    clmlp_launch at;
};
struct capture_log {
    size_t n;
    struct captured c[CAPTURE_MAX];
};

#define TRY(call) CLMLP_CL_TRY(e->err, sizeof e->err, call)
#define TRY_ST(expr)                                                                              \
    do {                                                                                          \
        clmlp_status st_ = (expr);                                                                \
        if (st_ != CLMLP_OK)                                                                      \
            return st_;                                                                           \
    } while (0)

static cl_state *state(clmlp_engine *e) { return e->impl; }

static void release_mem(cl_mem *m)
{
    if (*m)
        clReleaseMemObject(*m);
    *m = NULL;
}

static void prof_free(cl_state *s)
{
    if (!s->prof)
        return;
    for (size_t i = 0; i < s->prof->n; i++)
        clReleaseEvent(s->prof->ev[i]);
    free(s->prof->ev);
    free(s->prof->rec);
    free(s->prof);
    s->prof = NULL;
}

static void cl_destroy(clmlp_engine *e)
{
    cl_state *s = state(e);
    if (!s)
        return;
    if (s->q)
        clFinish(s->q); /* nothing may still use a buffer we release */
    prof_free(s);
    free(s->capture);
    /* Sub-buffers before their parents. */
    for (int l = 0; l < CLMLP_MAX_LAYERS; l++) {
        cl_mem *subs[] = {&s->W[l], &s->b[l], &s->gW[l], &s->gb[l], &s->mW[l], &s->mb[l],
                          &s->vW[l], &s->vb[l], &s->A[l], &s->D[l], &s->WT[l]};
        for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
            release_mem(subs[i]);
    }
    cl_mem *mems[] = {&s->X_all, &s->labels_all, &s->order, &s->loss, &s->correct, &s->X,
                      &s->labels, &s->P, &s->params, &s->grad, &s->opt_m, &s->opt_v, &s->stats_part};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        release_mem(mems[i]);
    for (int i = 0; i < K_COUNT; i++)
        if (s->k[i])
            clReleaseKernel(s->k[i]);
    if (s->prog)
        clReleaseProgram(s->prog);
    if (s->q)
        clReleaseCommandQueue(s->q);
    if (s->ctx)
        clReleaseContext(s->ctx);
    free(s);
    e->impl = NULL;
}

/* a*b*elem bytes, or 0 when that overflows size_t. */
static size_t bytes_of(size_t a, size_t b, size_t elem)
{
    if (b && a > SIZE_MAX / b)
        return 0;
    size_t n = a * b;
    if (n == 0)
        n = 1;
    return n > SIZE_MAX / elem ? 0 : n * elem;
}

/* Creates a device buffer after checking it fits the device's largest allocation (C17). */
static clmlp_status make_buffer(clmlp_engine *e, size_t a, size_t b, size_t elem, const char *what,
                                cl_mem *out)
{
    cl_state *s = state(e);
    size_t bytes = bytes_of(a, b, elem);
    if (bytes == 0)
        return clmlp_engine_fail(e, CLMLP_ERR_NOMEM, "%s: %zu x %zu x %zu bytes overflows", what,
                                 a, b, elem);
    if (bytes > s->max_alloc)
        return clmlp_engine_fail(e, CLMLP_ERR_NOMEM,
                                 "%s needs %zu bytes; the device's maximum single allocation is "
                                 "%llu bytes (CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                                 what, bytes, (unsigned long long)s->max_alloc);
    cl_int rc;
    *out = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    CLMLP_CL_TRY_RC(e->err, sizeof e->err, rc, "clCreateBuffer");
    return CLMLP_OK;
}

/* A view of floats [off, off+n) of parent; off is a multiple of CLMLP_PARAM_ALIGN. */
static clmlp_status sub_buffer(clmlp_engine *e, cl_mem parent, size_t off, size_t n, cl_mem *out)
{
    cl_buffer_region r = {off * sizeof(float), n * sizeof(float)};
    cl_int rc;
    *out = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &rc);
    CLMLP_CL_TRY_RC(e->err, sizeof e->err, rc, "clCreateSubBuffer");
    return CLMLP_OK;
}

/* The parameter-shaped buffers (params, grad, m, v) and their per-tensor views. */
static clmlp_status make_param_buffers(clmlp_engine *e)
{
    cl_state *s = state(e);
    const clmlp_net *net = e->net;
    size_t n = net->n_params_padded;
    TRY_ST(make_buffer(e, n, 1, sizeof(float), "the parameter buffer", &s->params));
    TRY_ST(make_buffer(e, n, 1, sizeof(float), "the gradient buffer", &s->grad));
    TRY_ST(make_buffer(e, n, 1, sizeof(float), "the optimizer's first-moment buffer", &s->opt_m));
    TRY_ST(make_buffer(e, n, 1, sizeof(float), "the optimizer's second-moment buffer", &s->opt_v));
    float zero = 0.0f;
    cl_mem all[] = {s->grad, s->opt_m, s->opt_v};
    for (int i = 0; i < 3; i++)
        TRY(clEnqueueFillBuffer(s->q, all[i], &zero, sizeof zero, 0, n * sizeof(float), 0, NULL, NULL));
    for (int l = 0; l < net->n_layers; l++) {
        size_t nw = net->sizes[l] * net->sizes[l + 1], nb = net->sizes[l + 1];
        TRY_ST(sub_buffer(e, s->params, net->w_off[l], nw, &s->W[l]));
        TRY_ST(sub_buffer(e, s->params, net->b_off[l], nb, &s->b[l]));
        TRY_ST(sub_buffer(e, s->grad, net->w_off[l], nw, &s->gW[l]));
        TRY_ST(sub_buffer(e, s->grad, net->b_off[l], nb, &s->gb[l]));
        TRY_ST(sub_buffer(e, s->opt_m, net->w_off[l], nw, &s->mW[l]));
        TRY_ST(sub_buffer(e, s->opt_m, net->b_off[l], nb, &s->mb[l]));
        TRY_ST(sub_buffer(e, s->opt_v, net->w_off[l], nw, &s->vW[l]));
        TRY_ST(sub_buffer(e, s->opt_v, net->b_off[l], nb, &s->vb[l]));
        /* W_l^T: the hidden deltas read it for l >= 1 (layer 0 has no delta below it), and
         * forward_layer_t for narrow layers */
        if (l > 0 || net->sizes[l + 1] < FWD_T_MAX_UNITS)
            TRY_ST(make_buffer(e, nw, 1, sizeof(float), "a transposed weight matrix", &s->WT[l]));
    }
    TRY(clEnqueueWriteBuffer(s->q, s->params, CL_TRUE, 0, n * sizeof(float), net->params, 0, NULL, NULL));
    return CLMLP_OK;
}

static clmlp_status make_batch_buffers(clmlp_engine *e)
{
    cl_state *s = state(e);
    const clmlp_net *net = e->net;
    size_t B = e->max_batch;
    char what[64];
    TRY_ST(make_buffer(e, B, net->sizes[0], sizeof(float), "the input batch", &s->X));
    TRY_ST(make_buffer(e, B, 1, sizeof(cl_int), "the batch label buffer", &s->labels));
    TRY_ST(make_buffer(e, B, net->sizes[net->n_layers], sizeof(float), "the output buffer", &s->P));
    for (int l = 0; l < net->n_layers; l++) {
        snprintf(what, sizeof what, "the layer %d activation buffer", l + 1);
        TRY_ST(make_buffer(e, B, net->sizes[l + 1], sizeof(float), what, &s->A[l]));
        snprintf(what, sizeof what, "the layer %d delta buffer", l + 1);
        TRY_ST(make_buffer(e, B, net->sizes[l + 1], sizeof(float), what, &s->D[l]));
    }
    return CLMLP_OK;
}

static clmlp_status build_kernels(clmlp_engine *e)
{
    cl_state *s = state(e);
    clmlp_cl_source src[32];
    size_t count = 0;
    int owned = 0;
    char opts[256];
    TRY_ST(clmlp_cl_kernel_sources(src, 32, &count, &owned, e->err, sizeof e->err));
    clmlp_cl_build_options(&s->t, opts, sizeof opts);
    clmlp_status st = clmlp_cl_build(s->ctx, s->dev, src, count, opts, 0, &s->prog, e->err,
                                     sizeof e->err);
    if (owned)
        clmlp_cl_free_sources(src, count);
    TRY_ST(st);
    for (int i = 0; i < K_COUNT; i++) {
        TRY_ST(clmlp_cl_kernel(s->prog, kdesc[i].name, &s->k[i], e->err, sizeof e->err));
        const size_t *want = s->gpu_like ? kdesc[i].local_gpu : kdesc[i].local_cpu;
        s->local[i][0] = want[0];
        s->local[i][1] = want[1];
        TRY_ST(clmlp_cl_fit_local(s->k[i], s->dev, kdesc[i].dims, s->local[i], e->err, sizeof e->err));
    }
    return CLMLP_OK;
}

static clmlp_status open_device(clmlp_engine *e, const char *spec)
{
    cl_state *s = state(e);
    clmlp_cl_device d;
    TRY_ST(clmlp_cl_pick_device(spec, &d, e->err, sizeof e->err));
    s->dev = d.device;
    s->gpu_like = (d.type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)) != 0;
    s->t = clmlp_tiles_for_device(d.type);
    snprintf(e->device_name, sizeof e->device_name, "%s (%s)", d.name, d.platform_name);
    cl_uint align_bits = 0;
    TRY(clGetDeviceInfo(s->dev, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL));
    TRY(clGetDeviceInfo(s->dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof s->max_alloc, &s->max_alloc, NULL));
    if (align_bits / 8 > CLMLP_PARAM_ALIGN * sizeof(float))
        return clmlp_engine_fail(e, CLMLP_ERR_OPENCL,
                                 "device '%s' aligns sub-buffers to %u bits, more than clmlp's "
                                 "parameter layout provides (%zu bits)",
                                 e->device_name, align_bits, CLMLP_PARAM_ALIGN * sizeof(float) * 8);
    cl_int rc;
    s->ctx = clCreateContext(NULL, 1, &s->dev, NULL, NULL, &rc);
    CLMLP_CL_TRY_RC(e->err, sizeof e->err, rc, "clCreateContext");
    s->q = clCreateCommandQueue(s->ctx, s->dev, CL_QUEUE_PROFILING_ENABLE, &rc);
    CLMLP_CL_TRY_RC(e->err, sizeof e->err, rc, "clCreateCommandQueue");
    return CLMLP_OK;
}

/* One kernel argument: its size and address. */
typedef struct karg {
    size_t size;
    const void *ptr;
} karg;
#define MEM(x) ((karg){sizeof(cl_mem), &(x)})
#define U32(x) ((karg){sizeof(cl_uint), &(cl_uint){(cl_uint)(x)}})
#define I32(x) ((karg){sizeof(cl_int), &(cl_int){(cl_int)(x)}})
#define F32(x) ((karg){sizeof(cl_float), &(cl_float){(cl_float)(x)}})

/* Sets the arguments of kernel id and enqueues it over gx (x gy) items. */
static clmlp_status run(clmlp_engine *e, enum kernel_id id, size_t gx, size_t gy, int n,
                        const karg *a)
{
    if (e->fail_at_step && e->step == e->fail_at_step) {
        e->fail_at_step = 0; /* one fault, at the first launch of that step */
        size_t used = (size_t)snprintf(e->err, sizeof e->err, "kernel %s at step %llu: ",
                                       kdesc[id].name, (unsigned long long)e->step);
        return clmlp_cl_fail(e->err + used, sizeof e->err - used, CL_OUT_OF_RESOURCES,
                             "clEnqueueNDRangeKernel (fault injected by CLMLP_TEST_FAIL_AT_STEP)",
                             __FILE__, __LINE__);
    }
    cl_state *s = state(e);
    for (int i = 0; i < n; i++) {
        cl_int rc = clSetKernelArg(s->k[id], (cl_uint)i, a[i].size, a[i].ptr);
        if (rc != CL_SUCCESS) {
            size_t used = (size_t)snprintf(e->err, sizeof e->err, "kernel %s, argument %d: ",
                                           kdesc[id].name, i);
            return clmlp_cl_fail(e->err + used, sizeof e->err - used, rc, "clSetKernelArg",
                                 __FILE__, __LINE__);
        }
    }
    struct capture_log *c = s->capture;
    if (c && c->n < CAPTURE_MAX && n <= CAPTURE_ARGS) {
        struct captured *k = &c->c[c->n++];
        *k = (struct captured){.id = id, .gx = gx, .gy = gy, .n = n, .at = s->at};
        k->at.kernel = kdesc[id].name;
        for (int i = 0; i < n; i++) {
            k->size[i] = a[i].size <= sizeof k->val[i] ? a[i].size : sizeof k->val[i];
            memcpy(k->val[i], a[i].ptr, k->size[i]);
        }
    }
    size_t global[2] = {gx, gy};
    struct prof_log *p = s->prof;
    cl_event ev = NULL;
    int record = p && p->n < p->cap;
    clmlp_status st = clmlp_cl_launch(s->q, s->k[id], kdesc[id].dims, global, s->local[id],
                                      record ? &ev : NULL, e->err, sizeof e->err);
    if (st == CLMLP_OK && record) {
        p->ev[p->n] = ev;
        p->rec[p->n] = s->at;
        p->rec[p->n].kernel = kdesc[id].name;
        p->n++;
    }
    if (st != CLMLP_OK) {
        char tail[sizeof e->err];
        snprintf(tail, sizeof tail, "%s", e->err);
        snprintf(e->err, sizeof e->err, "kernel %s (global %zu x %zu, local %zu x %zu): %s",
                 kdesc[id].name, gx, gy, s->local[id][0], s->local[id][1], tail);
    }
    return st;
}
/* Notes the layer and shape of the launches that follow, for the profiling hook. */
#define AT(layer, rows, n_in, n_out)                                                              \
    (s->at = (clmlp_launch){NULL, (layer), (rows), (n_in), (n_out), 0.0})
#define RUN(id, gx, gy, ...)                                                                      \
    TRY_ST(run(e, id, gx, gy, (int)(sizeof((karg[]){__VA_ARGS__}) / sizeof(karg)),               \
               (karg[]){__VA_ARGS__}))

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

static clmlp_status cl_set_data(clmlp_engine *e, const float *X, const int32_t *labels, size_t n,
                                size_t dim)
{
    cl_state *s = state(e);
    cl_mem *old[] = {&s->X_all, &s->labels_all, &s->order, &s->loss, &s->correct};
    for (size_t i = 0; i < sizeof old / sizeof *old; i++)
        release_mem(old[i]);
    TRY_ST(make_buffer(e, n, dim, sizeof(float), "the training set", &s->X_all));
    TRY_ST(make_buffer(e, n, 1, sizeof(cl_int), "the training-label buffer", &s->labels_all));
    TRY_ST(make_buffer(e, n, 1, sizeof(cl_uint), "the sample-order buffer", &s->order));
    TRY_ST(make_buffer(e, n, 1, sizeof(float), "the per-sample loss buffer", &s->loss));
    TRY_ST(make_buffer(e, n, 1, sizeof(cl_int), "the per-sample result buffer", &s->correct));
    TRY(clEnqueueWriteBuffer(s->q, s->X_all, CL_TRUE, 0, n * dim * sizeof(float), X, 0, NULL, NULL));
    TRY(clEnqueueWriteBuffer(s->q, s->labels_all, CL_TRUE, 0, n * sizeof(cl_int), labels, 0, NULL, NULL));
    return CLMLP_OK;
}

static clmlp_status cl_set_order(clmlp_engine *e, const uint32_t *order, size_t n)
{
    cl_state *s = state(e);
    TRY(clEnqueueWriteBuffer(s->q, s->order, CL_TRUE, 0, n * sizeof(cl_uint), order, 0, NULL, NULL));
    return CLMLP_OK;
}

/* From this many rows on, a hidden delta transposes W_l and runs hidden_delta_t (forward-shaped,
 * ~2x the GFLOP/s of hidden_delta on PoCL, ~10x for a 10-unit layer); below it the transpose
 * (a launch and a pass over W_l) costs more than it saves, and hidden_delta reads W directly.
 * Both give the same sums up to rounding order. */
#define HIDDEN_T_MIN_ROWS 32
/* The block of one transpose work-item, 8 x TR_C in kernels/transpose.cl. */
#define TRANSPOSE_R 8
#define TRANSPOSE_C 32

/* Whether a layer of n_out units runs forward_layer_t (after transposing W_l) on count rows:
 * on a CPU-like device, for a layer narrower than a forward tile (fewer than 16 units: the
 * 10-unit output layer), from HIDDEN_T_MIN_ROWS rows on, where the backward pass transposes
 * W_l anyway, so the transpose only moves from the backward pass to the forward one.
 * forward_layer's vectors run along the units, wasting most of a vector on 10 of them;
 * forward_layer_t's run along the inputs: 1.3x at 256 x 128 x 10 on one core (BENCHMARKS.md).
 * GPUs keep forward_layer: their 4-wide tiles waste little. */
static int use_forward_t(const cl_state *s, size_t n_out, size_t count)
{
    return !s->gpu_like && n_out < s->t.fwd_tn && n_out < FWD_T_MAX_UNITS &&
           count >= HIDDEN_T_MIN_ROWS;
}

/* Z = A_prev W + b, A = act(Z) for every layer, from the rows in s->X. A narrow layer (see
 * use_forward_t) first transposes W_l and runs forward_layer_t; its backward pass then reuses
 * that W_l^T (W does not change in between) instead of transposing again. */
static clmlp_status forward_all(clmlp_engine *e, size_t count)
{
    cl_state *s = state(e);
    const clmlp_net *net = e->net;
    for (int l = 0; l < net->n_layers; l++) {
        size_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        cl_mem in = l ? s->A[l - 1] : s->X;
        if (use_forward_t(s, n_out, count)) {
            AT(l, 1, n_in, n_out);
            RUN(K_TRANSPOSE, div_up(n_in, TRANSPOSE_R), div_up(n_out, TRANSPOSE_C), MEM(s->W[l]),
                MEM(s->WT[l]), U32(n_in), U32(n_out));
            AT(l, count, n_in, n_out);
            RUN(K_FORWARD_T, 1, div_up(count, FWD_T_ROWS), MEM(in), MEM(s->WT[l]), MEM(s->b[l]),
                MEM(s->A[l]), U32(count), U32(n_in), U32(n_out), I32(net->act[l]));
            continue;
        }
        AT(l, count, n_in, n_out);
        RUN(K_FORWARD, div_up(n_out, s->t.fwd_tn), div_up(count, s->t.fwd_tm), MEM(in),
            MEM(s->W[l]), MEM(s->b[l]), MEM(s->A[l]), U32(count), U32(n_in), U32(n_out),
            I32(net->act[l]));
    }
    return CLMLP_OK;
}


/* Inputs per work-item of weight_grad_narrow (WGN_TJ in kernels/weight_grad_narrow.cl). */
#define WGRAD_NARROW_J 32

/* Floats in one CPU vector register as the kernels use it (float16, AVX-512). */
#define CPU_VECTOR_FLOATS 16

/* Whether layer l's weight gradient runs weight_grad_narrow: on a CPU-like device, when the
 * layer's units leave a partial float16 that is most of the layer (fewer than two float16s,
 * not a multiple of one: 10 or 17 units). weight_grad then runs part of its vectors empty;
 * weight_grad_narrow, vectorised along the inputs, uses every lane: 2.0x the speed for 10
 * units, 1.27x for 17, 1.2x for 26 (one core, tools/bench_gemm.c, BENCHMARKS.md), the same
 * sums bit for bit. A 32- or 64-unit layer stays on weight_grad, which is faster there.
 * Not on GPUs: their 4-wide tiles waste little, and it is tuned for CPU vector units. */
static int use_weight_grad_narrow(const cl_state *s, size_t n_out)
{
    return !s->gpu_like && n_out < 2 * CPU_VECTOR_FLOATS && n_out % CPU_VECTOR_FLOATS != 0;
}

/* The `update` argument of the gradient kernels (UPDATE_* in kernels/update_rules.cl): every
 * optimizer steps each parameter in weight_grad's epilogue, as soon as its gradient is summed,
 * instead of in a pass of its own over every parameter after all the gradients: that pass
 * re-read the whole gradient and cost a launch, ~26 us of a ~215 us step at batch 32 on one
 * PoCL thread (BENCHMARKS.md). The gradients are still stored (the diagnostics read them). */
static int update_code(const clmlp_hyper *h)
{
    switch (h->optimizer) {
    case CLMLP_OPT_SGD: return 1;      /* UPDATE_SGD */
    case CLMLP_OPT_MOMENTUM: return 2; /* UPDATE_MOMENTUM */
    default: return 3;                 /* UPDATE_ADAM */
    }
}

/* Output delta, hidden deltas, then all gradients and the parameter steps: no weight changes
 * before every delta is known (C04). */
static clmlp_status backward_all(clmlp_engine *e, size_t first, size_t count)
{
    cl_state *s = state(e);
    const clmlp_net *net = e->net;
    int L = net->n_layers;
    size_t n_out = net->sizes[L];
    AT(L - 1, count, 0, n_out);
    if (net->loss == CLMLP_LOSS_CE)
        RUN(K_DELTA_CE, div_up(count, CE_ROWS), 1, MEM(s->A[L - 1]), MEM(s->labels),
            MEM(s->D[L - 1]), MEM(s->loss), MEM(s->correct), U32(count), U32(n_out), U32(first));
    else
        RUN(K_DELTA_MSE, count, 1, MEM(s->A[L - 1]), MEM(s->labels), MEM(s->D[L - 1]),
            MEM(s->loss), MEM(s->correct), U32(count), U32(n_out), I32(net->act[L - 1]), U32(first));
    for (int l = L - 1; l >= 1; l--) {
        size_t n_in = net->sizes[l], n = net->sizes[l + 1];
        if (count >= HIDDEN_T_MIN_ROWS) {
            /* Transpose W_l (it changed in the last update) unless this step's forward pass
             * did (a narrow layer), then the forward-shaped kernel. */
            if (!use_forward_t(s, n, count)) {
                AT(l, 1, n_in, n);
                RUN(K_TRANSPOSE, div_up(n_in, TRANSPOSE_R), div_up(n, TRANSPOSE_C), MEM(s->W[l]),
                    MEM(s->WT[l]), U32(n_in), U32(n));
            }
            AT(l, count, n_in, n);
            RUN(K_HIDDEN_T, div_up(n_in, s->t.ht_tn), div_up(count, s->t.ht_tm), MEM(s->D[l]),
                MEM(s->WT[l]), MEM(s->A[l - 1]), MEM(s->D[l - 1]), U32(count), U32(n_in), U32(n),
                I32(net->act[l - 1]));
        } else {
            AT(l, count, n_in, n);
            RUN(K_HIDDEN, div_up(n_in, s->t.hd_tn), div_up(count, s->t.hd_tm), MEM(s->D[l]),
                MEM(s->W[l]), MEM(s->A[l - 1]), MEM(s->D[l - 1]), U32(count), U32(n_in), U32(n),
                I32(net->act[l - 1]));
        }
    }
    const clmlp_hyper *h = &e->hyper;
    int update = update_code(h);
    /* The rule's settings as the kernels take them: Adam's lr and eps with the bias
     * corrections of this step folded in, and beta1 in the momentum's place. */
    float lr = h->lr, mu = h->momentum, eps = h->eps;
    if (h->optimizer == CLMLP_OPT_ADAM) {
        clmlp_adam_coeffs(h, e->step, &lr, &eps);
        mu = h->beta1;
    }
    for (int l = 0; l < L; l++) {
        size_t n_in = net->sizes[l], n = net->sizes[l + 1];
        cl_mem in = l ? s->A[l - 1] : s->X;
        AT(l, count, n_in, n);
        if (use_weight_grad_narrow(s, n))
            RUN(K_WGRAD_NARROW, div_up(n_in, WGRAD_NARROW_J), 1, MEM(in), MEM(s->D[l]),
                MEM(s->gW[l]), MEM(s->gb[l]), U32(count), U32(n_in), U32(n), MEM(s->W[l]),
                MEM(s->b[l]), MEM(s->mW[l]), MEM(s->mb[l]), MEM(s->vW[l]), MEM(s->vb[l]),
                I32(update), F32(lr), F32(mu), F32(h->beta2), F32(eps), F32(h->l2));
        else
            RUN(K_WGRAD, div_up(n, s->t.wg_tn), div_up(n_in, s->t.wg_tm), MEM(in), MEM(s->D[l]),
                MEM(s->gW[l]), MEM(s->gb[l]), U32(count), U32(n_in), U32(n), MEM(s->W[l]),
                MEM(s->b[l]), MEM(s->mW[l]), MEM(s->mb[l]), MEM(s->vW[l]), MEM(s->vb[l]),
                I32(update), F32(lr), F32(mu), F32(h->beta2), F32(eps), F32(h->l2));
    }
    return CLMLP_OK;
}

static clmlp_status cl_train_batch(clmlp_engine *e, size_t first, size_t count)
{
    cl_state *s = state(e);
    const clmlp_net *net = e->net;
    AT(-1, count, 0, net->sizes[0]);
    /* A CPU core walks whole rows; a GPU thread takes one 16-float chunk of each of its rows. */
    size_t chunks = s->gpu_like ? div_up(net->sizes[0], 16) : 1;
    RUN(K_GATHER, chunks, div_up(count, GATHER_ROWS), MEM(s->X_all), MEM(s->labels_all),
        MEM(s->order), U32(first), U32(count), U32(net->sizes[0]), MEM(s->X), MEM(s->labels));
    TRY_ST(forward_all(e, count));
    TRY_ST(backward_all(e, first, count)); /* which also steps the parameters */
    return CLMLP_OK; /* no wait: the next batch queues behind this one */
}

static clmlp_status cl_read_stats(clmlp_engine *e, size_t begin, size_t n, float *loss,
                                  int32_t *correct)
{
    cl_state *s = state(e);
    TRY(clEnqueueReadBuffer(s->q, s->loss, CL_TRUE, begin * sizeof(float), n * sizeof(float),
                            loss, 0, NULL, NULL));
    TRY(clEnqueueReadBuffer(s->q, s->correct, CL_TRUE, begin * sizeof(cl_int),
                            n * sizeof(cl_int), correct, 0, NULL, NULL));
    return CLMLP_OK;
}

static clmlp_status cl_get_opt_state(clmlp_engine *e, float *m, float *v)
{
    cl_state *s = state(e);
    size_t bytes = e->net->n_params_padded * sizeof(float);
    TRY(clEnqueueReadBuffer(s->q, s->opt_m, CL_TRUE, 0, bytes, m, 0, NULL, NULL));
    TRY(clEnqueueReadBuffer(s->q, s->opt_v, CL_TRUE, 0, bytes, v, 0, NULL, NULL));
    return CLMLP_OK;
}

static clmlp_status cl_set_opt_state(clmlp_engine *e, const float *m, const float *v)
{
    cl_state *s = state(e);
    size_t bytes = e->net->n_params_padded * sizeof(float);
    TRY(clEnqueueWriteBuffer(s->q, s->opt_m, CL_TRUE, 0, bytes, m, 0, NULL, NULL));
    TRY(clEnqueueWriteBuffer(s->q, s->opt_v, CL_TRUE, 0, bytes, v, 0, NULL, NULL));
    return CLMLP_OK;
}

static clmlp_status cl_predict(clmlp_engine *e, const float *X, size_t n, float *out)
{
    cl_state *s = state(e);
    const clmlp_net *net = e->net;
    int L = net->n_layers;
    size_t dim = net->sizes[0], n_out = net->sizes[L];
    for (size_t first = 0; first < n; first += e->max_batch) {
        size_t count = n - first < e->max_batch ? n - first : e->max_batch;
        TRY(clEnqueueWriteBuffer(s->q, s->X, CL_FALSE, 0, count * dim * sizeof(float),
                                 X + first * dim, 0, NULL, NULL));
        TRY_ST(forward_all(e, count));
        cl_mem result = s->A[L - 1];
        if (net->act[L - 1] == CLMLP_ACT_SOFTMAX) {
            AT(L - 1, count, 0, n_out);
            RUN(K_SOFTMAX, count, 1, MEM(s->A[L - 1]), MEM(s->P), U32(count), U32(n_out));
            result = s->P;
        }
        TRY(clEnqueueReadBuffer(s->q, result, CL_TRUE, 0, count * n_out * sizeof(float),
                                out + first * n_out, 0, NULL, NULL));
    }
    e->last_count = 0; /* the activations now belong to a prediction */
    return CLMLP_OK;
}

static clmlp_status cl_get_params(clmlp_engine *e, float *params)
{
    cl_state *s = state(e);
    TRY(clEnqueueReadBuffer(s->q, s->params, CL_TRUE, 0, e->net->n_params_padded * sizeof(float),
                            params, 0, NULL, NULL));
    return CLMLP_OK;
}

static clmlp_status cl_set_params(clmlp_engine *e, const float *params)
{
    cl_state *s = state(e);
    TRY(clEnqueueWriteBuffer(s->q, s->params, CL_TRUE, 0, e->net->n_params_padded * sizeof(float),
                             params, 0, NULL, NULL));
    return CLMLP_OK;
}

static clmlp_status cl_read_buffer(clmlp_engine *e, clmlp_buffer_kind kind, int l, float *out)
{
    cl_state *s = state(e);
    size_t n_in = e->net->sizes[l], n = e->net->sizes[l + 1], rows = e->last_count;
    cl_mem src = NULL;
    size_t len = 0;
    switch (kind) {
    case CLMLP_BUF_ACT: src = s->A[l], len = rows * n; break;
    case CLMLP_BUF_DELTA: src = s->D[l], len = rows * n; break;
    case CLMLP_BUF_GRAD_W: src = s->gW[l], len = n_in * n; break;
    case CLMLP_BUF_GRAD_B: src = s->gb[l], len = n; break;
    case CLMLP_BUF_WEIGHT: src = s->W[l], len = n_in * n; break;
    case CLMLP_BUF_BIAS: src = s->b[l], len = n; break;
    }
    TRY(clEnqueueReadBuffer(s->q, src, CL_TRUE, 0, len * sizeof(float), out, 0, NULL, NULL));
    return CLMLP_OK;
}

/* The layer_stats kernel on every layer's buffers of the last step into one buffer, then one
 * blocking read: the only wait, once per traced step. The buffer is made on first use, so
 * engines that never trace pay nothing. */
static clmlp_status cl_diagnostics(clmlp_engine *e, float *part)
{
    cl_state *s = state(e);
    const clmlp_net *net = e->net;
    size_t cols = 0, col = 0, B = e->last_count;
    for (int l = 0; l < net->n_layers; l++)
        cols += net->sizes[l + 1];
    if (!s->stats_part)
        TRY_ST(make_buffer(e, cols, CLMLP_STATS_FIELDS, sizeof(float), "the layer-statistics buffer",
                           &s->stats_part));
    for (int l = 0; l < net->n_layers; l++) {
        size_t n_in = net->sizes[l], n = net->sizes[l + 1];
        AT(l, B, n_in, n);
        RUN(K_LAYER_STATS, n, 1, MEM(s->A[l]), MEM(s->D[l]), MEM(s->gW[l]), MEM(s->W[l]),
            MEM(s->stats_part), U32(B), U32(n_in), U32(n), I32(net->act[l]), U32(col));
        col += n;
    }
    TRY(clEnqueueReadBuffer(s->q, s->stats_part, CL_TRUE, 0,
                            cols * CLMLP_STATS_FIELDS * sizeof(float), part, 0, NULL, NULL));
    return CLMLP_OK;
}

static clmlp_status cl_finish(clmlp_engine *e)
{
    TRY(clFinish(state(e)->q));
    return CLMLP_OK;
}

static const struct clmlp_engine_ops cl_ops = {
    .set_data = cl_set_data,
    .set_order = cl_set_order,
    .train_batch = cl_train_batch,
    .read_stats = cl_read_stats,
    .predict = cl_predict,
    .get_params = cl_get_params,
    .set_params = cl_set_params,
    .read_buffer = cl_read_buffer,
    .get_opt_state = cl_get_opt_state,
    .set_opt_state = cl_set_opt_state,
    .layer_stats = cl_diagnostics,
    .finish = cl_finish,
    .destroy = cl_destroy,
};

clmlp_status clmlp_engine_profile_begin(clmlp_engine *e, size_t cap)
{
    if (e->ops != &cl_ops)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "profiling needs an OpenCL engine");
    cl_state *s = state(e);
    prof_free(s);
    struct prof_log *p = calloc(1, sizeof *p);
    if (!p || !(p->ev = calloc(cap ? cap : 1, sizeof *p->ev)) ||
        !(p->rec = calloc(cap ? cap : 1, sizeof *p->rec))) {
        if (p)
            free(p->ev);
        free(p);
        return clmlp_engine_fail(e, CLMLP_ERR_NOMEM, "no memory for %zu profiling records", cap);
    }
    p->cap = cap;
    s->prof = p;
    return CLMLP_OK;
}

clmlp_status clmlp_engine_profile_end(clmlp_engine *e, clmlp_launch *out, size_t cap, size_t *n)
{
    *n = 0;
    if (e->ops != &cl_ops)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "profiling needs an OpenCL engine");
    cl_state *s = state(e);
    struct prof_log *p = s->prof;
    if (!p)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "profiling was not started");
    clmlp_status st = CLMLP_OK;
    cl_int rc = clFinish(s->q);
    if (rc != CL_SUCCESS)
        st = clmlp_cl_fail(e->err, sizeof e->err, rc, "clFinish", __FILE__, __LINE__);
    for (size_t i = 0; st == CLMLP_OK && i < p->n && i < cap; i++) {
        cl_ulong t0 = 0, t1 = 0;
        rc = clGetEventProfilingInfo(p->ev[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        if (rc == CL_SUCCESS)
            rc = clGetEventProfilingInfo(p->ev[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        if (rc != CL_SUCCESS) {
            st = clmlp_cl_fail(e->err, sizeof e->err, rc, "clGetEventProfilingInfo", __FILE__,
                               __LINE__);
            break;
        }
        out[i] = p->rec[i];
        out[i].ns = t1 > t0 ? (double)(t1 - t0) : 0.0;
        (*n)++;
    }
    prof_free(s);
    return st;
}

clmlp_status clmlp_engine_capture_begin(clmlp_engine *e)
{
    if (e->ops != &cl_ops)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "capturing launches needs an OpenCL engine");
    cl_state *s = state(e);
    free(s->capture);
    if (!(s->capture = calloc(1, sizeof *s->capture)))
        return clmlp_engine_fail(e, CLMLP_ERR_NOMEM, "no memory for the launch capture");
    return CLMLP_OK;
}

/* Runs captured launch c `reps` times back to back, each with an event, then waits once and
 * writes their device times to out[0..reps). */
static clmlp_status replay_one(clmlp_engine *e, const struct captured *c, unsigned reps,
                               clmlp_launch *out)
{
    cl_state *s = state(e);
    cl_kernel k = s->k[c->id];
    for (int i = 0; i < c->n; i++)
        TRY(clSetKernelArg(k, (cl_uint)i, c->size[i], c->val[i]));
    if (c->id == K_WGRAD || c->id == K_WGRAD_NARROW) {
        /* The product alone, the figure to hold against a BLAS: without the optimizer step of
         * its epilogue, which would also move the weights once per replay. The captured value
         * there must be an update code (0-3), or WGRAD_UPDATE_ARG is out of step with
         * backward_all's argument list (cli_bench.sh runs this). */
        cl_int code = -1, none = 0; /* UPDATE_NONE */
        if (c->n > WGRAD_UPDATE_ARG && c->size[WGRAD_UPDATE_ARG] == sizeof code)
            memcpy(&code, c->val[WGRAD_UPDATE_ARG], sizeof code);
        if (code < 0 || code > 3)
            return clmlp_engine_fail(e, CLMLP_ERR_ARG,
                                     "%s: argument %d is not the update code (WGRAD_UPDATE_ARG)",
                                     kdesc[c->id].name, WGRAD_UPDATE_ARG);
        TRY(clSetKernelArg(k, WGRAD_UPDATE_ARG, sizeof none, &none));
    }
    size_t global[2] = {c->gx, c->gy};
    cl_event *ev = calloc(reps, sizeof *ev);
    if (!ev)
        return clmlp_engine_fail(e, CLMLP_ERR_NOMEM, "no memory for %u events", reps);
    clmlp_status st = CLMLP_OK;
    unsigned made = 0;
    for (; st == CLMLP_OK && made < reps; made++)
        st = clmlp_cl_launch(s->q, k, kdesc[c->id].dims, global, s->local[c->id], &ev[made],
                             e->err, sizeof e->err);
    if (st != CLMLP_OK)
        made--; /* the failed launch made no event */
    cl_int rc = clFinish(s->q);
    if (st == CLMLP_OK && rc != CL_SUCCESS)
        st = clmlp_cl_fail(e->err, sizeof e->err, rc, "clFinish", __FILE__, __LINE__);
    for (unsigned r = 0; r < made; r++) {
        cl_ulong t0 = 0, t1 = 0;
        if (st == CLMLP_OK) {
            rc = clGetEventProfilingInfo(ev[r], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
            if (rc == CL_SUCCESS)
                rc = clGetEventProfilingInfo(ev[r], CL_PROFILING_COMMAND_END, sizeof t1, &t1,
                                             NULL);
            if (rc != CL_SUCCESS)
                st = clmlp_cl_fail(e->err, sizeof e->err, rc, "clGetEventProfilingInfo",
                                   __FILE__, __LINE__);
            out[r] = c->at;
            out[r].ns = t1 > t0 ? (double)(t1 - t0) : 0.0;
        }
        clReleaseEvent(ev[r]);
    }
    free(ev);
    return st;
}

clmlp_status clmlp_engine_replay_alone(clmlp_engine *e, unsigned reps, clmlp_launch *out,
                                       size_t cap, size_t *n)
{
    *n = 0;
    if (e->ops != &cl_ops)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "replaying launches needs an OpenCL engine");
    cl_state *s = state(e);
    struct capture_log *c = s->capture;
    s->capture = NULL; /* the replays below are not captured */
    if (!c)
        return clmlp_engine_fail(e, CLMLP_ERR_ARG, "no launches were captured");
    TRY(clFinish(s->q));
    clmlp_status st = CLMLP_OK;
    for (size_t i = 0; st == CLMLP_OK && i < c->n; i++) {
        if (!clmlp_kernel_is_gemm(c->c[i].at.kernel))
            continue;
        if (*n + reps > cap) {
            st = clmlp_engine_fail(e, CLMLP_ERR_ARG, "room for %zu replays, not %zu", cap,
                                   *n + reps);
            break;
        }
        st = replay_one(e, &c->c[i], reps, out + *n);
        if (st == CLMLP_OK)
            *n += reps;
    }
    free(c);
    return st;
}

clmlp_status clmlp_cl_engine_init(clmlp_engine *e, const char *device, char *err, size_t errlen)
{
    cl_state *s = calloc(1, sizeof *s);
    if (!s)
        return CLMLP_ERR_NOMEM;
    e->impl = s;
    e->ops = &cl_ops;
    clmlp_status st = open_device(e, device);
    if (st == CLMLP_OK)
        st = build_kernels(e);
    if (st == CLMLP_OK)
        st = make_param_buffers(e);
    if (st == CLMLP_OK)
        st = make_batch_buffers(e);
    if (st != CLMLP_OK)
        snprintf(err, errlen, "%s", e->err);
    return st;
}
