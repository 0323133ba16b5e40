/* Poisson samplers against their laws. Each goodness-of-fit test is Pearson's
 * chi-square at alpha = 0.001, bins merged left to right until each expects >= 5 draws
 * (a short last bin joins its neighbour); the p-value comes from the regularized
 * incomplete gamma, itself checked against closed forms. With the default seed every
 * test is deterministic; another AURUM_TEST_SEED fails a given fit with probability
 * 0.001.
 */
#include "core/status.h"
#include "injectors/poisson.h"
#include "tests/check.h"

#include <string.h>
#include <time.h>

#define ALPHA  0.001
#define MAX_K  4096
#define STREAM 0x5eedULL

static uint64_t hist[MAX_K + 1];
static double prob[MAX_K + 1];

/* Chi-square critical value at level alpha: bisection on the survival function. */
static double chisq_crit(double dof, double alpha)
{
    double lo = 0.0, hi = dof + 100.0 * sqrt(dof) + 100.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (au_poisson_gamma_q(0.5 * dof, 0.5 * mid) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Pearson's statistic over bins 0..n (n holds the tail) with expected n_draws*prob[k];
 * returns the p-value and prints the fit when it is below ALPHA. */
static double gof(const char *what, double mu, size_t n, uint64_t n_draws)
{
    double chi2 = 0.0, e_acc = 0.0, o_acc = 0.0, e_last = 0.0, o_last = 0.0;
    int groups = 0;
    for (size_t k = 0; k <= n; k++) {
        e_acc += (double)n_draws * prob[k];
        o_acc += (double)hist[k];
        if (e_acc >= 5.0 || k == n) {
            if (e_acc < 5.0 && groups > 0) { /* short tail: fold into the previous group */
                chi2 -= (o_last - e_last) * (o_last - e_last) / e_last;
                e_acc += e_last;
                o_acc += o_last;
                groups--;
            }
            chi2 += (o_acc - e_acc) * (o_acc - e_acc) / e_acc;
            e_last = e_acc, o_last = o_acc;
            groups++;
            e_acc = o_acc = 0.0;
        }
    }
    int dof = groups - 1;
    double p = dof > 0 ? au_poisson_gamma_q(0.5 * dof, 0.5 * chi2) : 1.0;
    CHECK(dof > 0);
    CHECK(p >= ALPHA);
    if (!(p >= ALPHA) || dof <= 0)
        fprintf(stderr, "%s mu=%g: chi2=%.3f dof=%d critical(%g)=%.3f p=%.3g (seed %" PRIu64 ")\n",
                what, mu, chi2, dof, ALPHA, dof > 0 ? chisq_crit(dof, ALPHA) : 0.0, p,
                check_seed());
    return p;
}

static double log_pmf(double mu, uint64_t k)
{
    return -mu + (double)k * log(mu) - au_poisson_log_factorial(k);
}

/* Fills prob[0..n] (n = tail bin) for Poisson(mu), or its zero-truncated law. */
static size_t fill_prob(double mu, int truncated)
{
    size_t n = (size_t)(mu + 12.0 * sqrt(mu) + 25.0);
    AU_ASSERT(n < MAX_K);
    double sum = 0.0, scale = truncated ? 1.0 / au_poisson_p_at_least_one(mu) : 1.0;
    for (size_t k = 0; k < n; k++) {
        prob[k] = (truncated && k == 0) ? 0.0 : exp(log_pmf(mu, k)) * scale;
        sum += prob[k];
    }
    prob[n] = sum < 1.0 ? 1.0 - sum : 0.0;
    return n;
}

static void test_uniform_has_53_bits_from_two_draws(void)
{
    struct au_pcg32 r, c;
    au_pcg32_seed(&r, check_seed(), STREAM);
    int low_bits_seen = 0;
    for (int i = 0; i < 1000; i++) {
        c = r;
        uint64_t hi = au_pcg32_next(&c) >> 5, lo = au_pcg32_next(&c) >> 6;
        double u = au_poisson_uniform(&r);
        CHECK(u >= 0.0 && u < 1.0);
        CHECK(u == (double)((hi << 26) | lo) / 9007199254740992.0);
        CHECK(r.state == c.state);
        low_bits_seen |= ((uint64_t)(u * 9007199254740992.0) & 0x1fffff) != 0;
    }
    CHECK(low_bits_seen);
}

static void test_log_factorial_matches_sum_of_logs(void)
{
    long double acc = 0.0L;
    for (uint64_t k = 0; k <= 3000; k++) {
        if (k > 1)
            acc += logl((long double)k);
        double want = (double)acc, got = au_poisson_log_factorial(k);
        CHECK(fabs(got - want) <= 1e-13 * (want > 1.0 ? want : 1.0));
    }
    CHECK_NEAR(au_poisson_log_factorial(1000000), 12815518.384658169, 1e-6);
}

/* Closed forms: Q(1, x) = e^-x, Q(1/2, x) = erfc(sqrt x), and the Poisson CDF. */
static void test_gamma_q_matches_closed_forms(void)
{
    for (double x = 0.0; x < 60.0; x += 0.37) {
        CHECK_NEAR(au_poisson_gamma_q(1.0, x), exp(-x), 1e-13 + 1e-12 * exp(-x));
        CHECK_NEAR(au_poisson_gamma_q(0.5, x), erfc(sqrt(x)), 1e-13 + 1e-12 * erfc(sqrt(x)));
    }
    double mus[] = {0.3, 4.0, 37.5};
    for (size_t i = 0; i < sizeof(mus) / sizeof(mus[0]); i++) {
        double cdf = 0.0;
        for (uint64_t k = 0; k < 80; k++) {
            cdf += exp(log_pmf(mus[i], k));
            CHECK_NEAR(au_poisson_gamma_q((double)k + 1.0, mus[i]), cdf, 1e-12);
        }
    }
    CHECK(isnan(au_poisson_gamma_q(0.0, 1.0)));
    CHECK(isnan(au_poisson_gamma_q(1.0, -1.0)));
    CHECK(au_poisson_gamma_q(3.0, 0.0) == 1.0);
}

/* The bisected critical values agree with Wilson-Hilferty's cube-root approximation
 * (within 1% from 10 degrees of freedom on) and, for 2, with the exponential law. */
static void test_chisq_crit_agrees_with_wilson_hilferty(void)
{
    double z = 3.090232306167814; /* Phi^-1(1 - 0.001), checked below by erfc */
    CHECK_NEAR(0.5 * erfc(z / sqrt(2.0)), ALPHA, 1e-12);
    CHECK_NEAR(chisq_crit(2.0, ALPHA), -2.0 * log(ALPHA), 1e-9); /* dof 2: exponential */
    for (int dof = 10; dof <= 400; dof += 15) {
        double h = 2.0 / (9.0 * dof), wh = dof * pow(1.0 - h + z * sqrt(h), 3.0);
        double c = chisq_crit(dof, ALPHA);
        CHECK(fabs(c - wh) <= 0.01 * wh);
        CHECK_NEAR(au_poisson_gamma_q(0.5 * dof, 0.5 * c), ALPHA, 1e-9);
    }
}

static void fit_poisson(double mu, uint64_t n_draws, uint64_t stream)
{
    struct au_pcg32 r;
    au_pcg32_seed(&r, check_seed(), stream);
    size_t n = fill_prob(mu, 0);
    memset(hist, 0, sizeof(hist));
    double sum = 0.0;
    for (uint64_t i = 0; i < n_draws; i++) {
        uint64_t k = au_poisson_sample(mu, &r);
        hist[k < n ? k : n]++;
        sum += (double)k;
    }
    gof("poisson", mu, n, n_draws);
    /* The mean within 5 standard errors catches a shift the binning could blur. */
    CHECK(fabs(sum / (double)n_draws - mu) <= 5.0 * sqrt(mu / (double)n_draws));
}

static void test_poisson_counts_fit_the_poisson_law(void)
{
    /* mu = 1e-6 needs 2e7 draws for its k >= 1 bin to expect 20 (>= 5). */
    fit_poisson(1e-6, 20000000, 1);
    double mus[] = {0.3, 4.0, 9.9, 10.1, 50.0, 1000.0};
    for (size_t i = 0; i < sizeof(mus) / sizeof(mus[0]); i++)
        fit_poisson(mus[i], 200000, 2 + i);
}

static void test_truncated_fits_its_law_and_mean(void)
{
    double mus[] = {1e-3, 0.5, 3.0, 9.9, 10.1, 50.0};
    for (size_t i = 0; i < sizeof(mus) / sizeof(mus[0]); i++) {
        double mu = mus[i];
        struct au_pcg32 r;
        au_pcg32_seed(&r, check_seed(), 100 + i);
        size_t n = fill_prob(mu, 1);
        memset(hist, 0, sizeof(hist));
        double sum = 0.0;
        uint64_t n_draws = 200000, zeros = 0;
        for (uint64_t j = 0; j < n_draws; j++) {
            uint64_t k = au_poisson_sample_truncated(mu, &r);
            zeros += k == 0;
            hist[k < n ? k : n]++;
            sum += (double)k;
        }
        CHECK_EQ_U64(zeros, 0);
        gof("truncated", mu, n, n_draws);
        double mean = mu / au_poisson_p_at_least_one(mu), var = mean * (1.0 + mu - mean);
        CHECK(fabs(sum / (double)n_draws - mean) <= 5.0 * sqrt(var / (double)n_draws));
    }
}

/* Tiny mu: N is 1 but for a rate of mu/2, and each draw takes exactly one uniform
 * (two 32-bit outputs): inversion, no rejection loop. */
static void test_truncated_tiny_mu_is_one_uniform_per_draw(void)
{
    struct au_pcg32 r, c;
    au_pcg32_seed(&r, check_seed(), 200);
    c = r;
    uint64_t above_one = 0, n_draws = 1000000;
    for (uint64_t j = 0; j < n_draws; j++) {
        uint64_t k = au_poisson_sample_truncated(1e-9, &r);
        CHECK(k >= 1);
        above_one += k > 1;
    }
    for (uint64_t j = 0; j < 2 * n_draws; j++)
        (void)au_pcg32_next(&c);
    CHECK(r.state == c.state);
    CHECK(above_one <= 2); /* expected 5e-4 */
    /* mu = 1e-300: P(N = 1 | N >= 1) must still be computed as ~1, never 0/0. */
    CHECK_EQ_U64(au_poisson_sample_truncated(1e-300, &r), 1);
}

static void test_p_at_least_one_is_exact_for_tiny_mu(void)
{
    double mus[] = {1e-300, 1e-18, 1e-12, 1e-9, 1e-6};
    for (size_t i = 0; i < sizeof(mus) / sizeof(mus[0]); i++) {
        double mu = mus[i], want = mu - mu * mu / 2.0 + mu * mu * mu / 6.0;
        CHECK(fabs(au_poisson_p_at_least_one(mu) - want) <= 1e-15 * want);
    }
    CHECK_NEAR(au_poisson_p_at_least_one(2.0), 1.0 - exp(-2.0), 1e-15);
    CHECK(au_poisson_p_at_least_one(800.0) == 1.0);
    CHECK(au_poisson_p_at_least_one(0.0) == 0.0);
    CHECK(au_poisson_p_at_least_one(-1.0) == 0.0);
    CHECK(au_poisson_p_at_least_one(NAN) == 0.0);
}

static void test_degenerate_means(void)
{
    struct au_pcg32 r, c;
    au_pcg32_seed(&r, check_seed(), 300);
    c = r;
    CHECK_EQ_U64(au_poisson_sample(0.0, &r), 0);
    CHECK_EQ_U64(au_poisson_sample(-3.0, &r), 0);
    CHECK_EQ_U64(au_poisson_sample(NAN, &r), 0);
    CHECK_EQ_U64(au_poisson_sample(INFINITY, &r), UINT64_MAX);
    CHECK_EQ_U64(au_poisson_sample_truncated(0.0, &r), 1);
    CHECK(r.state == c.state); /* degenerate means draw nothing */
}

static void test_same_stream_gives_same_counts(void)
{
    struct au_pcg32 a, b, other;
    au_pcg32_seed(&a, check_seed(), 400);
    au_pcg32_seed(&b, check_seed(), 400);
    au_pcg32_seed(&other, check_seed(), 401);
    int differs = 0;
    for (int i = 0; i < 1000; i++) {
        double mu = i % 3 == 0 ? 0.7 : i % 3 == 1 ? 25.0 : 3000.0;
        uint64_t x = au_poisson_sample(mu, &a);
        CHECK_EQ_U64(x, au_poisson_sample(mu, &b));
        differs |= x != au_poisson_sample(mu, &other);
    }
    CHECK(differs);
}

static double ns_per_draw(double mu, int truncated)
{
    struct au_pcg32 r;
    au_pcg32_seed(&r, check_seed(), 500);
    uint64_t n = 1000000, sink = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < n; i++)
        sink += truncated ? au_poisson_sample_truncated(mu, &r) : au_poisson_sample(mu, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(sink > 0);
    return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n;
}

static void report_speed(void)
{
    printf("ns/draw: poisson mu=0.3 %.1f, mu=9.9 %.1f, mu=50 %.1f, mu=1000 %.1f; "
           "truncated mu=1e-9 %.1f, mu=50 %.1f\n",
           ns_per_draw(0.3, 0), ns_per_draw(9.9, 0), ns_per_draw(50.0, 0), ns_per_draw(1000.0, 0),
           ns_per_draw(1e-9, 1), ns_per_draw(50.0, 1));
    fflush(stdout);
}

int main(void)
{
    test_uniform_has_53_bits_from_two_draws();
    test_log_factorial_matches_sum_of_logs();
    test_gamma_q_matches_closed_forms();
    test_chisq_crit_agrees_with_wilson_hilferty();
    test_poisson_counts_fit_the_poisson_law();
    test_truncated_fits_its_law_and_mean();
    test_truncated_tiny_mu_is_one_uniform_per_draw();
    test_p_at_least_one_is_exact_for_tiny_mu();
    test_degenerate_means();
    test_same_stream_gives_same_counts();
    report_speed();
    return check_report("test_poisson");
}
