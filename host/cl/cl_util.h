/* cl_util.h - OpenCL plumbing shared by the backend, the CLI and the tests: error names, the
 * one checking macro, device discovery and choice, program builds that always show the log,
 * and launches with rounded global sizes and limited local sizes. */
#ifndef CLMLP_CL_UTIL_H
#define CLMLP_CL_UTIL_H

#include <CL/cl.h>

#include "clmlp.h"

/* "CL_INVALID_WORK_GROUP_SIZE" for -54, "CL_PLATFORM_NOT_FOUND_KHR" for -1001, ... */
const char *clmlp_cl_error_name(cl_int code);

/* Formats "CALL failed: NAME (CODE) at FILE:LINE. HINT" into buf; returns CLMLP_ERR_OPENCL. */
clmlp_status clmlp_cl_fail(char *buf, size_t len, cl_int code, const char *call, const char *file,
                           int line);

/* Runs an OpenCL call; on failure writes the message into (buf, len) and returns from the
 * calling function with CLMLP_ERR_OPENCL. */
#define CLMLP_CL_TRY(buf, len, call)                                                              \
    do {                                                                                          \
        cl_int clmlp_rc_ = (call);                                                                \
        if (clmlp_rc_ != CL_SUCCESS)                                                              \
            return clmlp_cl_fail((buf), (len), clmlp_rc_, #call, __FILE__, __LINE__);             \
    } while (0)

/* The same for calls that return their error through an out-parameter (clCreateBuffer, ...):
 * `call` names the call in the message. */
#define CLMLP_CL_TRY_RC(buf, len, rc, call)                                                       \
    do {                                                                                          \
        cl_int clmlp_rc_ = (rc);                                                                  \
        if (clmlp_rc_ != CL_SUCCESS)                                                              \
            return clmlp_cl_fail((buf), (len), clmlp_rc_, call, __FILE__, __LINE__);              \
    } while (0)

typedef struct clmlp_cl_device {
    cl_platform_id platform;
    cl_device_id device;
    cl_device_type type;
    char name[256];
    char platform_name[256];
    char platform_vendor[256]; /* "The pocl project", "NVIDIA Corporation": matched too */
    int index; /* position in the list of all devices of all platforms */
} clmlp_cl_device;

/* Lists every device of every platform (at most cap). No platform is an error whose message
 * says what to install. */
clmlp_status clmlp_cl_list_devices(clmlp_cl_device *out, size_t cap, size_t *count, char *err,
                                   size_t errlen);

/* Picks a device by spec: an index, or a case-insensitive substring of the platform vendor,
 * platform name or device name ("pocl", "nvidia", "skylake");
 * NULL/"" means $CLMLP_DEVICE, else the first GPU, else the first device. */
clmlp_status clmlp_cl_pick_device(const char *spec, clmlp_cl_device *out, char *err,
                                  size_t errlen);

typedef struct clmlp_cl_source {
    const char *name;   /* file name, used in #line and in messages */
    const char *source; /* NUL-terminated OpenCL C */
} clmlp_cl_source;

/* The kernel sources: the embedded copies, or the files of $CLMLP_KERNEL_DIR when it is set
 * (then *owned is 1 and clmlp_cl_free_sources must be called). The shared definitions,
 * activations.cl, vec.cl then update_rules.cl, come first. */
clmlp_status clmlp_cl_kernel_sources(clmlp_cl_source *out, size_t cap, size_t *count, int *owned,
                                     char *err, size_t errlen);
void clmlp_cl_free_sources(clmlp_cl_source *src, size_t count);

/* Test hook for shared/cases C09: behave as if the device had no fp64 support. */
#define CLMLP_CL_BUILD_ASSUME_NO_FP64 1

/* Builds one program from the sources (each preceded by #line 1 "name", so the compiler's
 * messages name the right file and line). On failure err holds the error name, the device, the
 * options and the full build log. A source that enables cl_khr_fp64 on a device without
 * double support is refused before building. */
clmlp_status clmlp_cl_build(cl_context ctx, cl_device_id dev, const clmlp_cl_source *src,
                            size_t count, const char *options, int flags, cl_program *out,
                            char *err, size_t errlen);

/* Creates a kernel; a missing name gives CL_INVALID_KERNEL_NAME with the name in the message. */
clmlp_status clmlp_cl_kernel(cl_program prog, const char *name, cl_kernel *out, char *err,
                             size_t errlen);

/* Reduces a wanted local size (dims 1 or 2) to what the kernel (CL_KERNEL_WORK_GROUP_SIZE) and
 * the device (CL_DEVICE_MAX_WORK_ITEM_SIZES) allow, by halving. Called once per kernel. */
clmlp_status clmlp_cl_fit_local(cl_kernel k, cl_device_id dev, cl_uint dims, size_t *local,
                                char *err, size_t errlen);

/* Enqueues a 1-D or 2-D range with a fitted local size; global sizes are rounded up to a
 * multiple of it (shared/cases C07); kernels return for work-items past the edge. */
clmlp_status clmlp_cl_launch(cl_command_queue q, cl_kernel k, cl_uint dims,
                             const size_t *global, const size_t *local, cl_event *ev, char *err,
                             size_t errlen);

/* Register-block shapes of the GEMM kernels (rows x columns of the block one work-item
 * computes), passed as -D options; see forward_layer.cl, hidden_delta.cl, weight_grad.cl.
 * The *_tn of forward_layer and weight_grad is a vector width (2, 4, 8 or 16); hd_v is the
 * vector width hidden_delta sums along (1, 2, 4, 8 or 16). */
typedef struct clmlp_tiles {
    unsigned fwd_tm, fwd_tn, hd_tm, hd_tn, wg_tm, wg_tn, hd_v;
    unsigned ht_tm, ht_tn; /* hidden_delta_t, like forward_layer's */
} clmlp_tiles;
/* The CPU-like defaults (what PoCL wants); the kernel tests build with these. */
extern const clmlp_tiles clmlp_default_tiles;
/* The defaults for a device type: clmlp_default_tiles for CPUs and anything unknown, narrower
 * blocks for GPUs and accelerators (see cl_program.c for why). */
clmlp_tiles clmlp_tiles_for_device(cl_device_type type);
/* The one place the build options are made: "-cl-std=CL1.2 -DFWD_TM=8 ...". No fast-math. */
void clmlp_cl_build_options(const clmlp_tiles *t, char *buf, size_t len);

/* Rounds n up to a multiple of m (m > 0). */
size_t clmlp_round_up(size_t n, size_t m);

#endif
