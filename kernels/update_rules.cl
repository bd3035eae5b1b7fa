/* update_rules.cl - the optimizers' rules per parameter, defined once, and their application
 * in the epilogue of the gradient kernels (weight_grad, weight_grad_narrow): each parameter
 * steps as soon as its gradient is summed, so a training step has no pass of its own over
 * every parameter, which re-read the whole gradient and cost a launch (host/cl/cl_engine.c,
 * update_code). Macros, so that a float and a floatN take the same expression.
 * g is dL/dp; l2 adds weight decay l2 * p to it (0 for biases): g' = g + l2 p.
 *   SGD:       p -= lr g'
 *   momentum:  v = mu v + g';  p -= lr v                        (heavy ball, as PyTorch)
 *   Adam:      m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
 *              p -= lr_t m / (sqrt(v) + eps_t), lr_t and eps_t folding in the bias corrections
 *              (computed once per step on the host, Kingma and Ba, section 2)
 * Prepended by the host after vec.cl (APPLY_UPDATE uses its VEC); kernel files include it when
 * compiled stand-alone. Twins: ref_sgd_update, ref_momentum_update, ref_adam_update
 * (host/ref/ref_kernels.inc), applied by the twins' callers after ref_weight_grad. */
#ifndef CLMLP_UPDATE_RULES
#define CLMLP_UPDATE_RULES

/* What a gradient kernel does with its result besides storing it: the codes of its `update`
 * argument (host/cl/cl_engine.c, update_code). */
#define UPDATE_NONE 0
#define UPDATE_SGD 1
#define UPDATE_MOMENTUM 2
#define UPDATE_ADAM 3

#define DECAYED(g, p, l2) ((g) + (l2) * (p))
#define SGD_STEP(p, g, lr, l2) ((p) - (lr) * DECAYED(g, p, l2))
#define MOMENTUM_VELOCITY(v, g, p, mu, l2) ((mu) * (v) + DECAYED(g, p, l2))
#define MOMENTUM_STEP(p, v, lr) ((p) - (lr) * (v))
#define ADAM_FIRST(m, g, b1) ((b1) * (m) + (1.0f - (b1)) * (g))
#define ADAM_SECOND(v, g, b2) ((b2) * (v) + (1.0f - (b2)) * (g) * (g))
#define ADAM_STEP(p, m, v, lr_t, eps_t) ((p) - (lr_t) * (m) / (sqrt(v) + (eps_t)))

/* The optimizer step on the N parameters at p whose gradient g (a VEC(N)) a kernel has just
 * summed, with their first moments (momentum's velocity) at m1 and Adam's second moments at m2:
 * nothing, SGD, momentum or Adam, as the kernel's arguments `update`, `lr` (Adam: lr_t), `mu`
 * (Adam: beta1), `beta2` and `eps` (eps_t) say. m1 and m2 are touched only by the rules that
 * use them. The caller makes sure that each parameter is stepped by one work-item, once. */
#define APPLY_UPDATE(N, p, m1, m2, g, l2_)                                                        \
    if (update != UPDATE_NONE) {                                                                  \
        VEC(N) p_ = VLOAD(N, p);                                                                  \
        if (update == UPDATE_SGD) {                                                               \
            p_ = SGD_STEP(p_, g, lr, l2_);                                                        \
        } else if (update == UPDATE_MOMENTUM) {                                                   \
            VEC(N) v_ = MOMENTUM_VELOCITY(VLOAD(N, m1), g, p_, mu, l2_);                          \
            VSTORE(N, v_, m1);                                                                    \
            p_ = MOMENTUM_STEP(p_, v_, lr);                                                       \
        } else {                                                                                  \
            VEC(N) g_ = DECAYED(g, p_, l2_);                                                      \
            VEC(N) m_ = ADAM_FIRST(VLOAD(N, m1), g_, mu);                                         \
            VEC(N) s_ = ADAM_SECOND(VLOAD(N, m2), g_, beta2);                                     \
            VSTORE(N, m_, m1);                                                                    \
            VSTORE(N, s_, m2);                                                                    \
            p_ = ADAM_STEP(p_, m_, s_, lr, eps);                                                  \
        }                                                                                         \
        VSTORE(N, p_, p);                                                                         \
    }

#endif
