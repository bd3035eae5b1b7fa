/* xor.c - the smallest use of the installed library: build a 2-8-2 network, train XOR on the
 * CPU reference or an OpenCL device, read the parameters back. Build against an installed
 * clmlp with:  cc xor.c $(pkg-config --cflags --static --libs clmlp) -o xor
 * Run:  ./xor [cpu|DEVICE]   (prints the four predictions; exit 0 when all are right) */
#include <stdio.h>
#include <string.h>

#include <clmlp.h>

int main(int argc, char **argv)
{
    const size_t sizes[] = {2, 8, 2};
    const clmlp_act act[] = {CLMLP_ACT_TANH, CLMLP_ACT_SOFTMAX};
    const float X[] = {0, 0, 0, 1, 1, 0, 1, 1};
    const int32_t y[] = {0, 1, 1, 0};
    const uint32_t order[] = {0, 1, 2, 3};
    const char *device = argc > 1 ? argv[1] : "cpu";
    clmlp_backend backend = strcmp(device, "cpu") == 0 ? CLMLP_BACKEND_REF : CLMLP_BACKEND_OPENCL;
    char err[16384];
    clmlp_net *net;
    if (clmlp_net_create(&net, 2, sizes, act, CLMLP_LOSS_CE, err, sizeof err) != CLMLP_OK) {
        fprintf(stderr, "xor: %s\n", err);
        return 1;
    }
    clmlp_net_init(net, CLMLP_INIT_XAVIER, 1);
    clmlp_hyper h = clmlp_hyper_default();
    h.optimizer = CLMLP_OPT_MOMENTUM;
    h.lr = 0.5f;
    clmlp_engine *e;
    if (clmlp_engine_create(&e, backend, backend == CLMLP_BACKEND_REF ? NULL : device, net, &h, 4,
                            err, sizeof err) != CLMLP_OK) {
        fprintf(stderr, "xor: %s\n", err);
        clmlp_net_free(net);
        return 1;
    }
    int ok = clmlp_engine_set_data(e, X, y, 4, 2) == CLMLP_OK &&
             clmlp_engine_set_order(e, order, 4) == CLMLP_OK;
    for (int step = 0; ok && step < 300; step++)
        ok = clmlp_engine_train_batch(e, 0, 4) == CLMLP_OK;
    float P[8];
    ok = ok && clmlp_engine_predict(e, X, 4, P) == CLMLP_OK;
    int right = 0;
    for (int i = 0; ok && i < 4; i++) {
        int cls = P[2 * i + 1] > P[2 * i];
        right += cls == y[i];
        printf("%g xor %g -> %d (p = %.3f)\n", X[2 * i], X[2 * i + 1], cls, P[2 * i + cls]);
    }
    if (!ok)
        fprintf(stderr, "xor: %s\n", clmlp_engine_error(e));
    printf("%s: %d of 4 right\n", clmlp_engine_device_name(e), right);
    clmlp_engine_free(e);
    clmlp_net_free(net);
    return ok && right == 4 ? 0 : 1;
}
