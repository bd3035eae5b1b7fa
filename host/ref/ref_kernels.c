/* ref_kernels.c - the plain-C twins of the kernels in kernels/. Each function states its formula, reads
 * its inputs in float, sums in double and rounds once to float when it stores. See
 * ref_kernels.h for the naming rule and host/clmlp.h for the layout. */
#include <math.h>

#include "clmlp.h"
#include "ref_kernels.h"

/* X[b,:] = X_all[order[first+b], :],  labels[b] = labels_all[order[first+b]] */
void ref_gather_batch(const float *X_all, const int32_t *labels_all, const uint32_t *order,
                      size_t first, size_t count, size_t dim, float *X, int32_t *labels)
{
    for (size_t b = 0; b < count; b++) {
        size_t src = order[first + b];
        for (size_t j = 0; j < dim; j++)
            X[b * dim + j] = X_all[src * dim + j];
        labels[b] = labels_all[src];
    }
}

/* z_k = sum_j a_prev_j w_jk + b_k,  a_k = sigma(z_k)   (notes: "forward pass") */
void ref_forward_layer(const float *A_prev, const float *W, const float *bias, float *A, size_t B,
                       size_t n_in, size_t n_out, int act)
{
    for (size_t b = 0; b < B; b++)
        for (size_t k = 0; k < n_out; k++) {
            double z = 0.0;
            for (size_t j = 0; j < n_in; j++)
                z += (double)A_prev[b * n_in + j] * W[j * n_out + k];
            z += bias[k];
            A[b * n_out + k] = (float)ref_act_apply(act, z);
        }
}

/* Index of the largest value; ties go to the lowest index. */
static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (v[k] > v[best])
            best = k;
    return best;
}

/* D = (2/B)(a - y) sigma'(a), loss = sum_k (a - y)^2 per sample. The notes' delta_k =
 * 2(y - yhat) sigma'(k) is -B D: we keep the gradient of the batch-mean loss. */
void ref_output_delta_mse(const float *A, const int32_t *labels, float *D, float *loss,
                          int32_t *correct, size_t B, size_t n, int act, size_t first)
{
    for (size_t b = 0; b < B; b++) {
        const float *a = A + b * n;
        double sum = 0.0;
        for (size_t k = 0; k < n; k++) {
            double diff = (double)a[k] - (k == (size_t)labels[b] ? 1.0 : 0.0);
            sum += diff * diff;
            D[b * n + k] = (float)(2.0 / (double)B * diff * ref_act_deriv_from_output(act, a[k]));
        }
        loss[first + b] = (float)sum;
        correct[first + b] = argmax(a, n) == (size_t)labels[b];
    }
}

/* log sum_k exp(z_k), through the maximum so nothing overflows (C02). */
static double log_sum_exp(const float *z, size_t n)
{
    double m = z[argmax(z, n)], s = 0.0;
    for (size_t k = 0; k < n; k++)
        s += exp((double)z[k] - m);
    return m + log(s);
}

/* loss = lse(z) - z_y;  D = (softmax(z) - onehot(y)) / B */
void ref_output_delta_ce(const float *Z, const int32_t *labels, float *D, float *loss,
                         int32_t *correct, size_t B, size_t n, size_t first)
{
    for (size_t b = 0; b < B; b++) {
        const float *z = Z + b * n;
        double lse = log_sum_exp(z, n);
        for (size_t k = 0; k < n; k++) {
            double p = exp((double)z[k] - lse);
            D[b * n + k] = (float)((p - (k == (size_t)labels[b] ? 1.0 : 0.0)) / (double)B);
        }
        loss[first + b] = (float)(lse - z[labels[b]]);
        correct[first + b] = argmax(z, n) == (size_t)labels[b];
    }
}

/* P[b,k] = exp(z_k - lse(z)), over the classes of each sample (C05) */
void ref_softmax_rows(const float *Z, float *P, size_t B, size_t n)
{
    for (size_t b = 0; b < B; b++) {
        double lse = log_sum_exp(Z + b * n, n);
        for (size_t k = 0; k < n; k++)
            P[b * n + k] = (float)exp((double)Z[b * n + k] - lse);
    }
}

/* delta_j = sum_k delta_k w_jk sigma'(j)   (notes: "error term"), for every sample */
void ref_hidden_delta(const float *D, const float *W, const float *A_prev, float *D_prev, size_t B,
                      size_t n_in, size_t n_out, int act_prev)
{
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < n_in; j++) {
            double s = 0.0;
            for (size_t k = 0; k < n_out; k++)
                s += (double)D[b * n_out + k] * W[j * n_out + k];
            double deriv = ref_act_deriv_from_output(act_prev, A_prev[b * n_in + j]);
            D_prev[b * n_in + j] = (float)(s * deriv);
        }
}

/* dL/dw_jk = sum_b a_j D_k   (notes: "weight update", before the learning rate) */
void ref_weight_grad(const float *A_prev, const float *D, float *dW, size_t B, size_t n_in,
                     size_t n_out)
{
    for (size_t j = 0; j < n_in; j++)
        for (size_t k = 0; k < n_out; k++) {
            double s = 0.0;
            for (size_t b = 0; b < B; b++)
                s += (double)A_prev[b * n_in + j] * D[b * n_out + k];
            dW[j * n_out + k] = (float)s;
        }
}

/* dL/db_k = sum_b D_k */
void ref_bias_grad(const float *D, float *db, size_t B, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        double s = 0.0;
        for (size_t b = 0; b < B; b++)
            s += D[b * n + k];
        db[k] = (float)s;
    }
}

/* p -= lr (g + l2 p) */
void ref_sgd_update(float *p, const float *g, size_t n, float lr, float l2)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(p[i] - (double)lr * ((double)g[i] + (double)l2 * p[i]));
}

/* v = mu v + (g + l2 p);  p -= lr v */
void ref_momentum_update(float *p, float *v, const float *g, size_t n, float lr, float mu, float l2)
{
    for (size_t i = 0; i < n; i++) {
        double vi = (double)mu * v[i] + ((double)g[i] + (double)l2 * p[i]);
        v[i] = (float)vi;
        p[i] = (float)(p[i] - (double)lr * v[i]);
    }
}

/* m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr_t m / (sqrt(v) + eps_t) */
void ref_adam_update(float *p, float *m, float *v, const float *g, size_t n, float lr_t,
                     float beta1, float beta2, float eps_t, float l2)
{
    for (size_t i = 0; i < n; i++) {
        double gi = (double)g[i] + (double)l2 * p[i];
        m[i] = (float)((double)beta1 * m[i] + (1.0 - beta1) * gi);
        v[i] = (float)((double)beta2 * v[i] + (1.0 - beta2) * gi * gi);
        p[i] = (float)(p[i] - (double)lr_t * m[i] / (sqrt((double)v[i]) + eps_t));
    }
}
