/* Poisson counts for fault processes, drawn only from the caller's PCG32 stream, so a
 * trial's draws depend on its own stream alone (results independent of thread count).
 * Exact samplers: sequential-search inversion for mu < 10, Hoermann's PTRS transformed
 * rejection (1993) above; the zero-truncated law (N >= 1) by inversion for mu < 10, so
 * mu = 1e-9 costs one uniform and never loops.
 *
 *   struct au_pcg32 r;
 *   au_pcg32_seed(&r, campaign_seed, trial_id);
 *   uint64_t n = au_poisson_sample(lambda * t, &r);              // may be 0
 *   uint64_t m = au_poisson_sample_truncated(lambda * t, &r);    // >= 1
 *   double p1 = au_poisson_p_at_least_one(lambda * t);           // weight of the m-trials
 */
#ifndef AU_INJECTORS_POISSON_H
#define AU_INJECTORS_POISSON_H

#include "aurum/numsys.h"

#include <stdint.h>

/* Uniform double in [0, 1) with 53 random bits, from two 32-bit draws (high word first). */
static inline double au_poisson_uniform(struct au_pcg32 *r)
{
    uint64_t hi = au_pcg32_next(r) >> 5; /* 27 bits */
    uint64_t lo = au_pcg32_next(r) >> 6; /* 26 bits */
    return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

/* A Poisson(mu) count. mu must be finite and >= 0 (callers validate rates: sites.c
 * does); mu = 0, a negative mu or NaN gives 0, +inf gives UINT64_MAX. Never fails. */
uint64_t au_poisson_sample(double mu, struct au_pcg32 *r);

/* A zero-truncated Poisson(mu) count: the law of N given N >= 1. Exact for every
 * mu > 0 including tiny ones; mu <= 0 or NaN gives 1 (the limit as mu -> 0). */
uint64_t au_poisson_sample_truncated(double mu, struct au_pcg32 *r);

/* P(N >= 1) = 1 - e^-mu, computed as -expm1(-mu) so mu = 1e-12 keeps full precision. */
double au_poisson_p_at_least_one(double mu);

/* log(k!), accurate to a few ulps: exact products for k <= 20, Stirling's series above.
 * Thread-safe (unlike lgamma, which writes the global signgam). */
double au_poisson_log_factorial(uint64_t k);

/* Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), a > 0, x >= 0,
 * to about 1e-13. P(Poisson(mu) <= k) = Q(k + 1, mu); the chi-square survival function
 * with n degrees of freedom is Q(n / 2, x / 2) (goodness-of-fit p-values). NaN for a
 * domain error. */
double au_poisson_gamma_q(double a, double x);

#endif
