/* rng.c - xoshiro256** (Blackman and Vigna), seeded with splitmix64 so any 64-bit seed, zero
 * included, gives a well-mixed state. Same seed, same stream, on every platform. */
#include "rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void clmlp_rng_seed(clmlp_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t clmlp_rng_next(clmlp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double clmlp_rng_uniform(clmlp_rng *r) { return (double)(clmlp_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t clmlp_rng_below(clmlp_rng *r, uint64_t bound)
{
    if (bound <= 1)
        return 0;
    /* Reject the top partial copy of [0, bound) so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = clmlp_rng_next(r);
    } while (x >= limit);
    return x % bound;
}

void clmlp_rng_shuffle(clmlp_rng *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)clmlp_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
