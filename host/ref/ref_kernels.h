/* ref_kernels.h - the plain-C reference: one function per OpenCL kernel, the same name with a
 * ref_ prefix and the same arguments in the same order (pointers where the kernel takes
 * buffers, size_t where it takes uint). Written to be read, not to be fast; sums in double.
 * Layout and sign conventions: host/clmlp.h. */
#ifndef CLMLP_REF_KERNELS_H
#define CLMLP_REF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Activations (twins of kernels/activations.cl), in double. */
double ref_act_apply(int act, double z);
double ref_act_deriv_from_output(int act, double a);

void ref_gather_batch(const float *X_all, const int32_t *labels_all, const uint32_t *order,
                      size_t first, size_t count, size_t dim, float *X, int32_t *labels);
void ref_forward_layer(const float *A_prev, const float *W, const float *bias, float *A, size_t B,
                       size_t n_in, size_t n_out, int act);
void ref_output_delta_mse(const float *A, const int32_t *labels, float *D, float *loss,
                          int32_t *correct, size_t B, size_t n, int act, size_t first);
void ref_output_delta_ce(const float *Z, const int32_t *labels, float *D, float *loss,
                         int32_t *correct, size_t B, size_t n, size_t first);
void ref_softmax_rows(const float *Z, float *P, size_t B, size_t n);
void ref_hidden_delta(const float *D, const float *W, const float *A_prev, float *D_prev, size_t B,
                      size_t n_in, size_t n_out, int act_prev);
void ref_weight_grad(const float *A_prev, const float *D, float *dW, size_t B, size_t n_in,
                     size_t n_out);
void ref_bias_grad(const float *D, float *db, size_t B, size_t n);
void ref_sgd_update(float *p, const float *g, size_t n, float lr, float l2);
void ref_momentum_update(float *p, float *v, const float *g, size_t n, float lr, float mu, float l2);
void ref_adam_update(float *p, float *m, float *v, const float *g, size_t n, float lr_t,
                     float beta1, float beta2, float eps_t, float l2);

#endif
