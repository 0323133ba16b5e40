/* Coverage of the intervals of analysis/stats.c: many simulated experiments with a known
 * truth, each builds its interval, and the fraction that covers the truth must reach the
 * nominal level within 4 binomial standard errors of the number of experiments,
 * sqrt(level (1 - level) / M). Rates: Bernoulli trials at p near 0 (where bit-flip
 * mismatch rates live) and at 0.3; the true p of each experiment is drawn from a band
 * of +-30% around the target, which averages out the saw-tooth of a discrete law (Brown,
 * Cai & DasGupta 2001) without hiding a systematic shortfall. The exact coverage is also
 * computed from the binomial law, and the simulation must agree with it. The normal
 * (Wald) interval under-covers near 0: that is why Wilson is the default. */
#include "analysis/stats.h"
#include "aurum/numsys.h"
#include "core/alloc.h"
#include "tests/check.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define N_EXPERIMENTS 20000
#define N_GRID        41 /* true rates per setting: p0 (0.7 .. 1.3) */

static struct au_pcg32 rng;

static double uniform53(void)
{
    uint64_t hi = au_pcg32_next(&rng) >> 5, lo = au_pcg32_next(&rng) >> 6;
    return (double)(hi * 67108864u + lo) * (1.0 / 9007199254740992.0);
}

static double gauss(void)
{
    double u = 1 - uniform53(), v = uniform53();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static double tolerance(double level)
{
    return 4 * sqrt(level * (1 - level) / N_EXPERIMENTS);
}

/* Lowest acceptable simulated coverage: the 4-sigma tolerance of the experiments plus an
 * allowance of a quarter of the nominal miss rate (a 95% interval may miss 6.25% of the
 * time), since approximate intervals of a discrete or skewed law are a little off even
 * with infinitely many experiments (Wilson at 99%: 0.989). The normal interval near 0 is
 * off by far more (0.63 at n p = 1). */
static double coverage_floor(double level)
{
    return level - (1 - level) / 4 - tolerance(level);
}

/* Binomial(n, p) by geometric jumps between successes: exact, O(n p) draws. */
static int binomial(int n, double p)
{
    double log_q = log1p(-p), pos = -1;
    int k = -1;
    do {
        pos += floor(log(1 - uniform53()) / log_q) + 1;
        k++;
    } while (pos < n);
    return k;
}

struct rate_case {
    double p0;
    int n;
    double level;
};

/* Intervals of every method for k = 0..n (they do not depend on the truth). */
static bool intervals(const struct rate_case *rc, double *lo, double *hi)
{
    for (int m = 0; m < AU_STATS_METHOD_COUNT; m++)
        for (int k = 0; k <= rc->n; k++) {
            size_t i = (size_t)m * (size_t)(rc->n + 1) + (size_t)k;
            if (au_stats_rate_ci(m, k, rc->n, rc->level, &lo[i], &hi[i]) != 0)
                return false;
        }
    return true;
}

static double grid_p(const struct rate_case *rc, int j)
{
    return rc->p0 * (0.7 + 0.6 * j / (N_GRID - 1));
}

/* Exact coverage of method m, averaged over the grid of true rates. */
static double exact_coverage(const struct rate_case *rc, int m, const double *lo, const double *hi)
{
    double sum = 0;
    const double *l = lo + (size_t)m * (size_t)(rc->n + 1),
                 *h = hi + (size_t)m * (size_t)(rc->n + 1);
    for (int j = 0; j < N_GRID; j++) {
        double p = grid_p(rc, j), n = rc->n;
        for (int k = 0; k <= rc->n; k++)
            if (l[k] <= p && p <= h[k])
                sum += exp(lgamma(n + 1) - lgamma(k + 1.0) - lgamma(n - k + 1) + k * log(p) +
                           (n - k) * log1p(-p));
    }
    return sum / N_GRID;
}

static void run_rate_case(const struct rate_case *rc, double cover[AU_STATS_METHOD_COUNT],
                          double exact[AU_STATS_METHOD_COUNT])
{
    size_t len = (size_t)AU_STATS_METHOD_COUNT * (size_t)(rc->n + 1);
    double *lo = au_malloc(len * sizeof(*lo)), *hi = au_malloc(len * sizeof(*hi));
    CHECK(lo && hi && intervals(rc, lo, hi));
    if (!lo || !hi) {
        au_free(lo);
        au_free(hi);
        return;
    }
    int64_t hits[AU_STATS_METHOD_COUNT] = {0};
    for (int e = 0; e < N_EXPERIMENTS; e++) {
        double p = grid_p(rc, (int)(au_pcg32_next(&rng) % N_GRID));
        int k = binomial(rc->n, p);
        for (int m = 0; m < AU_STATS_METHOD_COUNT; m++) {
            size_t i = (size_t)m * (size_t)(rc->n + 1) + (size_t)k;
            hits[m] += lo[i] <= p && p <= hi[i];
        }
    }
    for (int m = 0; m < AU_STATS_METHOD_COUNT; m++) {
        cover[m] = (double)hits[m] / N_EXPERIMENTS;
        exact[m] = exact_coverage(rc, m, lo, hi);
        // The simulation agrees with the binomial law, whatever the method's quality.
        double se = sqrt(exact[m] * (1 - exact[m]) / N_EXPERIMENTS);
        CHECK_NEAR(cover[m], exact[m], 4 * se + 1e-9);
    }
    printf("p ~ %-5g n = %-4d level %.2f: coverage wilson %.4f  clopper-pearson %.4f  normal %.4f"
           "  (exact %.4f %.4f %.4f)\n",
           rc->p0, rc->n, rc->level, cover[0], cover[1], cover[2], exact[0], exact[1], exact[2]);
    au_free(lo);
    au_free(hi);
}

static void test_rate_intervals_cover_near_zero(void)
{
    // n p >= 1 (95%) or >= 5 (99%): where a campaign has seen at least a few events.
    static const struct rate_case cases[] = {
        {0.001, 1000, 0.95}, {0.001, 2000, 0.95}, {0.01, 200, 0.95},   {0.01, 1000, 0.95},
        {0.3, 500, 0.95},    {0.01, 500, 0.99},   {0.001, 5000, 0.99}, {0.3, 200, 0.99},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const struct rate_case *rc = &cases[c];
        double cover[AU_STATS_METHOD_COUNT], exact[AU_STATS_METHOD_COUNT];
        run_rate_case(rc, cover, exact);
        double floor = coverage_floor(rc->level);
        CHECK(cover[AU_STATS_WILSON] >= floor);
        // The exact interval is conservative: it never covers less than nominal.
        CHECK(cover[AU_STATS_CLOPPER_PEARSON] >= rc->level - tolerance(rc->level));
        if (rc->p0 <= 0.01 && rc->n * rc->p0 < 10)
            CHECK(cover[AU_STATS_NORMAL] < floor); // Wald misses: p-hat = 0 gives [0, 0]
        else if (rc->p0 >= 0.3 && rc->level == 0.95)
            CHECK(cover[AU_STATS_NORMAL] >= floor); // fine away from 0
    }
}

/* Below one expected event Wilson dips too (its known weakness); the exact interval
 * still covers. Asserted so the report's advice (Clopper-Pearson for tiny n p) stays true. */
static void test_tiny_np_needs_the_exact_interval(void)
{
    const struct rate_case rc = {0.001, 100, 0.95};
    double cover[AU_STATS_METHOD_COUNT], exact[AU_STATS_METHOD_COUNT];
    run_rate_case(&rc, cover, exact);
    CHECK(exact[AU_STATS_WILSON] < rc.level - 0.02);
    CHECK(cover[AU_STATS_CLOPPER_PEARSON] >= rc.level - tolerance(rc.level));
    CHECK(cover[AU_STATS_NORMAL] < 0.2);
}

/* ---- means ---- */

enum law { LAW_NORMAL, LAW_T3, LAW_ZERO_INFLATED };

/* Draws one value; *mean receives the law's mean. */
static double draw(enum law law, double *mean)
{
    switch (law) {
    case LAW_NORMAL:
        *mean = 0.3;
        return 0.3 + 2 * gauss();
    case LAW_T3: { // Student t, 3 df: finite variance, heavy tails
        double g = gauss(), c = 0;
        for (int i = 0; i < 3; i++) {
            double x = gauss();
            c += x * x;
        }
        *mean = 1;
        return 1 + g / sqrt(c / 3);
    }
    case LAW_ZERO_INFLATED:
        /* Delta loss: most flips masked, a few large. Skewness ~10: the t interval
         * covers 0.943 for 0.95 at n = 1000, 0.945 at n = 4000. */
    default:
        *mean = 0.2 * exp(0.5);
        return uniform53() < 0.8 ? 0 : exp(gauss());
    }
}

struct mean_case {
    enum law law;
    const char *name;
    int n;
    double level;
};

static void run_mean_case(const struct mean_case *mc, double *cover_t, double *cover_z)
{
    int64_t hit_t = 0, hit_z = 0;
    double truth = 0;
    for (int e = 0; e < N_EXPERIMENTS; e++) {
        struct au_stats_acc a = {0};
        for (int i = 0; i < mc->n; i++)
            au_stats_acc_add(&a, draw(mc->law, &truth));
        struct au_stats_mean m;
        au_stats_mean_ci(&a, mc->level, &m);
        hit_t += m.t_lo <= truth && truth <= m.t_hi;
        hit_z += m.z_lo <= truth && truth <= m.z_hi;
    }
    *cover_t = (double)hit_t / N_EXPERIMENTS;
    *cover_z = (double)hit_z / N_EXPERIMENTS;
    printf("mean of %-13s n = %-4d level %.2f: coverage t %.4f  z %.4f\n", mc->name, mc->n,
           mc->level, *cover_t, *cover_z);
}

static void test_mean_intervals_cover(void)
{
    static const struct mean_case cases[] = {
        {LAW_NORMAL, "normal", 10, 0.95},
        {LAW_NORMAL, "normal", 10, 0.99},
        {LAW_T3, "t(3)", 100, 0.95},
        {LAW_ZERO_INFLATED, "zero-inflated", 1000, 0.95},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const struct mean_case *mc = &cases[c];
        double ct, cz, tol = tolerance(mc->level), floor = coverage_floor(mc->level);
        run_mean_case(mc, &ct, &cz);
        if (mc->law == LAW_NORMAL) {
            CHECK_NEAR(ct, mc->level, tol); // exact for normal data
            CHECK(cz < floor);              // z ignores the n - 1 df: too short at n = 10
        } else {
            CHECK(ct >= floor);
        }
    }
}

/* Poisson campaign conditioned on N >= 1: trials are drawn given at least one flip and
 * the estimate of E[L] is P(N >= 1) times their mean, with the interval scaled alike.
 * L is the sum of N exponential losses, so E[L] = mu exactly. */
static void test_conditioned_poisson_interval_covers(void)
{
    const double mu = 0.05, p1 = -expm1(-mu), level = 0.95;
    const int n = 300;
    int64_t hits = 0, hits_unscaled = 0;
    double width = 0;
    for (int e = 0; e < N_EXPERIMENTS; e++) {
        struct au_stats_acc a = {0};
        for (int i = 0; i < n; i++) {
            // Zero-truncated Poisson by inversion: P(N = k | N >= 1) = e^-mu mu^k / k! / p1.
            double u = uniform53() * p1, pk = exp(-mu) * mu, cdf = pk;
            int k = 1;
            while (cdf < u && k < 100) {
                pk *= mu / ++k;
                cdf += pk;
            }
            double loss = 0;
            for (int j = 0; j < k; j++)
                loss -= log(1 - uniform53());
            au_stats_acc_add(&a, loss);
        }
        struct au_stats_mean m;
        au_stats_mean_ci(&a, level, &m);
        hits_unscaled += m.t_lo <= mu && mu <= m.t_hi;
        au_stats_mean_scale(&m, p1);
        hits += m.t_lo <= mu && mu <= m.t_hi;
        width += m.t_hi - m.t_lo;
    }
    double cover = (double)hits / N_EXPERIMENTS;
    printf("poisson (mu %.2f) conditioned, n = %d: coverage of E[L] %.4f, mean width %.4f\n", mu, n,
           cover, width / N_EXPERIMENTS);
    CHECK(cover >= coverage_floor(level));
    // Without the factor the interval is about E[L | N >= 1] ~ 1.03 and never covers mu.
    CHECK(hits_unscaled == 0);
}

int main(void)
{
    au_pcg32_seed(&rng, check_seed(), 0x5eed);
    test_rate_intervals_cover_near_zero();
    test_tiny_np_needs_the_exact_interval();
    test_mean_intervals_cover();
    test_conditioned_poisson_interval_covers();
    return check_report("test_coverage");
}
