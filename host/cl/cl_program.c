/* cl_program.c - kernel sources (embedded or from $CLMLP_KERNEL_DIR), program builds that
 * always report the build log, kernel creation, and launches with safe work sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_util.h"

struct clmlp_embedded_kernel {
    const char *name;
    const char *source;
};
extern const struct clmlp_embedded_kernel clmlp_embedded_kernels[]; /* kernels_embedded.c */

/* Reads a whole text file; NULL with err set on failure. */
static char *read_text(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open kernel file %s ($CLMLP_KERNEL_DIR)", path);
        return NULL;
    }
    char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) && fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = '\0';
    } else {
        free(buf);
        buf = NULL;
        snprintf(err, errlen, "cannot read kernel file %s", path);
    }
    fclose(f);
    return buf;
}

/* The files of shared definitions (no kernels), in the order they must come before the rest. */
static const char *const preludes[] = {"activations.cl", "vec.cl", "update_rules.cl"};
#define N_PRELUDES (sizeof preludes / sizeof *preludes)

/* The pass a file belongs to: its prelude position, or N_PRELUDES for a kernel file. */
static size_t source_pass(const char *name)
{
    size_t i = 0;
    while (i < N_PRELUDES && strcmp(name, preludes[i]) != 0)
        i++;
    return i;
}

clmlp_status clmlp_cl_kernel_sources(clmlp_cl_source *out, size_t cap, size_t *count, int *owned,
                                     char *err, size_t errlen)
{
    const char *dir = getenv("CLMLP_KERNEL_DIR");
    *count = 0;
    *owned = dir && *dir;
    for (size_t pass = 0; pass <= N_PRELUDES; pass++)
        for (const struct clmlp_embedded_kernel *k = clmlp_embedded_kernels; k->name; k++) {
            if (source_pass(k->name) != pass)
                continue;
            if (*count == cap) {
                snprintf(err, errlen, "more than %zu kernel files", cap);
                goto fail;
            }
            out[*count].name = k->name;
            out[*count].source = k->source;
            if (*owned) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", dir, k->name);
                char *text = read_text(path, err, errlen);
                if (!text)
                    goto fail;
                out[*count].source = text;
            }
            (*count)++;
        }
    return CLMLP_OK;
fail:
    if (*owned)
        clmlp_cl_free_sources(out, *count);
    *count = 0;
    return CLMLP_ERR_IO;
}

void clmlp_cl_free_sources(clmlp_cl_source *src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free((char *)src[i].source);
}

static int device_has_fp64(cl_device_id dev)
{
    cl_device_fp_config cfg = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof cfg, &cfg, NULL) != CL_SUCCESS)
        return 0;
    return cfg != 0;
}

/* Appends the build log of prog on dev to err after what is already there. */
static void append_build_log(cl_program prog, cl_device_id dev, char *err, size_t errlen)
{
    size_t used = strlen(err), size = 0;
    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &size) != CL_SUCCESS)
        return;
    char *log = malloc(size + 1);
    if (!log)
        return;
    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, size, log, NULL) == CL_SUCCESS) {
        log[size] = '\0';
        snprintf(err + used, errlen - used, "\n--- build log ---\n%s\n--- end of build log ---",
                 log);
    }
    free(log);
}

static clmlp_status check_fp64(cl_device_id dev, const clmlp_cl_source *src, size_t count,
                               int flags, char *err, size_t errlen)
{
    int has = !(flags & CLMLP_CL_BUILD_ASSUME_NO_FP64) && device_has_fp64(dev);
    for (size_t i = 0; i < count && !has; i++)
        if (strstr(src[i].source, "cl_khr_fp64")) {
            char name[256] = "?";
            clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof name, name, NULL);
            snprintf(err, errlen,
                     "kernel file %s needs double precision, but device '%s' has no fp64 support "
                     "(CL_DEVICE_DOUBLE_FP_CONFIG is 0); pick another device with --device",
                     src[i].name, name);
            return CLMLP_ERR_OPENCL;
        }
    return CLMLP_OK;
}

clmlp_status clmlp_cl_build(cl_context ctx, cl_device_id dev, const clmlp_cl_source *src,
                            size_t count, const char *options, int flags, cl_program *out,
                            char *err, size_t errlen)
{
    enum { MAX_FILES = 64 };
    const char *parts[2 * MAX_FILES];
    char lines[MAX_FILES][300];
    *out = NULL;
    if (count > MAX_FILES) {
        snprintf(err, errlen, "too many kernel files (%zu)", count);
        return CLMLP_ERR_ARG;
    }
    clmlp_status st = check_fp64(dev, src, count, flags, err, errlen);
    if (st != CLMLP_OK)
        return st;
    for (size_t i = 0; i < count; i++) {
        snprintf(lines[i], sizeof lines[i], "\n#line 1 \"%s\"\n", src[i].name);
        parts[2 * i] = lines[i];
        parts[2 * i + 1] = src[i].source;
    }
    cl_int rc;
    cl_program prog = clCreateProgramWithSource(ctx, (cl_uint)(2 * count), parts, NULL, &rc);
    CLMLP_CL_TRY_RC(err, errlen, rc, "clCreateProgramWithSource");
    rc = clBuildProgram(prog, 1, &dev, options, NULL, NULL);
    if (rc != CL_SUCCESS) {
        char name[256] = "?";
        clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof name, name, NULL);
        size_t used = (size_t)snprintf(err, errlen, "building kernels (");
        for (size_t i = 0; i < count && used < errlen; i++)
            used += (size_t)snprintf(err + used, errlen - used, "%s%s", i ? ", " : "", src[i].name);
        if (used < errlen)
            snprintf(err + used, errlen - used, ") for device '%s' with options '%s': ", name,
                     options ? options : "");
        used = strlen(err);
        clmlp_cl_fail(err + used, errlen - used, rc, "clBuildProgram", __FILE__, __LINE__);
        append_build_log(prog, dev, err, errlen);
        clReleaseProgram(prog);
        return CLMLP_ERR_OPENCL;
    }
    *out = prog;
    return CLMLP_OK;
}

clmlp_status clmlp_cl_kernel(cl_program prog, const char *name, cl_kernel *out, char *err,
                             size_t errlen)
{
    cl_int rc;
    *out = clCreateKernel(prog, name, &rc);
    if (rc != CL_SUCCESS) {
        *out = NULL;
        size_t used = (size_t)snprintf(err, errlen, "kernel '%s': ", name);
        return clmlp_cl_fail(err + used, errlen - used, rc, "clCreateKernel", __FILE__, __LINE__);
    }
    return CLMLP_OK;
}

clmlp_status clmlp_cl_fit_local(cl_kernel k, cl_device_id dev, cl_uint dims, size_t *local,
                                char *err, size_t errlen)
{
    size_t kmax = 0, items[3] = {0, 0, 0};
    CLMLP_CL_TRY(err, errlen, clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_WORK_GROUP_SIZE,
                                                       sizeof kmax, &kmax, NULL));
    CLMLP_CL_TRY(err, errlen, clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items,
                                              items, NULL));
    for (cl_uint d = 0; d < dims; d++)
        while (local[d] > 1 && local[d] > items[d])
            local[d] /= 2;
    /* Halve the larger dimension until the product fits the kernel's limit. */
    for (;;) {
        size_t prod = local[0] * (dims > 1 ? local[1] : 1);
        if (prod <= kmax || prod == 1)
            break;
        size_t *big = dims > 1 && local[1] > local[0] ? &local[1] : &local[0];
        *big = *big > 1 ? *big / 2 : 1;
    }
    return CLMLP_OK;
}

clmlp_status clmlp_cl_launch(cl_command_queue q, cl_kernel k, cl_uint dims,
                             const size_t *global, const size_t *local, cl_event *ev, char *err,
                             size_t errlen)
{
    size_t glob[2];
    for (cl_uint d = 0; d < dims; d++)
        glob[d] = clmlp_round_up(global[d] ? global[d] : 1, local[d]);
    CLMLP_CL_TRY(err, errlen, clEnqueueNDRangeKernel(q, k, dims, NULL, glob, local, 0, NULL, ev));
    return CLMLP_OK;
}

/* CPU-like devices (PoCL): one work-item is one iteration of a loop on one core, so the
 * block is sized for the core's registers. forward_layer, weight_grad and hidden_delta_t keep
 * 8 rows x 32 columns, as two float16 accumulators per row (16 of the 32 AVX-512 registers):
 * per step two 64-byte vector loads of W (or D, or W^T) and 16 FMAs, each A value broadcast
 * from memory once for two of them. With 8 x 16 (one float16 per row) every FMA needed its
 * own broadcast: on one core of a Xeon with two 512-bit FMA ports that ran at ~73% of its FMA
 * peak, and 8 x 32 at ~98% (1.33x forward_layer, 1.38x weight_grad, 1.3x hidden_delta_t at
 * 128 x 784 x 256, tools/bench_gemm.c, BENCHMARKS.md); on a Zen 4 core (one 512-bit FMA per
 * cycle) 8 x 16 already reached the peak, and 4, 6, 12 and 16 rows x 16 were no faster. 8
 * rows (not 16) leave batch 32 four row blocks, so two cores get enough work-groups.
 * hidden_delta (used below 32 rows) sums along its contiguous k with 4 x 4 accumulators of
 * float8 (16 registers, 8 loads per 16 FMAs); float16 sums were no faster for n_out = 128 and
 * slower for n_out = 10. */
const clmlp_tiles clmlp_default_tiles = {
    .fwd_tm = 8, .fwd_tn = 32, .hd_tm = 4, .hd_tn = 4, .wg_tm = 8, .wg_tn = 32, .hd_v = 8,
    .ht_tm = 8, .ht_tn = 32,
};

/* GPU-like devices: many threads each with few registers, and neighbouring work-items should
 * read neighbouring addresses: 4 x 4 blocks with float4 loads along the row keep a warp's
 * loads contiguous, and 16 accumulators per thread leave room for occupancy. hidden_delta's
 * float4 partial sums keep its row reads 16 bytes wide. */
static const clmlp_tiles gpu_tiles = {
    .fwd_tm = 4, .fwd_tn = 4, .hd_tm = 2, .hd_tn = 2, .wg_tm = 4, .wg_tn = 4, .hd_v = 4,
    .ht_tm = 4, .ht_tn = 4,
};

clmlp_tiles clmlp_tiles_for_device(cl_device_type type)
{
    if (type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR))
        return gpu_tiles;
    return clmlp_default_tiles;
}

void clmlp_cl_build_options(const clmlp_tiles *t, char *buf, size_t len)
{
    snprintf(buf, len,
             "-cl-std=CL1.2 -DFWD_TM=%u -DFWD_TN=%u -DHD_TM=%u -DHD_TN=%u -DHD_V=%u -DWG_TM=%u "
             "-DWG_TN=%u -DHT_TM=%u -DHT_TN=%u",
             t->fwd_tm, t->fwd_tn, t->hd_tm, t->hd_tn, t->hd_v, t->wg_tm, t->wg_tn, t->ht_tm,
             t->ht_tn);
}
