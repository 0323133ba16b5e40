/* analysis/stats.c against published values (normal and t tables, R's binom.test,
 * Newcombe 1998, Krejcie & Morgan 1970), closed forms (t with 1, 2 and 4 degrees of
 * freedom, Clopper-Pearson at k = 0, 1, n - 1, n) and identities computed here without
 * the library (binomial sums for the incomplete beta, Simpson's rule for the t law). */
#include "analysis/stats.h"
#include "campaigns/store.h"
#include "core/status.h"
#include "tests/check.h"

#include <math.h>
#include <string.h>

static void test_normal_quantiles_match_tables(void)
{
    CHECK_NEAR(au_stats_z(0.90), 1.6448536269514722, 1e-13);
    CHECK_NEAR(au_stats_z(0.95), 1.959963984540054, 1e-13);
    CHECK_NEAR(au_stats_z(0.99), 2.5758293035489004, 1e-13);
    CHECK_NEAR(au_stats_z(0.999), 3.2905267314919255, 1e-12);
    CHECK_NEAR(au_stats_norm_ppf(0.5), 0, 1e-15);
    CHECK_NEAR(au_stats_norm_ppf(1e-10), -6.361340902404056, 1e-10);
    // Round trips across the whole range, both tails.
    for (double p = 1e-12; p < 1; p = p < 0.01 ? p * 3 : p + 0.01) {
        double x = au_stats_norm_ppf(p);
        CHECK_NEAR(au_stats_norm_cdf(x) / p, 1, 1e-12);
    }
    CHECK(isnan(au_stats_z(0)) && isnan(au_stats_z(1)) && isnan(au_stats_z(NAN)));
    CHECK(isnan(au_stats_z(-0.5)) && isnan(au_stats_norm_ppf(1.5)));
    CHECK(au_stats_norm_ppf(0) == -INFINITY && au_stats_norm_ppf(1) == INFINITY);
}

/* Quantile of t with 4 degrees of freedom in closed form (Hill 1970). */
static double t4_quantile(double p)
{
    double a = 4 * p * (1 - p), q = cos(acos(sqrt(a)) / 3) / sqrt(a);
    return (p > 0.5 ? 2 : -2) * sqrt(q - 1);
}

/* P(T <= t) by Simpson's rule on the density: independent of the incomplete beta. */
static double t_cdf_simpson(double t, double df)
{
    const int n = 20000;
    double c = exp(lgamma((df + 1) / 2) - lgamma(df / 2)) / sqrt(df * M_PI), h = t / n, s = 0;
    for (int i = 0; i <= n; i++) {
        double x = i * h, w = i == 0 || i == n ? 1 : i % 2 ? 4 : 2;
        s += w * c * pow(1 + x * x / df, -(df + 1) / 2);
    }
    return 0.5 + s * h / 3;
}

static void test_t_quantiles_match_closed_forms_and_tables(void)
{
    const double levels[] = {0.5, 0.8, 0.9, 0.95, 0.99, 0.999};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        double L = levels[i], p = 0.5 + L / 2;
        CHECK_NEAR(au_stats_t(L, 1), tan(M_PI * (p - 0.5)), 1e-11 * tan(M_PI * (p - 0.5)));
        CHECK_NEAR(au_stats_t(L, 2), (2 * p - 1) / sqrt(2 * p * (1 - p)), 1e-12 * 30);
        CHECK_NEAR(au_stats_t(L, 4), t4_quantile(p), 1e-11);
    }
    // Printed tables (4 decimals).
    CHECK_NEAR(au_stats_t(0.95, 10), 2.2281, 5e-5);
    CHECK_NEAR(au_stats_t(0.99, 5), 4.0321, 5e-5);
    CHECK_NEAR(au_stats_t(0.95, 30), 2.0423, 5e-5);
    CHECK_NEAR(au_stats_t(0.99, 20), 2.8453, 5e-5);
    CHECK_NEAR(au_stats_t(0.95, 120), 1.9799, 5e-5);
    CHECK_NEAR(au_stats_t(0.99, 1000), 2.5808, 5e-5);
    // The cdf against Simpson, and quantile(cdf) round trips, small to huge df.
    const double dfs[] = {1, 2.5, 7, 30, 150, 1999, 2001, 1e5};
    for (size_t i = 0; i < sizeof(dfs) / sizeof(dfs[0]); i++) {
        double df = dfs[i], t = au_stats_t(0.99, df);
        CHECK_NEAR(au_stats_t_cdf(t, df), 0.995, 1e-12);
        CHECK_NEAR(t_cdf_simpson(t, df), 0.995, 1e-9);
        CHECK_NEAR(au_stats_t_cdf(-t, df), 0.005, 1e-12);
        CHECK(t > au_stats_z(0.99)); // heavier tails than the normal
    }
    CHECK_NEAR(au_stats_t(0.99, 1e9), au_stats_z(0.99), 1e-8);
    CHECK(isnan(au_stats_t(0.95, 0)) && isnan(au_stats_t(1.0, 5)) && isnan(au_stats_t(0.95, NAN)));
}

/* I_x(a, n - a + 1) = P(Binomial(n, x) >= a), summed directly in log space. */
static double binom_upper(int a, int n, double x)
{
    double s = 0;
    for (int j = a; j <= n; j++)
        s += exp(lgamma(n + 1.0) - lgamma(j + 1.0) - lgamma(n - j + 1.0) + j * log(x) +
                 (n - j) * log1p(-x));
    return s;
}

static void test_incomplete_beta_matches_binomial_sums(void)
{
    const int ns[] = {1, 2, 5, 20, 60, 300};
    const double xs[] = {1e-6, 0.01, 0.2, 0.5, 0.77, 0.999};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        for (int a = 1; a <= ns[i]; a += 1 + ns[i] / 7)
            for (size_t k = 0; k < sizeof(xs) / sizeof(xs[0]); k++) {
                double want = binom_upper(a, ns[i], xs[k]);
                double got = au_stats_betai(a, ns[i] - a + 1, xs[k]);
                CHECK_NEAR(got, want, 1e-13 + 1e-11 * want);
            }
    CHECK_NEAR(au_stats_betai(3.5, 3.5, 0.5), 0.5, 1e-15);
    CHECK_NEAR(au_stats_betai(1, 7.25, 0.1), 1 - pow(0.9, 7.25), 1e-15);
    CHECK_NEAR(au_stats_betai(0.5, 0.5, 0.25), 2 / M_PI * asin(0.5), 1e-14);
    CHECK(au_stats_betai(2, 3, 0) == 0 && au_stats_betai(2, 3, 1) == 1);
    CHECK(isnan(au_stats_betai(0, 3, 0.5)) && isnan(au_stats_betai(2, -1, 0.5)));
    // The quantile inverts it, down to tiny roots.
    const double ps[] = {1e-9, 0.005, 0.3, 0.5, 0.975, 1 - 1e-9};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        double x = au_stats_beta_ppf(ps[i], 2.5, 400);
        CHECK_NEAR(au_stats_betai(2.5, 400, x) / ps[i], 1, 1e-10);
        x = au_stats_beta_ppf(ps[i], 0.3, 0.7);
        CHECK_NEAR(au_stats_betai(0.3, 0.7, x) / ps[i], 1, 1e-10);
    }
}

static void check_cp(double k, double n, double level, double lo, double hi, double tol)
{
    double l, h;
    au_stats_clopper_pearson(k, n, level, &l, &h);
    CHECK_NEAR(l, lo, tol);
    CHECK_NEAR(h, hi, tol);
}

static void check_wilson(double k, double n, double level, double lo, double hi, double tol)
{
    double l, h;
    au_stats_wilson(k, n, level, &l, &h);
    CHECK_NEAR(l, lo, tol);
    CHECK_NEAR(h, hi, tol);
}

static void test_rate_intervals_match_published_values(void)
{
    // R: binom.test(k, n)$conf.int
    check_cp(5, 10, 0.95, 0.1870860, 0.8129140, 5e-8);
    check_cp(1, 10, 0.95, 0.002528579, 0.4450161, 5e-8);
    check_cp(3, 10, 0.95, 0.06673951, 0.6524529, 5e-8);
    check_cp(0, 10, 0.95, 0, 0.3084971, 5e-8);
    // Newcombe (1998), Stat. Med. 17:857, table II (4 decimals).
    check_cp(81, 263, 0.95, 0.2527, 0.3676, 5e-5);
    check_cp(15, 148, 0.95, 0.0578, 0.1617, 5e-5);
    check_cp(0, 20, 0.95, 0, 0.1684, 5e-5);
    check_cp(1, 29, 0.95, 0.0009, 0.1776, 5e-5);
    check_wilson(81, 263, 0.95, 0.2553, 0.3662, 5e-5);
    check_wilson(15, 148, 0.95, 0.0624, 0.1605, 5e-5);
    check_wilson(0, 20, 0.95, 0, 0.1611, 5e-5);
    check_wilson(1, 29, 0.95, 0.0061, 0.1718, 5e-5);
    double lo, hi;
    au_stats_normal_rate(81, 263, 0.95, &lo, &hi);
    CHECK_NEAR(lo, 0.2522, 5e-5);
    CHECK_NEAR(hi, 0.3638, 5e-5);
    // Closed forms of Clopper-Pearson at both ends, on large n too.
    const double n_s[] = {7, 1000, 1e6};
    for (size_t i = 0; i < 3; i++) {
        double n = n_s[i], a = 0.01;
        check_cp(0, n, 0.99, 0, 1 - pow(a / 2, 1 / n), 1e-12);
        check_cp(n, n, 0.99, pow(a / 2, 1 / n), 1, 1e-12);
        au_stats_clopper_pearson(1, n, 0.99, &lo, &hi);
        CHECK_NEAR(lo / -expm1(log1p(-a / 2) / n), 1, 1e-12);
        au_stats_clopper_pearson(n - 1, n, 0.99, &lo, &hi);
        CHECK_NEAR(hi, pow(1 - a / 2, 1 / n), 1e-11);
    }
    // The normal interval collapses at k = 0; the others do not.
    au_stats_normal_rate(0, 1000, 0.99, &lo, &hi);
    CHECK(lo == 0 && hi == 0);
    au_stats_wilson(0, 1000, 0.99, &lo, &hi);
    CHECK(lo == 0 && hi > 0.006 && hi < 0.007);
    // Every interval contains p-hat, and reaches 0 and 1 exactly at the ends.
    for (int m = 0; m < AU_STATS_METHOD_COUNT; m++)
        for (int k = 0; k <= 50; k += 5) {
            CHECK_EQ_INT(au_stats_rate_ci(m, k, 50, 0.95, &lo, &hi), AU_OK);
            CHECK(lo <= k / 50.0 && hi >= k / 50.0);
            CHECK(k != 0 || lo == 0);
            CHECK(k != 50 || hi == 1);
        }
}

static void test_rate_interval_arguments(void)
{
    double lo, hi;
    CHECK_EQ_INT(au_stats_rate_ci(AU_STATS_WILSON, 0, 0, 0.95, &lo, &hi), AU_OK);
    CHECK(lo == 0 && hi == 1);
    CHECK_EQ_INT(au_stats_rate_ci(AU_STATS_CLOPPER_PEARSON, 5, 4, 0.95, &lo, &hi), AU_INVALID);
    CHECK(isnan(lo) && isnan(hi));
    CHECK_EQ_INT(au_stats_rate_ci(AU_STATS_NORMAL, -1, 4, 0.95, &lo, &hi), AU_INVALID);
    CHECK_EQ_INT(au_stats_rate_ci(AU_STATS_WILSON, 1, 4, 1.5, &lo, &hi), AU_INVALID);
    CHECK_EQ_INT(au_stats_rate_ci(99, 1, 4, 0.95, &lo, &hi), AU_INVALID);
    CHECK_EQ_INT(au_stats_rate_ci(AU_STATS_CLOPPER_PEARSON, 2.5, 10, 0.95, &lo, &hi), AU_OK);
    CHECK(lo > 0 && lo < 0.25 && hi > 0.25 && hi < 1); // fractional k (language models)
    int m = -1;
    CHECK(au_stats_method_parse("cp", &m) == AU_OK && m == AU_STATS_CLOPPER_PEARSON);
    CHECK(au_stats_method_parse("wilson", &m) == AU_OK && m == AU_STATS_WILSON);
    CHECK(au_stats_method_parse("bogus", &m) == AU_INVALID && m == AU_STATS_WILSON);
    CHECK(!strcmp(au_stats_method_name(AU_STATS_NORMAL), "normal"));
    CHECK(au_stats_method_name(AU_STATS_METHOD_COUNT) == NULL);
}

static void test_mean_intervals(void)
{
    const double x[] = {0.12, -0.03, 0.4, 2.5, 0.0, 0.07, 0.33, -0.2};
    const int n = 8;
    struct au_stats_acc a = {0}, h1 = {0}, h2 = {0};
    double sum = 0, ss = 0, sa = 0;
    for (int i = 0; i < n; i++) {
        au_stats_acc_add(&a, x[i]);
        au_stats_acc_add(i < 3 ? &h1 : &h2, x[i]);
        sum += x[i];
        sa += fabs(x[i]);
    }
    double mean = sum / n;
    for (int i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    struct au_stats_mean m;
    au_stats_mean_ci(&a, 0.99, &m);
    CHECK_NEAR(m.mean, mean, 1e-15);
    CHECK_NEAR(m.var, ss / (n - 1), 1e-15);
    CHECK_NEAR(m.mean_abs, sa / n, 1e-15);
    double se = sqrt(ss / (n - 1) / n), t = au_stats_t(0.99, n - 1);
    CHECK_NEAR(m.t_lo, mean - t * se, 1e-14);
    CHECK_NEAR(m.t_hi, mean + t * se, 1e-14);
    CHECK_NEAR(m.z_hi, mean + au_stats_z(0.99) * se, 1e-14);
    CHECK(m.t_lo < m.z_lo && m.t_hi > m.z_hi);
    au_stats_acc_merge(&h1, &h2);
    CHECK_EQ_INT(h1.n, n);
    CHECK_NEAR(h1.mean, a.mean, 1e-15);
    CHECK_NEAR(h1.m2, a.m2, 1e-14);
    // Welford keeps digits that sum-of-squares loses: huge offset, unit spread.
    struct au_stats_acc big = {0};
    for (int i = 0; i < 1000; i++)
        au_stats_acc_add(&big, 1e9 + (i % 2 ? 1 : -1));
    au_stats_mean_ci(&big, 0.95, &m);
    CHECK_NEAR(m.var, 1000.0 / 999, 1e-6);
    // Scaling by P(N >= 1) scales every bound.
    struct au_stats_mean s = m;
    au_stats_mean_scale(&s, 0.25);
    CHECK_NEAR(s.t_lo, 0.25 * m.t_lo, 1);
    CHECK_NEAR(s.sd, 0.25 * m.sd, 1e-12);
    struct au_stats_acc one = {0};
    au_stats_acc_add(&one, 3);
    au_stats_mean_ci(&one, 0.95, &m);
    CHECK(m.mean == 3 && isnan(m.var) && isnan(m.t_lo) && isnan(m.z_hi));
    struct au_stats_acc none = {0};
    au_stats_mean_ci(&none, 0.95, &m);
    CHECK(m.n == 0 && isnan(m.mean));
}

static void test_sample_sizes(void)
{
    // Krejcie & Morgan (1970), 95%, e = 0.05, p = 0.5: N = 100 -> 80, 1000 -> 278,
    // 10000 -> 370, 1e6 -> 384 (their chi-square 3.841 is z^2 at 95%).
    CHECK_EQ_INT(ceil(au_stats_leveugle_n(100, 0.05, 0.95, 0.5)), 80);
    CHECK_EQ_INT(ceil(au_stats_leveugle_n(1000, 0.05, 0.95, 0.5)), 278);
    CHECK_EQ_INT(ceil(au_stats_leveugle_n(10000, 0.05, 0.95, 0.5)), 370);
    CHECK_EQ_INT(ceil(au_stats_leveugle_n(1e6, 0.05, 0.95, 0.5)), 384);
    // Leveugle et al.: e = 1%, 99%, worst case p: 16,588 trials for an unbounded population.
    double z = au_stats_z(0.99);
    CHECK_NEAR(au_stats_leveugle_n(INFINITY, 0.01, 0.99, 0.5), z * z * 0.25 / 1e-4, 1e-9);
    CHECK_EQ_INT(ceil(au_stats_leveugle_n(INFINITY, 0.01, 0.99, 0.5)), 16588);
    CHECK_NEAR(au_stats_leveugle_n(1, 0.01, 0.99, 0.5), 1, 1e-15);
    CHECK(au_stats_leveugle_n(1e4, 0.01, 0.99, 0.1) < au_stats_leveugle_n(1e4, 0.01, 0.99, 0.5));
    CHECK(isnan(au_stats_leveugle_n(0, 0.01, 0.99, 0.5)));
    CHECK(isnan(au_stats_leveugle_n(100, 0, 0.99, 0.5)));
    CHECK(isnan(au_stats_leveugle_n(100, 0.01, 0.99, 1)));
    CHECK_NEAR(au_stats_mean_n(0.5, 0.01, 0.95), pow(1.959963984540054 * 50, 2), 1e-6);
    CHECK(isnan(au_stats_mean_n(-1, 0.01, 0.95)) && isnan(au_stats_mean_n(1, 0, 0.95)));
}

/* The store's SQL functions use the same numbers. */
static void test_store_functions_agree(void)
{
    const double levels[] = {0.8, 0.95, 0.99};
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(au_store_z(levels[i]), au_stats_z(levels[i]), 1e-14);
        CHECK_NEAR(au_store_t(levels[i], 9), au_stats_t(levels[i], 9), 1e-12);
        double a, b, c, e;
        au_store_wilson(3, 40, levels[i], &a, &b);
        au_stats_wilson(3, 40, levels[i], &c, &e);
        CHECK_NEAR(a, c, 1e-15);
        CHECK_NEAR(b, e, 1e-15);
    }
}

int main(void)
{
    test_normal_quantiles_match_tables();
    test_t_quantiles_match_closed_forms_and_tables();
    test_incomplete_beta_matches_binomial_sums();
    test_rate_intervals_match_published_values();
    test_rate_interval_arguments();
    test_mean_intervals();
    test_sample_sizes();
    test_store_functions_agree();
    return check_report("test_stats");
}
