/* Statistics for fault-injection results (shared/specs/fault-model.md): quantiles of the
 * normal and Student-t laws, the regularized incomplete beta, intervals for a mean and
 * for a rate (Wilson, Clopper-Pearson, normal), and sample sizes. Pure functions of
 * their arguments: no allocation, no state, thread-safe. A bad argument (level outside
 * (0,1), n < 0, k > n, ...) gives NaN, never a crash; callers name the field.
 *
 *   struct au_stats_acc a = {0};
 *   for (i = 0; i < n; i++) au_stats_acc_add(&a, dloss[i]);      // Welford
 *   struct au_stats_mean m;
 *   au_stats_mean_ci(&a, 0.99, &m);                             // m.t_lo, m.t_hi
 *   double lo, hi;
 *   au_stats_rate_ci(AU_STATS_WILSON, k, n, 0.99, &lo, &hi);
 *   double trials = au_stats_leveugle_n(sites, 0.01, 0.99, 0.5); // round up
 */
#ifndef AU_ANALYSIS_STATS_H
#define AU_ANALYSIS_STATS_H

#include <stdint.h>

/* Interval for a rate. Persisted by name ("wilson"); append only. */
enum au_stats_method {
    AU_STATS_WILSON,          /* score interval: the default, good near 0 */
    AU_STATS_CLOPPER_PEARSON, /* exact (conservative): beta quantiles */
    AU_STATS_NORMAL,          /* Wald, GoldenEye's: under-covers near 0 */
    AU_STATS_METHOD_COUNT
};

/* Running moments of a sample (Welford: no cancellation when values are huge, as
 * exponent flips make them). Zero-initialize, then add. */
struct au_stats_acc {
    int64_t n;
    double mean, m2, abs_sum;
};

/* A mean with its intervals at one level. Fields that need n >= 2 are NaN below. */
struct au_stats_mean {
    int64_t n;
    double mean, var, sd, se; /* var unbiased (n - 1) */
    double mean_abs;
    double z, t;       /* quantiles used */
    double z_lo, z_hi; /* mean -+ z se (normal, GoldenEye's) */
    double t_lo, t_hi; /* mean -+ t_{n-1} se (Student-t) */
};

/* ---- distributions ---- */
double au_stats_norm_cdf(double x);
double au_stats_norm_ppf(double p);                     /* Phi^-1(p), p in (0,1) */
double au_stats_z(double level);                        /* Phi^-1(1 - (1 - level)/2) */
double au_stats_t_cdf(double t, double df);             /* P(T <= t), df > 0 */
double au_stats_t(double level, double df);             /* two-sided t quantile, df > 0 */
double au_stats_betai(double a, double b, double x);    /* I_x(a, b), a, b > 0 */
double au_stats_beta_ppf(double p, double a, double b); /* x with I_x(a, b) = p */

/* ---- intervals ---- */
/* Interval for k successes of n trials (k may be fractional: a language model's mean
 * fraction of changed positions). n = 0 gives [0, 1]. Returns 0, or AU_INVALID with
 * NaN bounds for a bad method, level, k or n. */
int au_stats_rate_ci(int method, double k, double n, double level, double *lo, double *hi);
void au_stats_wilson(double k, double n, double level, double *lo, double *hi);
void au_stats_clopper_pearson(double k, double n, double level, double *lo, double *hi);
void au_stats_normal_rate(double k, double n, double level, double *lo, double *hi);
/* "wilson", "clopper-pearson", "normal"; NULL for a bad method. */
const char *au_stats_method_name(int method);
/* Parses a method name (also "cp", "exact", "wald"); AU_INVALID if unknown. */
int au_stats_method_parse(const char *name, int *method);

/* ---- means ---- */
void au_stats_acc_add(struct au_stats_acc *a, double x);
/* Combines two accumulators (Chan et al.): into += from. */
void au_stats_acc_merge(struct au_stats_acc *into, const struct au_stats_acc *from);
/* Mean, unbiased variance and both intervals at level. n = 0: everything NaN. */
void au_stats_mean_ci(const struct au_stats_acc *a, double level, struct au_stats_mean *out);
/* Multiplies the estimate and its bounds by f >= 0 (Poisson conditioning: E[L] =
 * P(N >= 1) E[L | N >= 1]); var, sd and se scale too. */
void au_stats_mean_scale(struct au_stats_mean *m, double f);

/* ---- sample sizes (real numbers: round up) ---- */
/* Leveugle et al. (DATE 2009): trials for a rate within margin e at level over a
 * population of n_sites fault sites, n = N / (1 + e^2 (N - 1) / (z^2 p (1 - p))).
 * p = 0.5 when unknown (the worst case). n_sites = INFINITY gives z^2 p (1 - p) / e^2. */
double au_stats_leveugle_n(double n_sites, double margin, double level, double p);
/* Trials for a mean within margin e from a pilot standard deviation: (z s / e)^2. */
double au_stats_mean_n(double sd, double margin, double level);

#endif
