/* testutil.h - what the Check suites share: seeded random inputs, comparisons that print the
 * first mismatches and the max error, and a small OpenCL harness that runs one kernel on
 * poisoned (NaN) outputs guarded by a sentinel region. */
#ifndef CLMLP_TESTUTIL_H
#define CLMLP_TESTUTIL_H

#include <check.h>
#include <stddef.h>

#include "cl/cl_util.h"
#include "clmlp.h"
#include "rng.h"

/* Float32 unit roundoff, 2^-24. */
#define TU_U 5.9604644775390625e-8

/* n floats uniform in [lo, hi), from rng. Caller frees. */
float *tu_random(clmlp_rng *rng, size_t n, float lo, float hi);
/* Reads a whole (small) file into a new buffer (one spare byte at the end); fails the test
 * when it cannot. The caller frees. */
unsigned char *tu_read_file(const char *path, size_t *len);
/* Element-wise |x|, into a new array. */
float *tu_abs(const float *x, size_t n);

/* 1 when every |got - want| <= bound[i] (or atol + rtol |want| when bound is NULL) and no NaN;
 * otherwise prints label, the first mismatches and the max error, and returns 0. With
 * $CLMLP_TEST_VERBOSE set, passing comparisons print their max |diff| too (for reports). */
int tu_close(const char *label, const float *got, const float *want, size_t n,
             const float *bound, double atol, double rtol);

/* A context, queue and the program of all embedded kernels, on the default device, built with
 * the tile sizes `tiles` (see tu_tiles). */
typedef struct tu_cl {
    cl_device_id dev;
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    clmlp_tiles tiles;
    char err[16384];
} tu_cl;

/* The tile sizes the kernel tests build with: $CLMLP_TEST_TILES = cpu (the default: the CPU
 * defaults, whatever the device), gpu (the GPU-like defaults), or cpu16 (the CPU defaults with
 * one float16 per row instead of two). Every set a device can get is tested on PoCL, so a
 * kernel path only a GPU or an older default compiles is still checked against its twin. An
 * unknown name fails the test. */
clmlp_tiles tu_tiles(void);

#define TU_GUARD 64 /* floats of sentinel after every test buffer (C07) */

/* Opens the default device ($CLMLP_DEVICE or the first GPU/device) and builds the kernels;
 * fails the test with the error text otherwise. */
void tu_cl_open(tu_cl *t);
void tu_cl_close(tu_cl *t);
/* A device buffer holding n floats (or int32) copied from host, followed by the guard. */
cl_mem tu_cl_in(tu_cl *t, const void *host, size_t n);
/* A device buffer of n floats all NaN (an unwritten element fails every comparison), then the
 * guard. */
cl_mem tu_cl_out(tu_cl *t, size_t n);
/* Reads n floats back and checks the guard after them is intact. */
void tu_cl_read(tu_cl *t, cl_mem m, void *host, size_t n);

typedef struct tu_arg {
    size_t size;
    const void *ptr;
} tu_arg;
#define TU_MEM(x) ((tu_arg){sizeof(cl_mem), &(x)})
#define TU_U32(x) ((tu_arg){sizeof(cl_uint), &(cl_uint){(cl_uint)(x)}})
#define TU_I32(x) ((tu_arg){sizeof(cl_int), &(cl_int){(cl_int)(x)}})
#define TU_F32(x) ((tu_arg){sizeof(cl_float), &(cl_float){(cl_float)(x)}})

/* Runs kernel `name` over gx x gy work-items (gy 0 for 1-D) with the given local size, fitted
 * and rounded like the engine does, and waits for it. */
void tu_cl_run(tu_cl *t, const char *name, size_t gx, size_t gy, size_t lx, size_t ly, int nargs,
               const tu_arg *args);
#define TU_RUN(t, name, gx, gy, lx, ly, ...)                                                      \
    tu_cl_run(t, name, gx, gy, lx, ly, (int)(sizeof((tu_arg[]){__VA_ARGS__}) / sizeof(tu_arg)), \
              (tu_arg[]){__VA_ARGS__})

/* Runs a suite with CK_NORMAL output; returns the process exit code. */
int tu_run_suite(Suite *s);

#endif
