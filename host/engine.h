/* engine.h - what every backend provides behind clmlp_engine (internal). engine.c holds the
 * parts all backends share: argument checks, error text, the optimizer's per-step constants. */
#ifndef CLMLP_ENGINE_H
#define CLMLP_ENGINE_H

#include "clmlp.h"

struct clmlp_engine_ops {
    clmlp_status (*set_data)(clmlp_engine *e, const float *X, const int32_t *labels, size_t n,
                             size_t dim);
    clmlp_status (*set_order)(clmlp_engine *e, const uint32_t *order, size_t n);
    clmlp_status (*train_batch)(clmlp_engine *e, size_t first, size_t count);
    /* Copies the per-sample loss and correctness of positions [begin, begin+n) to host arrays. */
    clmlp_status (*read_stats)(clmlp_engine *e, size_t begin, size_t n, float *loss,
                               int32_t *correct);
    clmlp_status (*predict)(clmlp_engine *e, const float *X, size_t n, float *out);
    clmlp_status (*get_params)(clmlp_engine *e, float *params); /* padded layout of e->net */
    clmlp_status (*set_params)(clmlp_engine *e, const float *params);
    clmlp_status (*read_buffer)(clmlp_engine *e, clmlp_buffer_kind kind, int layer, float *out);
    /* The optimizer's moment arrays (padded layout of e->net), for checkpoints. */
    clmlp_status (*get_opt_state)(clmlp_engine *e, float *m, float *v);
    clmlp_status (*set_opt_state)(clmlp_engine *e, const float *m, const float *v);
    /* The layer_stats partial sums of the last step for every layer, CLMLP_STATS_FIELDS floats
     * per unit, layer 0's units first (kernels/layer_stats.cl). */
    clmlp_status (*layer_stats)(clmlp_engine *e, float *part);
    /* Returns once every queued step has completed (a backend that runs steps as they are
     * called has nothing to wait for). */
    clmlp_status (*finish)(clmlp_engine *e);
    void (*destroy)(clmlp_engine *e);
};

struct clmlp_engine {
    const struct clmlp_engine_ops *ops;
    clmlp_net *net;        /* own copy: the shape; the ref backend also trains its params */
    clmlp_hyper hyper;
    size_t max_batch;
    size_t n_data;         /* samples given to set_data */
    size_t dim;
    size_t order_len;      /* length of the order given to set_order */
    uint64_t step;         /* optimizer steps taken (Adam's t) */
    size_t last_count;     /* rows in the last trained batch */
    uint64_t fail_at_step; /* test hook ($CLMLP_TEST_FAIL_AT_STEP): the OpenCL backend's first
                            * launch of this step fails as if the device ran out of resources,
                            * so tests can drive the mid-epoch error path; 0: never */
    int stats_valid;       /* stats holds the diagnostics of the last step */
    clmlp_layer_stats stats[CLMLP_MAX_LAYERS];
    char device_name[256];
    char err[16384];       /* room for a kernel build log */
    void *impl;            /* the backend's own state */
};

/* Floats per unit column of the layer_stats partial sums (= LS_FIELDS, REF_STATS_FIELDS). */
#define CLMLP_STATS_FIELDS 4

/* Records a formatted error on e and returns status. */
clmlp_status clmlp_engine_fail(clmlp_engine *e, clmlp_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adam's step size and epsilon with both bias corrections folded in, for step t >= 1. */
void clmlp_adam_coeffs(const clmlp_hyper *h, uint64_t t, float *lr_t, float *eps_t);

/* Backend constructors: fill e->ops, e->impl, e->device_name; on error write err. */
clmlp_status clmlp_ref_engine_init(clmlp_engine *e, char *err, size_t errlen);
clmlp_status clmlp_cl_engine_init(clmlp_engine *e, const char *device, char *err, size_t errlen);

#endif
