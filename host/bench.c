/* bench.c - the kernels' cost descriptors and the step plan of the CPU reference, for
 * `clmlp bench`. The profiling hook itself lives in host/cl/cl_engine.c (it needs the queue). */
#include <string.h>

#include "bench.h"

/* Floats to bytes. */
#define F4(x) (4.0 * (double)(x))

clmlp_cost clmlp_kernel_cost(const clmlp_launch *l)
{
    const char *k = l->kernel;
    double B = (double)l->rows, ni = (double)l->n_in, no = (double)l->n_out;
    clmlp_cost c = {0.0, 0.0};
    if (!k)
        return c;
    if (strcmp(k, "forward_layer") == 0 || strcmp(k, "forward_layer_t") == 0) {
        /* B x n_out dot products of length n_in, plus the bias add (the activation is not
         * counted: its cost in flops depends on the function and is small next to the GEMM). */
        c.flops = 2.0 * B * ni * no + B * no;
        c.bytes = F4(B * ni + ni * no + no + B * no);
    } else if (strcmp(k, "hidden_delta") == 0 || strcmp(k, "hidden_delta_t") == 0) {
        c.flops = 2.0 * B * ni * no + B * ni; /* plus the product with sigma' */
        c.bytes = F4(B * no + ni * no + B * ni + B * ni);
    } else if (strcmp(k, "weight_grad") == 0 || strcmp(k, "weight_grad_narrow") == 0) {
        /* Plus the bias gradient's column sums. On a device the kernel also steps W and b
         * with the optimizer (kernels/update_rules.cl): 2 to 6 more passes over them, not
         * counted here, so that the figure stays that of the product. */
        c.flops = 2.0 * B * ni * no + B * no;
        c.bytes = F4(B * ni + B * no + ni * no + no);
    } else if (strcmp(k, "output_delta_ce") == 0 || strcmp(k, "output_delta_mse") == 0 ||
               strcmp(k, "softmax_rows") == 0) {
        c.flops = 4.0 * B * no; /* a few operations per element; exp counted as one */
        c.bytes = F4(2.0 * B * no + 3.0 * B);
    } else if (strcmp(k, "transpose") == 0) {
        c.bytes = F4(2.0 * ni * no); /* W_l (n_in x n_out) read, W_l^T written */
    } else if (strcmp(k, "gather_batch") == 0) {
        c.bytes = F4(2.0 * B * no + 3.0 * B); /* rows copied, order read, labels copied */
    } else if (strcmp(k, "sgd_update") == 0) {
        c.flops = 4.0 * no;
        c.bytes = F4(3.0 * no); /* p, g in; p out */
    } else if (strcmp(k, "momentum_update") == 0) {
        c.flops = 5.0 * no;
        c.bytes = F4(5.0 * no); /* p, v, g in; p, v out */
    } else if (strcmp(k, "adam_update") == 0) {
        c.flops = 13.0 * no;
        c.bytes = F4(7.0 * no); /* p, m, v, g in; p, m, v out */
    }
    return c;
}

int clmlp_kernel_is_gemm(const char *kernel)
{
    return kernel && (strcmp(kernel, "forward_layer") == 0 ||
                      strcmp(kernel, "forward_layer_t") == 0 || strcmp(kernel, "hidden_delta") == 0 ||
                      strcmp(kernel, "hidden_delta_t") == 0 || strcmp(kernel, "weight_grad") == 0 ||
                      strcmp(kernel, "weight_grad_narrow") == 0);
}

static void put(clmlp_launch *out, size_t cap, size_t *n, const char *kernel, int layer,
                size_t rows, size_t n_in, size_t n_out)
{
    if (*n < cap)
        out[*n] = (clmlp_launch){kernel, layer, rows, n_in, n_out, 0.0};
    (*n)++;
}

size_t clmlp_step_plan(const clmlp_net *net, const clmlp_hyper *hyper, size_t count,
                       clmlp_launch *out, size_t cap)
{
    static const char *const update[] = {"sgd_update", "momentum_update", "adam_update"};
    const char *upd = update[hyper->optimizer <= CLMLP_OPT_ADAM ? hyper->optimizer : 0];
    int L = net->n_layers;
    size_t n = 0;
    put(out, cap, &n, "gather_batch", -1, count, 0, net->sizes[0]);
    for (int l = 0; l < L; l++)
        put(out, cap, &n, "forward_layer", l, count, net->sizes[l], net->sizes[l + 1]);
    put(out, cap, &n, net->loss == CLMLP_LOSS_CE ? "output_delta_ce" : "output_delta_mse", L - 1,
        count, 0, net->sizes[L]);
    for (int l = L - 1; l >= 1; l--)
        put(out, cap, &n, "hidden_delta", l, count, net->sizes[l], net->sizes[l + 1]);
    for (int l = 0; l < L; l++) {
        put(out, cap, &n, "weight_grad", l, count, net->sizes[l], net->sizes[l + 1]);
    }
    for (int l = 0; l < L; l++) {
        put(out, cap, &n, upd, l, 1, 0, net->sizes[l] * net->sizes[l + 1]);
        put(out, cap, &n, upd, l, 1, 0, net->sizes[l + 1]);
    }
    return n;
}
