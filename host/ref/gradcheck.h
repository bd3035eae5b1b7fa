/* gradcheck.h - the reference's backprop checked against central finite differences, all in
 * double (refd_* twins), for any network shape, activation and loss. */
#ifndef CLMLP_GRADCHECK_H
#define CLMLP_GRADCHECK_H

#include "clmlp.h"

typedef struct clmlp_gradcheck_result {
    double max_rel_err;   /* max over parameters of |analytic - numeric| / max(|a| + |n|, floor) */
    size_t worst_index;   /* parameter index (unpadded order W_0, b_0, W_1, ...) of the max */
    double grad_norm;     /* ||analytic gradient||_2: must not be ~0 for the check to mean much */
    double loss;          /* the mean loss at the given parameters */
} clmlp_gradcheck_result;

/* Analytic gradient of the mean loss of net on X (B x sizes[0]) and labels by backprop in
 * double, into grad (padded layout of net). Returns the loss. */
double clmlp_backprop_double(const clmlp_net *net, const double *params, const float *X,
                             const int32_t *labels, size_t B, double *grad);

/* Compares the analytic gradient with (L(p+h) - L(p-h)) / 2h for every parameter. */
clmlp_status clmlp_gradcheck(const clmlp_net *net, const float *X, const int32_t *labels, size_t B,
                             double h, clmlp_gradcheck_result *out);

#endif
