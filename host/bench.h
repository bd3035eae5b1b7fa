/* bench.h - what `clmlp bench` needs from the library (internal, not part of clmlp.h):
 *   - one cost descriptor per kernel: the floating-point operations and the compulsory bytes of
 *     one launch for a layer shape, used by every report so that GFLOP/s mean the same thing
 *     everywhere;
 *   - the launch plan of one training step (which kernel runs on which shape, in order);
 *   - a hook on an OpenCL engine that records every kernel launch with a profiling event. It
 *     costs one predictable branch per launch when off (the default). */
#ifndef CLMLP_BENCH_H
#define CLMLP_BENCH_H

#include <stddef.h>

#include "clmlp.h"

/* Shape of one launch, in the layer's terms:
 *   GEMMs (forward_layer, hidden_delta, weight_grad): rows = B, n_in, n_out of the layer;
 *   row-wise kernels (output deltas, softmax, gather): rows = B, n_out = the width;
 *   transpose of W_l: rows = 1, n_in x n_out = W_l's shape;
 *   element-wise updates: n_out = the number of parameters, rows = 1.
 * layer is the weight layer (0-based), or -1 for a launch over the whole parameter array. */
typedef struct clmlp_launch {
    const char *kernel;
    int layer;
    size_t rows, n_in, n_out;
    double ns; /* device time (CL_PROFILING_COMMAND_END - START); 0 until measured */
} clmlp_launch;

typedef struct clmlp_cost {
    double flops; /* floating-point operations, an fma counting 2; 0 for copies */
    double bytes; /* compulsory traffic: every input read once, every output written once */
} clmlp_cost;

/* Cost of one launch of kernel (by name) on the launch's shape; {0, 0} for an unknown name. */
clmlp_cost clmlp_kernel_cost(const clmlp_launch *l);

/* 1 for the three matrix-product kernels, whose GFLOP/s the targets are about. */
int clmlp_kernel_is_gemm(const char *kernel);

/* The kernels of one training step on `count` rows in the CPU reference's order (host/ref/
 * ref_engine.c), with their shapes: what `clmlp bench --device cpu` times, and the matrix
 * products whose flops a step counts. The OpenCL engine's launches differ (transposes, the _t
 * and _narrow variants, the optimizer steps inside weight_grad) and are recorded as
 * they run instead. Writes at most cap entries; returns how many there are (more than cap
 * means some were left out). */
size_t clmlp_step_plan(const clmlp_net *net, const clmlp_hyper *hyper, size_t count,
                       clmlp_launch *out, size_t cap);

/* Profiling hook of the OpenCL engine (host/cl/cl_engine.c). begin starts recording up to cap
 * launches (later ones run unrecorded); end waits for them, writes their shapes and device
 * times to out (at most cap), sets *n and stops recording. CLMLP_ERR_ARG on a CPU-reference
 * engine. */
clmlp_status clmlp_engine_profile_begin(clmlp_engine *e, size_t cap);
clmlp_status clmlp_engine_profile_end(clmlp_engine *e, clmlp_launch *out, size_t cap, size_t *n);

/* Each matrix product of a step, alone: the GEMM on its own, repeated back to back on the same
 * buffers (inputs hot in cache), as a BLAS benchmark times a shape, and unlike the step, where
 * each kernel follows a different one. capture_begin starts recording the arguments of the
 * launches that follow (at most 64); run one training step, then replay_alone waits, runs each
 * recorded GEMM launch `reps` times in a row and writes reps records per launch, in step order,
 * to out (CLMLP_ERR_ARG if they do not fit in cap). The replays recompute the same buffers
 * from the current parameters; nothing else changes. CLMLP_ERR_ARG on a CPU-reference engine. */
clmlp_status clmlp_engine_capture_begin(clmlp_engine *e);
clmlp_status clmlp_engine_replay_alone(clmlp_engine *e, unsigned reps, clmlp_launch *out,
                                       size_t cap, size_t *n);

#endif
