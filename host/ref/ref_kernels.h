/* ref_kernels.h - the plain-C reference: one function per OpenCL kernel, the same name with a
 * ref_ prefix and the same arguments in the same order (pointers where the kernel takes
 * buffers, size_t where it takes uint). Written to be read, not to be fast; sums in double.
 * The optimizer steps, which the device runs in weight_grad's epilogue (kernels/
 * update_rules.cl), are twins of their own here: ref_weight_grad, then ref_sgd_update,
 * ref_momentum_update or ref_adam_update on its dW and db, is weight_grad with its step.
 * Layout and sign conventions: host/clmlp.h. */
#ifndef CLMLP_REF_KERNELS_H
#define CLMLP_REF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Activations (twins of kernels/activations.cl), in double. */
double ref_act_apply(int act, double z);
double ref_act_deriv_from_output(int act, double a);

/* Floats per unit column written by layer_stats (the layout of kernels/layer_stats.cl). */
#define REF_STATS_FIELDS 4

/* The kernels' twins are declared once for a scalar type; REF_KERNELS_DECLARE(float, REF_F)
 * gives ref_* and (double, REF_D) gives refd_*, the double copies used by the gradient check.
 * Labels and the order stay integer in both. */
#define REF_KERNELS_DECLARE(REAL, REF) \
void REF(gather_batch)(const REAL *X_all, const int32_t *labels_all, const uint32_t *order, \
                      size_t first, size_t count, size_t dim, REAL *X, int32_t *labels); \
void REF(forward_layer)(const REAL *A_prev, const REAL *W, const REAL *bias, REAL *A, size_t B, \
                       size_t n_in, size_t n_out, int act); \
void REF(forward_layer_t)(const REAL *A_prev, const REAL *WT, const REAL *bias, REAL *A, \
                         size_t B, size_t n_in, size_t n_out, int act); \
void REF(output_delta_mse)(const REAL *A, const int32_t *labels, REAL *D, REAL *loss, \
                          int32_t *correct, size_t B, size_t n, int act, size_t first); \
void REF(output_delta_ce)(const REAL *Z, const int32_t *labels, REAL *D, REAL *loss, \
                         int32_t *correct, size_t B, size_t n, size_t first); \
void REF(softmax_rows)(const REAL *Z, REAL *P, size_t B, size_t n); \
void REF(hidden_delta)(const REAL *D, const REAL *W, const REAL *A_prev, REAL *D_prev, size_t B, \
                      size_t n_in, size_t n_out, int act_prev); \
void REF(transpose)(const REAL *src, REAL *dst, size_t rows, size_t cols); \
void REF(hidden_delta_t)(const REAL *D, const REAL *WT, const REAL *A_prev, REAL *D_prev, \
                        size_t B, size_t n_in, size_t n_out, int act_prev); \
void REF(weight_grad)(const REAL *A_prev, const REAL *D, REAL *dW, REAL *db, size_t B, \
                     size_t n_in, size_t n_out); \
void REF(weight_grad_narrow)(const REAL *A_prev, const REAL *D, REAL *dW, REAL *db, size_t B, \
                            size_t n_in, size_t n_out); \
void REF(sgd_update)(REAL *p, const REAL *g, size_t n, REAL lr, REAL l2); \
void REF(momentum_update)(REAL *p, REAL *v, const REAL *g, size_t n, REAL lr, REAL mu, REAL l2); \
void REF(adam_update)(REAL *p, REAL *m, REAL *v, const REAL *g, size_t n, REAL lr_t, \
                     REAL beta1, REAL beta2, REAL eps_t, REAL l2); \
void REF(layer_stats)(const REAL *A, const REAL *D, const REAL *dW, const REAL *W, REAL *part, \
                     size_t B, size_t n_in, size_t n_out, int act, size_t col0);
#define REF_F(name) ref_##name
#define REF_D(name) refd_##name
REF_KERNELS_DECLARE(float, REF_F)
REF_KERNELS_DECLARE(double, REF_D)

#endif
