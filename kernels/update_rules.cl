/* update_rules.cl - the SGD and momentum rules per parameter, defined once, and their
 * application in the epilogue of the gradient kernels (weight_grad, weight_grad_narrow): each
 * parameter steps as soon as its gradient is summed, so the step needs no pass of its own over
 * every parameter, which re-read the whole gradient and cost a launch (host/cl/cl_engine.c,
 * fused_update). Macros, so that a float and a floatN take the same expression.
 * g is dL/dp; l2 adds weight decay l2 * p to it (0 for biases).
 *   SGD:       p -= lr (g + l2 p)
 *   momentum:  v = mu v + (g + l2 p);  p -= lr v        (heavy ball, as PyTorch)
 * Adam has its pass (update.cl): its square root and division stay out of the GEMMs.
 * Prepended by the host after vec.cl (APPLY_UPDATE uses its VEC); kernel files include it when
 * compiled stand-alone. Twins: ref_sgd_update, ref_momentum_update (host/ref/ref_kernels.inc),
 * applied by the twins' callers after ref_weight_grad. */
#ifndef CLMLP_UPDATE_RULES
#define CLMLP_UPDATE_RULES

/* What a gradient kernel does with its result besides storing it: the codes of its `update`
 * argument (host/cl/cl_engine.c, fused_update). */
#define UPDATE_NONE 0
#define UPDATE_SGD 1
#define UPDATE_MOMENTUM 2

#define SGD_STEP(p, g, lr, l2) ((p) - (lr) * ((g) + (l2) * (p)))
#define MOMENTUM_VELOCITY(v, g, p, mu, l2) ((mu) * (v) + ((g) + (l2) * (p)))
#define MOMENTUM_STEP(p, v, lr) ((p) - (lr) * (v))

/* The optimizer step on the N parameters at p (their velocities at vel) whose gradient g (a
 * VEC(N)) a kernel has just summed: nothing, SGD or momentum, as the kernel's arguments
 * `update`, `lr` and `mu` say (vel is not touched by SGD). The caller makes sure that each
 * parameter is stepped by one work-item, once. */
#define APPLY_UPDATE(N, p, vel, g, l2_)                                                              \
    if (update != UPDATE_NONE) {                                                                  \
        VEC(N) p_ = VLOAD(N, p);                                                                  \
        if (update == UPDATE_MOMENTUM) {                                                          \
            VEC(N) v_ = MOMENTUM_VELOCITY(VLOAD(N, vel), g, p_, mu, l2_);                         \
            VSTORE(N, v_, vel);                                                                   \
            p_ = MOMENTUM_STEP(p_, v_, lr);                                                       \
        } else {                                                                                  \
            p_ = SGD_STEP(p_, g, lr, l2_);                                                        \
        }                                                                                         \
        VSTORE(N, p_, p);                                                                         \
    }

#endif
