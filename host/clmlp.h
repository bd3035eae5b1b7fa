/* clmlp.h - the public API of clmlp, and the one place the data layout is stated.
 *
 * Conventions (host, kernels and the CPU reference all follow these):
 *   - Activations are batch-major: A_l is B x n_l, row-major (sample b, unit k at A[b*n_l + k]).
 *   - Weights W_l are n_{l-1} x n_l, row-major: w_jk joins unit j of the layer below to unit k,
 *     as in the notes, so Z_l = A_{l-1} W_l + b_l and A_l = sigma_l(Z_l).
 *   - Layers are numbered 0..L-1 by their weight matrix; sizes[0] is the input width,
 *     sizes[L] the output width.
 *   - Sign of delta: clmlp stores D_l = dL/dZ_l (the gradient). The notes' delta is its negative
 *     (delta = -dL/dz), so the notes' "w += eta * delta * a" is our "w -= eta * dL/dw".
 *   - Loss reduction, averaged over the B samples actually in the batch:
 *       MSE: L = (1/B) sum_b sum_k (yhat_bk - y_bk)^2   (no 1/2: the notes' factor 2 stays);
 *            D_out = (2/B) (yhat - y) sigma'(Z).
 *       CE:  L = -(1/B) sum_b log softmax(z_b)_{y_b}, through log-sum-exp; D_out = (P - Y)/B.
 *     Targets are one-hot rows built from integer class labels.
 *   - sigma' is computed from the stored activation: sigmoid a(1-a), tanh 1-a^2, relu (a > 0).
 *   - Ties in argmax go to the lowest class index.
 *   - Parameters of a network live in one contiguous float array; every tensor starts at a
 *     multiple of CLMLP_PARAM_ALIGN floats so that OpenCL sub-buffers can view each one.
 */
#ifndef CLMLP_H
#define CLMLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLMLP_MAX_LAYERS 32
/* 1024 floats = 4096 bytes = 32768 bits: above CL_DEVICE_MEM_BASE_ADDR_ALIGN of every device we
 * know (PoCL 1024 bits, NVIDIA 4096 bits), so each tensor can be an aligned sub-buffer. */
#define CLMLP_PARAM_ALIGN 1024

typedef enum {
    CLMLP_OK = 0,
    CLMLP_ERR_ARG,       /* a caller passed something invalid */
    CLMLP_ERR_NOMEM,     /* host allocation failed or a size overflowed */
    CLMLP_ERR_IO,        /* a file could not be opened, read or written */
    CLMLP_ERR_FORMAT,    /* a file's contents are not what they claim */
    CLMLP_ERR_OPENCL,    /* an OpenCL call failed (the message names it) */
    CLMLP_ERR_NONFINITE, /* training produced NaN or Inf */
    CLMLP_ERR_INTERRUPTED
} clmlp_status;

typedef enum {
    CLMLP_ACT_IDENTITY = 0,
    CLMLP_ACT_SIGMOID = 1,
    CLMLP_ACT_TANH = 2,
    CLMLP_ACT_RELU = 3,
    CLMLP_ACT_SOFTMAX = 4 /* output layer only, and only with CLMLP_LOSS_CE */
} clmlp_act;

typedef enum { CLMLP_LOSS_MSE = 0, CLMLP_LOSS_CE = 1 } clmlp_loss;
typedef enum { CLMLP_INIT_UNIFORM = 0, CLMLP_INIT_XAVIER = 1, CLMLP_INIT_HE = 2 } clmlp_init;
typedef enum { CLMLP_OPT_SGD = 0, CLMLP_OPT_MOMENTUM = 1, CLMLP_OPT_ADAM = 2 } clmlp_optimizer;

typedef struct clmlp_net {
    int n_layers;                         /* L, the number of weight layers */
    size_t sizes[CLMLP_MAX_LAYERS + 1];   /* unit counts, input first */
    clmlp_act act[CLMLP_MAX_LAYERS];      /* activation of each layer's output */
    clmlp_loss loss;
    size_t w_off[CLMLP_MAX_LAYERS];       /* offset of W_l in params, in floats */
    size_t b_off[CLMLP_MAX_LAYERS];       /* offset of b_l in params, in floats */
    size_t n_params_padded;               /* length of params, padding included */
    size_t n_params;                      /* parameters without padding */
    float *params;                        /* owned; padding is kept at zero */
} clmlp_net;

typedef struct clmlp_hyper {
    clmlp_optimizer optimizer;
    float lr;
    float momentum;   /* SGD momentum (heavy ball): v = mu v + g; p -= lr v */
    float beta1, beta2, eps; /* Adam */
    float l2;         /* L2 weight decay added to the gradient of weights (not biases) */
} clmlp_hyper;

/* Status text, e.g. "OpenCL error". */
const char *clmlp_status_str(clmlp_status s);
const char *clmlp_act_name(clmlp_act a);
const char *clmlp_loss_name(clmlp_loss l);
/* Parses "sigmoid", "tanh", ...; returns 0 on success. */
int clmlp_act_parse(const char *s, clmlp_act *out);
int clmlp_loss_parse(const char *s, clmlp_loss *out);
int clmlp_init_parse(const char *s, clmlp_init *out);
int clmlp_optimizer_parse(const char *s, clmlp_optimizer *out);

/* Creates a network with n_layers weight layers; sizes has n_layers+1 entries, act n_layers.
 * Parameters are zero until clmlp_net_init is called. On error *out is NULL and err (if not
 * NULL, of errlen bytes) says why. */
clmlp_status clmlp_net_create(clmlp_net **out, int n_layers, const size_t *sizes,
                              const clmlp_act *act, clmlp_loss loss, char *err, size_t errlen);
/* Bytes of the padded parameter array a network of this shape needs, computed with overflow
 * checks and without allocating (0 when it does not fit in size_t), so callers can refuse a
 * network that will not fit a device or the host before trying. */
size_t clmlp_net_param_bytes(int n_layers, const size_t *sizes);
/* Seeded, reproducible initialisation: weights from the chosen scheme, biases zero. */
void clmlp_net_init(clmlp_net *net, clmlp_init scheme, uint64_t seed);
clmlp_status clmlp_net_clone(clmlp_net **out, const clmlp_net *src);
void clmlp_net_free(clmlp_net *net);
static inline float *clmlp_net_W(clmlp_net *n, int l) { return n->params + n->w_off[l]; }
static inline float *clmlp_net_b(clmlp_net *n, int l) { return n->params + n->b_off[l]; }
static inline const float *clmlp_net_cW(const clmlp_net *n, int l) { return n->params + n->w_off[l]; }
static inline const float *clmlp_net_cb(const clmlp_net *n, int l) { return n->params + n->b_off[l]; }
/* Largest layer width, input included. */
size_t clmlp_net_max_width(const clmlp_net *net);

clmlp_hyper clmlp_hyper_default(void);
/* NULL when every setting of h is one the rules can run with (a known optimizer; lr finite and
 * > 0; momentum, beta1 and beta2 in [0, 1); eps finite and > 0; l2 finite and >= 0), else a
 * phrase naming the first that is not ("momentum 2 is outside [0, 1)"), kept in buf. */
const char *clmlp_hyper_check(const clmlp_hyper *h, char *buf, size_t len);

/* ---- Engines: one network bound to a backend (CPU reference or an OpenCL device). ---- */
typedef struct clmlp_engine clmlp_engine;

typedef enum { CLMLP_BACKEND_REF = 0, CLMLP_BACKEND_OPENCL = 1 } clmlp_backend;

/* Device choice for OpenCL: an index ("1") or a case-insensitive substring of the platform or
 * device name ("pocl", "nvidia"); NULL or "" uses $CLMLP_DEVICE, else the first GPU, else the
 * first device. */
clmlp_status clmlp_engine_create(clmlp_engine **out, clmlp_backend backend, const char *device,
                                 const clmlp_net *net, const clmlp_hyper *hyper, size_t max_batch,
                                 char *err, size_t errlen);
void clmlp_engine_free(clmlp_engine *e);
const char *clmlp_engine_device_name(const clmlp_engine *e);
/* The last error message of this engine ("" when none). */
const char *clmlp_engine_error(const clmlp_engine *e);

/* The training set, copied to the engine once (to device memory for OpenCL). X is n x dim. */
clmlp_status clmlp_engine_set_data(clmlp_engine *e, const float *X, const int32_t *labels,
                                   size_t n, size_t dim);
/* The sample order of an epoch (a permutation of 0..n-1), uploaded once per epoch. */
clmlp_status clmlp_engine_set_order(clmlp_engine *e, const uint32_t *order, size_t n);
/* One training step on samples order[first .. first+count). Loss and correct counts are kept
 * per sample on the engine and read by clmlp_engine_epoch_stats; nothing is waited for. */
clmlp_status clmlp_engine_train_batch(clmlp_engine *e, size_t first, size_t count);
/* Sums, in sample-position order (deterministic), the per-sample loss and correctness of the
 * positions [0, n) trained since the last call. */
clmlp_status clmlp_engine_epoch_stats(clmlp_engine *e, size_t n, double *loss_sum,
                                      size_t *correct);
/* The same over the positions [begin, end) only (an epoch resumed in the middle). */
clmlp_status clmlp_engine_range_stats(clmlp_engine *e, size_t begin, size_t end, double *loss_sum,
                                      size_t *correct, size_t *first_nonfinite);
/* Forward pass on n rows of X (host memory); writes the n x n_out outputs (probabilities for
 * softmax) to out. */
clmlp_status clmlp_engine_predict(clmlp_engine *e, const float *X, size_t n, float *out);
/* Copies the engine's parameters into net / from net into the engine; net must have the
 * engine's layer sizes (CLMLP_ERR_ARG otherwise). Setting them ends the last step's
 * statistics (clmlp_engine_layer_stats): they described the weights that step left. */
clmlp_status clmlp_engine_get_params(clmlp_engine *e, clmlp_net *net);
clmlp_status clmlp_engine_set_params(clmlp_engine *e, const clmlp_net *net);

/* Optimizer state for checkpoints: the step count (Adam's t) and the first and second moment
 * arrays, each net->n_params_padded floats in the parameter layout. */
clmlp_status clmlp_engine_get_opt_state(clmlp_engine *e, uint64_t *step, float *m, float *v);
clmlp_status clmlp_engine_set_opt_state(clmlp_engine *e, uint64_t step, const float *m,
                                        const float *v);
/* Gives `to` the parameters, optimizer moments and step count of `from` (engines with the same
 * layer sizes, any backends; CLMLP_ERR_ARG otherwise): from then on both train from one state
 * (`clmlp compare --resync`). Ends `to`'s last-step statistics, as set_params does. On failure
 * the message is in clmlp_engine_error(to). */
clmlp_status clmlp_engine_copy_state(clmlp_engine *to, clmlp_engine *from);

/* Returns once every step queued so far has completed. clmlp_engine_train_batch only queues a
 * step on an OpenCL device, so a loop of them runs ahead of the device by as many steps as it
 * likes; clmlp_train waits here every ~0.1 s of work so that a stop request (on_progress) takes
 * effect within that, not after every step already queued. */
clmlp_status clmlp_engine_finish(clmlp_engine *e);

/* Changes the learning rate of the following steps (for schedules); lr > 0 and finite. */
clmlp_status clmlp_engine_set_lr(clmlp_engine *e, float lr);

/* Intermediate buffers of the last training step, for compare and diagnostics. */
typedef enum {
    CLMLP_BUF_ACT = 0,  /* A_l, count x sizes[l+1] */
    CLMLP_BUF_DELTA,    /* D_l, count x sizes[l+1] */
    CLMLP_BUF_GRAD_W,   /* dL/dW_l, sizes[l] x sizes[l+1] */
    CLMLP_BUF_GRAD_B,   /* dL/db_l, sizes[l+1] */
    CLMLP_BUF_WEIGHT,   /* W_l after the step */
    CLMLP_BUF_BIAS      /* b_l after the step */
} clmlp_buffer_kind;
/* Copies buffer `kind` of layer l (0-based weight layer) into out; *len gets its length. */
clmlp_status clmlp_engine_read_buffer(clmlp_engine *e, clmlp_buffer_kind kind, int layer,
                                      float *out, size_t cap, size_t *len);

/* Per-layer diagnostics of the last training step (vanishing gradients; docs/
 * vanishing-gradient.md). delta is the notes' per-sample error term: B x D, since D carries the
 * batch mean's 1/B, so the numbers do not depend on the batch size. */
typedef struct clmlp_layer_stats {
    double mean_abs_delta;     /* mean over the batch's samples and the layer's units of |delta| */
    double grad_norm;          /* ||dL/dW_l||_F of the step (the bias gradient left out) */
    double weight_norm;        /* ||W_l||_F after the step */
    double saturated_fraction; /* sigmoid: share of outputs within 1e-3 of 0 or 1; tanh: within
                                * 1e-3 of -1 or 1; relu: share of units inactive on every sample
                                * of the batch (dead); identity and softmax: 0 */
} clmlp_layer_stats;
/* The diagnostics of layer `layer` (0-based weight layer) for the last training step. Computed
 * on the engine's backend once per step for all layers (one small kernel per layer and one read
 * on OpenCL), then kept until the next step. Fails when no step was trained since the engine
 * was created, last predicted or had its parameters replaced (set_params, copy_state). */
clmlp_status clmlp_engine_layer_stats(clmlp_engine *e, int layer, clmlp_layer_stats *out);

#ifdef __cplusplus
}
#endif
#endif
