/* rng.h - the one random number generator of clmlp: xoshiro256** seeded through splitmix64.
 * Its whole state is four words, so checkpoints can save and restore it exactly. */
#ifndef CLMLP_RNG_H
#define CLMLP_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct clmlp_rng {
    uint64_t s[4];
} clmlp_rng;

void clmlp_rng_seed(clmlp_rng *r, uint64_t seed);
uint64_t clmlp_rng_next(clmlp_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double clmlp_rng_uniform(clmlp_rng *r);
/* Uniform integer in [0, bound), without modulo bias (rejection). */
uint64_t clmlp_rng_below(clmlp_rng *r, uint64_t bound);
/* Fisher-Yates shuffle of a permutation array. */
void clmlp_rng_shuffle(clmlp_rng *r, uint32_t *a, size_t n);

#endif
