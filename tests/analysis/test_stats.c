/* analysis/stats.c against published values (normal and t tables, R's binom.test,
 * Newcombe 1998, Krejcie & Morgan 1970), closed forms (t with 1, 2 and 4 degrees of
 * freedom, Clopper-Pearson at k = 0, 1, n - 1, n) and identities computed here without
 * the library (binomial sums for the incomplete beta, Simpson's rule for the t law). */
#include "analysis/estimate.h"
#include "analysis/report.h"
#include "analysis/stats.h"
#include "campaigns/spec.h"
#include "campaigns/store.h"
#include "core/alloc.h"
#include "core/status.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* ---- estimates from a database written through the store ---- */

static const char json_per_layer[] =
    "{\"name\": \"pl\", \"model\": \"m.onnx\", \"data\": {\"inputs\": \"x.npy\", \"labels\": "
    "\"y.npy\"},"
    " \"process\": {\"type\": \"per_layer\", \"trials\": 8}, \"seed\": 1}";
static const char json_poisson[] =
    "{\"name\": \"pw\", \"model\": \"m.onnx\", \"data\": {\"inputs\": \"x.npy\", \"labels\": "
    "\"y.npy\"},"
    " \"formats\": {\"weights\": \"bfp8\", \"activations\": \"bfp8\"},"
    " \"process\": {\"type\": \"poisson\", \"rate\": 1e-6, \"timing\": \"model_wide\","
    " \"time\": 1.0, \"condition_on_fault\": true, \"trials\": 6}, \"seed\": 2}";

/* Layer 0 activations: 6 finite delta losses and 2 NaN; layer 1 weights: 4 trials. */
static const double dl0[] = {0.5, -0.1, 0.0, 2.0, 0.25, 0.0};
static const double dl1[] = {1.0, 3.0, 0.0, 0.0};
static const double dl_pw[] = {0.2, 0.0, 4.0, 0.0, 1.0, 0.6};

static struct au_store_trial trial(int64_t id, int layer, int tensor, double dl, bool sdc)
{
    bool nf = isnan(dl);
    return (struct au_store_trial){id,
                                   layer,
                                   tensor,
                                   AU_STORE_BITS_DATA,
                                   1,
                                   id,
                                   1,
                                   nf ? NAN : 1 + dl,
                                   dl,
                                   sdc ? 1 : 0,
                                   nf        ? AU_STORE_OUTCOME_NONFINITE
                                   : sdc     ? AU_STORE_OUTCOME_SDC
                                   : dl == 0 ? AU_STORE_OUTCOME_MASKED
                                             : AU_STORE_OUTCOME_BENIGN,
                                   id == 3};
}

static bool write_db(const char *path)
{
    struct au_diag d = {{0}};
    au_store *s;
    int64_t c1, c2;
    bool resumed;
    struct au_store_campaign_info a = {"pl", json_per_layer, "00", "test", 1, 0.95};
    struct au_store_campaign_info b = {"pw", json_poisson, "00", "test", 2, 0.99};
    struct au_store_layer layers[] = {
        {0, "conv1", "Conv", 10, 100, 50, NULL, NULL, 32, 32, 0, 0, 0, 0},
        {1, "fc", "Gemm", 10, 10, 80, NULL, NULL, 32, 32, 0, 0, 0, 0}};
    struct au_store_trial t[16];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        t[n] = trial(n, 0, AU_STORE_TENSOR_ACT, dl0[i], i == 3);
        n++;
    }
    {
        t[n] = trial(n, 0, AU_STORE_TENSOR_ACT, NAN, true);
        n++;
    }
    {
        t[n] = trial(n, 0, AU_STORE_TENSOR_ACT, NAN, true);
        n++;
    }
    for (int i = 0; i < 4; i++) {
        t[n] = trial(n, 1, AU_STORE_TENSOR_WEIGHT, dl1[i], i < 2);
        n++;
    }
    struct au_store_trial u[6];
    for (int i = 0; i < 6; i++)
        u[i] = trial(i, -1, AU_STORE_TENSOR_MIXED, dl_pw[i], i == 2);
    struct au_store_poisson pr = {-1, -1, 0.105, 0.1, true};
    bool ok = au_store_open(path, AU_STORE_CREATE, &s, &d) == AU_OK &&
              au_store_campaign_begin(s, &a, &c1, &resumed, &d) == AU_OK &&
              au_store_layers_add(s, c1, layers, 2, &d) == AU_OK &&
              au_store_trials_add(s, c1, t, (size_t)n, NULL, 0, &d) == AU_OK &&
              au_store_campaign_end(s, c1, AU_STORE_DONE, "test", &d) == AU_OK &&
              au_store_campaign_begin(s, &b, &c2, &resumed, &d) == AU_OK &&
              au_store_poisson_add(s, c2, &pr, 1, &d) == AU_OK &&
              au_store_trials_add(s, c2, u, 6, NULL, 0, &d) == AU_OK &&
              au_store_campaign_end(s, c2, AU_STORE_DONE, "test", &d) == AU_OK;
    if (!ok)
        fprintf(stderr, "write_db: %s\n", d.msg);
    au_store_close(s);
    return ok;
}

static void check_mean_of(const struct au_stats_mean *m, const double *x, int n, double level,
                          double scale)
{
    struct au_stats_acc a = {0};
    for (int i = 0; i < n; i++)
        au_stats_acc_add(&a, x[i]);
    double mean = a.mean, se = sqrt(a.m2 / (n - 1) / n), t = au_stats_t(level, n - 1);
    CHECK_EQ_INT(m->n, n);
    CHECK_NEAR(m->mean, scale * mean, 1e-14);
    CHECK_NEAR(m->t_lo, scale * (mean - t * se), 1e-13);
    CHECK_NEAR(m->t_hi, scale * (mean + t * se), 1e-13);
    CHECK_NEAR(m->z_hi, scale * (mean + au_stats_z(level) * se), 1e-13);
}

static void test_layer_estimates(au_estimate_db *db)
{
    struct au_diag d = {{0}};
    struct au_estimate_campaign c;
    CHECK_EQ_INT(au_estimate_find(db, NULL, &c, &d), AU_INVALID); // two campaigns: name one
    CHECK(strstr(d.msg, "2 campaigns") != NULL);
    CHECK_EQ_INT(au_estimate_find(db, "nope", &c, &d), AU_NOTFOUND);
    CHECK(strstr(d.msg, "no campaign named 'nope'") != NULL);
    CHECK_EQ_INT(au_estimate_find(db, "pl", &c, &d), AU_OK);
    CHECK_EQ_INT(c.process, AU_CAMPAIGN_PER_LAYER);
    CHECK_EQ_INT(c.n_trials, 12);
    CHECK(!strcmp(c.status, "done") && c.level == 0.95);
    struct au_estimate *r;
    size_t n;
    CHECK_EQ_INT(au_estimate_layers(db, &c, NULL, &r, &n, &d), AU_OK);
    CHECK_EQ_INT(n, 2);
    if (n != 2)
        return;
    CHECK(!strcmp(r[0].name, "conv1") && r[0].layer == 0 && r[0].tensor == AU_STORE_TENSOR_ACT);
    CHECK_EQ_INT(r[0].n_trials, 8);
    CHECK_EQ_INT(r[0].n_nonfinite, 2); // counted apart, not in the mean
    CHECK_EQ_INT(r[0].n_masked, 2);
    CHECK_EQ_INT(r[0].n_sdc, 1); // the NaN trials are 'nonfinite' (mismatch 1 all the same)
    CHECK_EQ_INT(r[0].n_detected, 1);
    check_mean_of(&r[0].dloss, dl0, 6, 0.95, 1);
    double lo, hi;
    au_stats_wilson(3, 8, 0.95, &lo, &hi); // mismatch over all trials, NaN ones included
    CHECK_NEAR(r[0].mismatch, 3.0 / 8, 1e-15);
    CHECK_NEAR(r[0].mismatch_lo, lo, 1e-15);
    CHECK_NEAR(r[0].mismatch_hi, hi, 1e-15);
    CHECK(r[0].p_fault == 1 && !r[0].conditioned && isnan(r[0].mean_flips));
    CHECK(!strcmp(r[1].name, "fc") && r[1].tensor == AU_STORE_TENSOR_WEIGHT);
    check_mean_of(&r[1].dloss, dl1, 4, 0.95, 1);
    au_free(r);
    // Another level and the exact interval.
    struct au_estimate_opts o = {0.99, AU_STATS_CLOPPER_PEARSON};
    CHECK_EQ_INT(au_estimate_layers(db, &c, &o, &r, &n, &d), AU_OK);
    au_stats_clopper_pearson(2, 4, 0.99, &lo, &hi);
    CHECK(n == 2 && r[1].mismatch_lo == lo && r[1].mismatch_hi == hi && r[1].level == 0.99);
    if (n == 2)
        check_mean_of(&r[1].dloss, dl1, 4, 0.99, 1);
    au_free(r);
    o.level = 1.5;
    CHECK_EQ_INT(au_estimate_layers(db, &c, &o, &r, &n, &d), AU_INVALID);
    CHECK(r == NULL && n == 0 && strstr(d.msg, "level") != NULL);
    // The store's layer_summary holds the same numbers.
    struct au_estimate m;
    CHECK_EQ_INT(au_estimate_model(db, &c, NULL, &m, &d), AU_OK);
    CHECK(m.n_trials == 12 && m.n_nonfinite == 2 && m.dloss.n == 10 && m.p_fault == 1);
}

static void test_poisson_model_estimate(au_estimate_db *db)
{
    struct au_diag d = {{0}};
    struct au_estimate_campaign c;
    CHECK_EQ_INT(au_estimate_find(db, "pw", &c, &d), AU_OK);
    CHECK_EQ_INT(c.process, AU_CAMPAIGN_POISSON);
    CHECK_EQ_INT(c.timing, AU_CAMPAIGN_MODEL_WIDE);
    CHECK(c.conditioned);
    struct au_estimate m;
    CHECK_EQ_INT(au_estimate_model(db, &c, NULL, &m, &d), AU_OK);
    // E[L] = P(N >= 1) E[L | N >= 1]: estimate and interval both scaled by p_fault.
    CHECK(m.conditioned && m.p_fault == 0.1 && m.mean_flips == 0.105 && m.level == 0.99);
    check_mean_of(&m.dloss, dl_pw, 6, 0.99, 0.1);
    double lo, hi;
    au_stats_wilson(1, 6, 0.99, &lo, &hi);
    CHECK_NEAR(m.mismatch, 0.1 / 6, 1e-15);
    CHECK_NEAR(m.mismatch_lo, 0.1 * lo, 1e-15);
    CHECK_NEAR(m.mismatch_hi, 0.1 * hi, 1e-15);
    struct au_estimate *r;
    size_t n;
    CHECK_EQ_INT(au_estimate_layers(db, &c, NULL, &r, &n, &d), AU_OK);
    CHECK(n == 1 && r[0].layer == -1 && r[0].tensor == -1 && r[0].bits == -1 &&
          r[0].dloss.mean == m.dloss.mean && !strcmp(r[0].name, "model"));
    au_free(r);
}

struct rows {
    int headers, rows;
    char first[64];
};

static int count_rows(void *user, int n, const char *const *names, const char *const *values)
{
    struct rows *r = user;
    (void)names;
    if (!values)
        return r->headers++, 0;
    if (!r->rows++)
        snprintf(r->first, sizeof(r->first), "%s|%s", values[0] ? values[0] : "NULL",
                 n > 1 && values[1] ? values[1] : "NULL");
    return 0;
}

static void test_queries_are_read_only(au_estimate_db *db, const char *path)
{
    struct au_diag d = {{0}};
    struct rows r = {0};
    CHECK_EQ_INT(au_estimate_query(db,
                                   "SELECT name, level FROM campaigns ORDER BY id;"
                                   " SELECT 1 WHERE 0",
                                   count_rows, &r, &d),
                 AU_OK);
    CHECK(r.headers == 2 && r.rows == 2 && !strcmp(r.first, "pl|0.95"));
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(au_estimate_query(db, "SELECT round(au_t(0.95, 10), 4), au_wilson_hi(0, 20, 0.95)",
                                   count_rows, &r, &d),
                 AU_OK);
    CHECK(!strncmp(r.first, "2.2281|0.161", 12));
    // A write anywhere in the text is refused before the first statement runs.
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(au_estimate_query(db, "SELECT 1; DELETE FROM trials", count_rows, &r, &d),
                 AU_INVALID);
    CHECK(r.rows == 0 && strstr(d.msg, "read-only") && strstr(d.msg, "DELETE FROM trials"));
    CHECK_EQ_INT(au_estimate_query(db, "ATTACH 'x.db' AS x", count_rows, &r, &d), AU_INVALID);
    CHECK_EQ_INT(au_estimate_query(db, "SELEC 1", count_rows, &r, &d), AU_INVALID);
    CHECK(strstr(d.msg, path) && strstr(d.msg, "syntax error"));
    CHECK_EQ_INT(au_estimate_query(db, " -- nothing\n", count_rows, &r, &d), AU_INVALID);
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(au_estimate_query(db, "SELECT count(*) FROM trials", count_rows, &r, &d), AU_OK);
    CHECK(!strcmp(r.first, "18|NULL")); // nothing was deleted
}

static void test_open_errors(const char *dir)
{
    struct au_diag d = {{0}};
    au_estimate_db *db = NULL;
    char path[512];
    snprintf(path, sizeof(path), "%s/missing.db", dir);
    CHECK(au_estimate_open(path, &db, &d) < 0 && db == NULL && strstr(d.msg, "missing.db"));
    snprintf(path, sizeof(path), "%s/garbage.db", dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("this is not a database, just text long enough to be read", f);
        fclose(f);
    }
    CHECK(au_estimate_open(path, &db, &d) < 0 && db == NULL && strstr(d.msg, "garbage.db"));
}

/* Runs the CLI (AURUM_CLI) with a shell command line; returns its exit status and stdout. */
static int run_cli(const char *args, char *out, size_t len)
{
    const char *cli = getenv("AURUM_CLI");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", cli, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(const char *db)
{
    if (!getenv("AURUM_CLI")) {
        printf("test_stats: AURUM_CLI not set, skipping the CLI checks\n");
        return;
    }
    char out[8192], args[1024];
    CHECK_EQ_INT(run_cli("plan --sites 1000 --margin 0.05 --confidence 0.95", out, sizeof(out)), 0);
    CHECK(strstr(out, "trials: 278") != NULL);
    CHECK_EQ_INT(run_cli("plan --sites 100 --margin 2", out, sizeof(out)), 2);
    CHECK(strstr(out, "--margin must be in (0, 1)") != NULL);
    snprintf(args, sizeof(args), "plan --pilot '%s' --campaign pl --margin 0.1 --confidence 0.95",
             db);
    CHECK_EQ_INT(run_cli(args, out, sizeof(out)), 0);
    // fc: s = sd(1, 3, 0, 0) = 1.4142; (1.96 * 1.4142 / 0.1)^2 = 768.3 -> 769
    CHECK(strstr(out, "fc") && strstr(out, " 769\n"));
    // Sites counted from a campaign as the runner plans it: conv1's fp16 activations are
    // 6 x 28 x 28 elements x 16 bits per input sample.
    const char *root = getenv("AURUM_SOURCE_ROOT");
    snprintf(args, sizeof(args), "%s/models/lenet5.onnx", root ? root : ".");
    if (root && access(args, R_OK) == 0) {
        snprintf(args, sizeof(args), "plan '%s/campaigns/examples/goldeneye-lenet5-fp16.json'",
                 root);
        CHECK_EQ_INT(run_cli(args, out, sizeof(out)), 0);
        char want[128];
        snprintf(want, sizeof(want), "%d %10.0f  2560 (too few)\n", 6 * 28 * 28 * 16,
                 ceil(au_stats_leveugle_n(6 * 28 * 28 * 16, 0.01, 0.99, 0.5)));
        CHECK(strstr(out, "/features/features.0/Conv (activations)") && strstr(out, want));
    } else {
        printf("test_stats: models/lenet5.onnx not found, skipping 'aurum plan campaign.json'\n");
    }
    snprintf(args, sizeof(args), "query '%s' \"SELECT name, level FROM campaigns\" --csv", db);
    CHECK_EQ_INT(run_cli(args, out, sizeof(out)), 0);
    CHECK(!strcmp(out, "name,level\npl,0.95\npw,0.99\n"));
    snprintf(args, sizeof(args), "query '%s' \"SELECT name, level FROM campaigns\"", db);
    CHECK_EQ_INT(run_cli(args, out, sizeof(out)), 0);
    CHECK(strstr(out, "name  level\n----  -----\npl     0.95\npw     0.99\n(2 rows)") != NULL);
    snprintf(args, sizeof(args), "query '%s' \"UPDATE campaigns SET name = 'x'\"", db);
    CHECK_EQ_INT(run_cli(args, out, sizeof(out)), 1);
    CHECK(strstr(out, "aurum: ") == out && strstr(out, "read-only") && !strchr(out, '\n')[1]);
}

/* Allocation failing at every site of au_estimate_find: an error saying so, or the full
 * answer; never a campaign silently read as "does not parse" (process -1). */
static void test_find_under_allocation_failures(au_estimate_db *db)
{
    int n_ok = 0, n_nomem = 0;
    for (long k = 1; k < 400 && n_ok < 3; k++) {
        struct au_estimate_campaign c;
        struct au_diag d = {{0}};
        au_alloc_fail_after(k);
        int rc = au_estimate_find(db, "pw", &c, &d);
        au_alloc_fail_after(0);
        if (rc == AU_OK) {
            n_ok++;
            CHECK(c.process == AU_CAMPAIGN_POISSON && c.timing == AU_CAMPAIGN_MODEL_WIDE);
            CHECK(c.conditioned);
        } else {
            n_nomem++;
            CHECK_EQ_INT(rc, AU_NOMEM);
            CHECK(strstr(d.msg, "out of memory") != NULL);
        }
    }
    CHECK(n_ok == 3 && n_nomem > 3); // several sites inside the JSON parse failed
}

/* A campaign that resumes (status back to running) and appends trials while a snapshot is
 * open: the snapshot keeps seeing the file as it was, both for the estimates and for
 * au_estimate_query; after au_estimate_end the new trials appear. Then the report of the
 * running campaign: consistent totals, marked partial. */
static void test_snapshot_of_a_running_campaign(const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/snapshot.db", dir);
    CHECK(write_db(path));
    au_estimate_db *db = NULL;
    struct au_diag d = {{0}};
    if (au_estimate_open(path, &db, &d) != AU_OK) {
        CHECK(!"open the snapshot database");
        return;
    }
    struct au_estimate_campaign c;
    CHECK_EQ_INT(au_estimate_begin(db, &d), AU_OK);
    CHECK_EQ_INT(au_estimate_begin(db, &d), AU_INVALID);
    CHECK(strstr(d.msg, "snapshot is already open") != NULL);
    // The runner's side: resume "pl" and append two trials (layer 0, activations).
    au_store *s;
    int64_t cid = -1;
    bool resumed = false;
    struct au_store_campaign_info a = {"pl", json_per_layer, "00", "test", 1, 0.95};
    struct au_store_trial t[2] = {trial(100, 0, AU_STORE_TENSOR_ACT, 0.5, false),
                                  trial(101, 0, AU_STORE_TENSOR_ACT, 0.0, false)};
    bool ok = au_store_open(path, 0, &s, &d) == AU_OK;
    ok = ok && au_store_campaign_begin(s, &a, &cid, &resumed, &d) == AU_OK && resumed;
    ok = ok && au_store_trials_add(s, cid, t, 2, NULL, 0, &d) == AU_OK;
    CHECK(ok); // the writer is never blocked by the open snapshot (WAL)
    if (!ok)
        fprintf(stderr, "snapshot writer: %s\n", d.msg);
    CHECK_EQ_INT(au_estimate_find(db, "pl", &c, &d), AU_OK);
    CHECK_EQ_INT(c.n_trials, 12);
    CHECK(!strcmp(c.status, "done"));
    struct au_estimate *r = NULL;
    size_t n = 0;
    CHECK_EQ_INT(au_estimate_layers(db, &c, NULL, &r, &n, &d), AU_OK);
    CHECK(n == 2 && r[0].n_trials == 8);
    au_free(r);
    struct rows rows = {0};
    CHECK_EQ_INT(au_estimate_query(db, "SELECT * FROM trials", count_rows, &rows, &d), AU_OK);
    CHECK_EQ_INT(rows.rows, 12 + 6);
    au_estimate_end(db);
    au_estimate_end(db); // no snapshot: nothing to do
    CHECK_EQ_INT(au_estimate_find(db, "pl", &c, &d), AU_OK);
    CHECK_EQ_INT(c.n_trials, 14);
    CHECK(!strcmp(c.status, "running"));
    au_estimate_close(db);
    struct au_report *rep = NULL;
    CHECK_EQ_INT(au_report_load(path, "pl", NULL, &rep, &d), AU_OK);
    if (rep) {
        int64_t sum = 0;
        for (size_t i = 0; i < rep->n_layers; i++)
            sum += rep->layers[i].n_trials;
        CHECK(rep->partial && rep->total.n_trials == 14 && sum == 14);
        CHECK(strstr(rep->summary[0], "Partial results: the campaign is still running") != NULL);
        CHECK(strstr(rep->summary[0], "14 trials") != NULL);
    }
    au_report_free(rep);
    if (ok)
        au_store_campaign_end(s, cid, AU_STORE_INTERRUPTED, "interrupted by the test", &d);
    au_store_close(s);
    CHECK_EQ_INT(au_report_load(path, "pl", NULL, &rep, &d), AU_OK);
    CHECK(rep && rep->partial &&
          strstr(rep->summary[0], "status is 'interrupted' (interrupted by the test)") != NULL);
    au_report_free(rep);
    CHECK_EQ_INT(au_report_load(path, "pw", NULL, &rep, &d), AU_OK); // done: no such sentence
    CHECK(rep && !rep->partial && strncmp(rep->summary[0], "Partial", 7) != 0);
    au_report_free(rep);
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
    char dir[] = "/tmp/aurum_test_stats_XXXXXX", path[600];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/results.db", dir);
    au_estimate_db *db = NULL;
    struct au_diag d = {{0}};
    bool ok = write_db(path);
    CHECK(ok);
    if (ok && au_estimate_open(path, &db, &d) == AU_OK) {
        test_layer_estimates(db);
        test_poisson_model_estimate(db);
        test_queries_are_read_only(db, path);
        test_find_under_allocation_failures(db);
        au_estimate_close(db);
        test_cli(path);
    } else {
        CHECK(!"open the test database");
        fprintf(stderr, "%s\n", d.msg);
    }
    test_open_errors(dir);
    test_snapshot_of_a_running_campaign(dir);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_report("test_stats");
}
