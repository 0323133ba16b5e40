/* Poisson samplers for fault counts. Small means use inversion by sequential search
 * (one uniform, about mu + 1 steps); mu >= 10 uses Hoermann's PTRS, whose expected
 * cost is bounded for every mu. The truncated law is sampled by inversion of its own
 * CDF for mu < 10, so a tiny mu never waits for a rejection loop to see a nonzero draw;
 * above, rejecting N = 0 repeats with probability <= e^-10.
 */
#include "injectors/poisson.h"

#include <math.h>

#define PTRS_MIN_MU 10.0
/* Above this a double no longer holds the count to better than a unit: clamp. */
#define MU_MAX 1e15

double au_poisson_log_factorial(uint64_t k)
{
    if (k <= 20) {
        double f = 1.0; /* every partial product up to 20! is exact in a double */
        for (uint64_t i = 2; i <= k; i++)
            f *= (double)i;
        return log(f);
    }
    /* Stirling's series; the first omitted term is below 1.2e-15 at k = 21. */
    double x = (double)k, x2 = 1.0 / (x * x);
    double series = (1.0 / 12.0 - x2 * (1.0 / 360.0 - x2 * (1.0 / 1260.0 - x2 / 1680.0))) / x;
    return x * log(x) - x + 0.5 * log(2.0 * M_PI * x) + series;
}

double au_poisson_p_at_least_one(double mu)
{
    if (!(mu > 0.0))
        return 0.0;
    return -expm1(-mu);
}

/* Smallest k >= k0 with u < F(k), where p is P(k0) under the law being inverted and
 * P(k) = P(k-1) mu / k. Once p no longer moves F (tail below 1e-16 of the mass), the
 * search stops there: u may sit in the sliver of CDF lost to rounding. */
static uint64_t invert(double mu, uint64_t k0, double p, double u)
{
    uint64_t k = k0;
    double F = p;
    while (u >= F) {
        k++;
        p *= mu / (double)k;
        double next = F + p;
        if (next == F)
            break;
        F = next;
    }
    return k;
}

/* Hoermann (1993), algorithm PTRS: transformed rejection with squeeze, mu >= 10. */
static uint64_t ptrs(double mu, struct au_pcg32 *r)
{
    double slam = sqrt(mu), loglam = log(mu);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    double vr = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
        double U = au_poisson_uniform(r) - 0.5;
        double V = au_poisson_uniform(r);
        double us = 0.5 - fabs(U);
        double k = floor((2.0 * a / us + b) * U + mu + 0.43);
        if (us >= 0.07 && V <= vr)
            return (uint64_t)k;
        /* k beyond 2^62 has probability far below a double's resolution: reject. */
        if (!(k >= 0.0) || k > 4.6e18 || (us < 0.013 && V > us))
            continue;
        double lhs = log(V) + log(inv_alpha) - log(a / (us * us) + b);
        if (lhs <= -mu + k * loglam - au_poisson_log_factorial((uint64_t)k))
            return (uint64_t)k;
    }
}

uint64_t au_poisson_sample(double mu, struct au_pcg32 *r)
{
    if (!(mu > 0.0))
        return 0;
    if (mu > MU_MAX)
        return isinf(mu) ? UINT64_MAX : (uint64_t)mu;
    if (mu < PTRS_MIN_MU)
        return invert(mu, 0, exp(-mu), au_poisson_uniform(r));
    return ptrs(mu, r);
}

uint64_t au_poisson_sample_truncated(double mu, struct au_pcg32 *r)
{
    if (!(mu > 0.0))
        return 1;
    if (mu < PTRS_MIN_MU) {
        /* P(N = 1 | N >= 1) = mu e^-mu / (1 - e^-mu); expm1 keeps it exact for tiny mu. */
        double p1 = mu * exp(-mu) / -expm1(-mu);
        return invert(mu, 1, p1, au_poisson_uniform(r));
    }
    for (;;) {
        uint64_t k = au_poisson_sample(mu, r);
        if (k > 0)
            return k;
    }
}

/* log Gamma(x) for x > 0: shift x up to >= 15, then Stirling's series. */
static double log_gamma(double x)
{
    double shift = 1.0;
    while (x < 15.0) {
        shift *= x;
        x += 1.0;
    }
    double x2 = 1.0 / (x * x);
    double series = (1.0 / 12.0 - x2 * (1.0 / 360.0 - x2 * (1.0 / 1260.0 - x2 / 1680.0))) / x;
    return (x - 0.5) * log(x) - x + 0.5 * log(2.0 * M_PI) + series - log(shift);
}

/* Q by the series of P(a, x); converges fast for x < a + 1. */
static double gamma_q_series(double a, double x, double log_pre)
{
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 100000; n++) {
        term *= x / (a + n);
        sum += term;
        if (fabs(term) < fabs(sum) * 1e-16)
            break;
    }
    return 1.0 - sum * exp(log_pre);
}

/* Q by its continued fraction (modified Lentz); converges fast for x >= a + 1. */
static double gamma_q_fraction(double a, double x, double log_pre)
{
    const double tiny = 1e-300;
    double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
    for (int i = 1; i < 100000; i++) {
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < tiny)
            d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16)
            break;
    }
    return h * exp(log_pre);
}

double au_poisson_gamma_q(double a, double x)
{
    if (!(a > 0.0) || !(x >= 0.0) || isinf(a))
        return NAN;
    if (x == 0.0)
        return 1.0;
    if (isinf(x))
        return 0.0;
    double log_pre = -x + a * log(x) - log_gamma(a);
    return x < a + 1.0 ? gamma_q_series(a, x, log_pre) : gamma_q_fraction(a, x, log_pre);
}
