/* Quantiles, intervals and sample sizes (fault-model.md, "Intervals"). Everything is in
 * double precision from libm's erfc and lgamma: the normal quantile by Acklam's formula
 * polished by a Halley step, the incomplete beta by its continued fraction (modified
 * Lentz), and the t and beta quantiles by Newton steps kept inside a bisection bracket,
 * so a bad start can slow them down but never send them off. */
#include "stats.h"

#include "core/status.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static bool level_ok(double level)
{
    return level > 0 && level < 1;
}

/* ---- normal ---------------------------------------------------------------------------- */

double au_stats_norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* Acklam's rational approximation (relative error 1e-9) refined by one Halley step on
 * erfc, which brings it to about 1e-15. */
double au_stats_norm_ppf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double e[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (!(p >= 0 && p <= 1))
        return NAN;
    if (p == 0 || p == 1)
        return p == 0 ? -INFINITY : INFINITY;
    double x, q, r;
    if (p < 0.02425 || p > 1 - 0.02425) {
        q = sqrt(-2 * log(p < 0.5 ? p : 1 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((e[0] * q + e[1]) * q + e[2]) * q + e[3]) * q + 1);
        x = p < 0.5 ? x : -x;
    } else {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    // The upper tail is refined on its own complement so p close to 1 keeps its digits.
    double err = p < 0.5 ? au_stats_norm_cdf(x) - p : (1 - p) - au_stats_norm_cdf(-x);
    double u = err * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

double au_stats_z(double level)
{
    if (!level_ok(level))
        return NAN;
    return -au_stats_norm_ppf((1 - level) / 2);
}

/* ---- incomplete beta ------------------------------------------------------------------- */

static double lentz_guard(double v)
{
    const double tiny = 1e-300;
    return fabs(v) < tiny ? tiny : v;
}

/* Continued fraction of I_x(a, b) (Numerical Recipes' betacf, modified Lentz): converges
 * fast for x < (a + 1) / (a + b + 2), in O(sqrt(max(a, b))) terms. */
static double betacf(double a, double b, double x)
{
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 / lentz_guard(1 - qab * x / qap), h = d;
    for (int m = 1; m <= 200000; m++) {
        double m2 = 2.0 * m, aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 / lentz_guard(1 + aa * d);
        c = lentz_guard(1 + aa / c);
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 / lentz_guard(1 + aa * d);
        c = lentz_guard(1 + aa / c);
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16)
            break;
    }
    return h;
}

static double lbeta(double a, double b)
{
    return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/* lgamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2), Stirling's series: 1e-14 from 10 on. */
static double stirling_corr(double x)
{
    double r = 1 / x, r2 = r * r;
    return r * (1 / 12.0 - r2 * (1 / 360.0 - r2 * (1 / 1260.0 - r2 * (1 / 1680.0 - r2 / 1188.0))));
}

/* log(x^a (1 - x)^b / B(a, b)). With lgamma directly, log B(1, 1e6) is a difference of
 * two numbers near 1.3e7 and loses 9 digits; Stirling's formula lets the large terms
 * cancel on paper instead (as Temme and Boost do). */
static double log_front(double a, double b, double x)
{
    const double half_log_2pi = 0.91893853320467274178;
    double s = a + b;
    if (a >= 10 && b >= 10) {
        double d = x * s - a; // x s / a = 1 + d / a and (1 - x) s / b = 1 - d / b
        return a * log1p(d / a) + b * log1p(-d / b) + 0.5 * log(a * b / s) - half_log_2pi -
               (stirling_corr(a) + stirling_corr(b) - stirling_corr(s));
    }
    if (a >= 10 || b >= 10) {
        double big = a >= 10 ? a : b, small = a >= 10 ? b : a;
        // lgamma(big) - lgamma(s), cancelled by hand
        double diff = -(big - 0.5) * log1p(small / big) - small * log(s) + small +
                      stirling_corr(big) - stirling_corr(s);
        return a * log(x) + b * log1p(-x) - lgamma(small) - diff;
    }
    return a * log(x) + b * log1p(-x) - lbeta(a, b);
}

double au_stats_betai(double a, double b, double x)
{
    if (!(a > 0 && b > 0) || isnan(x))
        return NAN;
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double front = exp(log_front(a, b, x));
    if (x < (a + 1) / (a + b + 2))
        return front * betacf(a, b, x) / a;
    return 1 - front * betacf(b, a, 1 - x) / b;
}

/* Newton on I_x(a, b) = p inside [lo, hi]; a step leaving the bracket bisects instead
 * (geometrically when the bracket spans decades, so tiny roots are found quickly). */
double au_stats_beta_ppf(double p, double a, double b)
{
    if (!(a > 0 && b > 0) || !(p >= 0 && p <= 1))
        return NAN;
    if (p == 0 || p == 1)
        return p;
    double lo = 0, hi = 1, x = a / (a + b), lb = lbeta(a, b);
    for (int it = 0; it < 500; it++) {
        double f = au_stats_betai(a, b, x) - p;
        if (f == 0)
            return x;
        if (f < 0)
            lo = x;
        else
            hi = x;
        double lpdf = (a - 1) * log(x) + (b - 1) * log1p(-x) - lb;
        double next = x - f / exp(lpdf);
        if (!(next > lo && next < hi))
            next = lo > 0 && hi / lo > 1e3 ? sqrt(lo * hi) : lo == 0 ? hi / 16 : 0.5 * (lo + hi);
        if (fabs(next - x) <= 1e-15 * x || hi - lo <= 1e-15 * hi)
            return next;
        x = next;
    }
    return x;
}

/* ---- Student t ------------------------------------------------------------------------- */

/* P(|T| > t) for t >= 0. */
static double t_two_tail(double t, double df)
{
    return au_stats_betai(df / 2, 0.5, df / (df + t * t));
}

double au_stats_t_cdf(double t, double df)
{
    if (!(df > 0) || isnan(t))
        return NAN;
    double half = 0.5 * t_two_tail(fabs(t), df);
    return t > 0 ? 1 - half : half;
}

/* Cornish-Fisher expansion of the t quantile in 1/df: error O(df^-5), about 1e-16 from
 * df = 2000 on, where the continued fraction (O(sqrt(df)) terms) starts losing digits. */
static double t_cornish_fisher(double z, double df)
{
    double z2 = z * z;
    double g1 = (z2 + 1) * z / 4, g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
    double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
    double g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
    return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df;
}

double au_stats_t(double level, double df)
{
    if (!level_ok(level) || !(df > 0))
        return NAN;
    double z = au_stats_z(level);
    if (df > 2000)
        return t_cornish_fisher(z, df);
    double alpha = 1 - level, lo = 0, hi = z + 1;
    while (t_two_tail(hi, df) > alpha && hi < 1e300)
        hi *= 2;
    double lpdf = lgamma((df + 1) / 2) - lgamma(df / 2) - 0.5 * log(df * M_PI);
    double t = z; // t > z always; a start inside the bracket
    for (int it = 0; it < 300; it++) {
        double f = t_two_tail(t, df) - alpha;
        if (f == 0)
            return t;
        if (f > 0)
            lo = t;
        else
            hi = t;
        double pdf = exp(lpdf - (df + 1) / 2 * log1p(t * t / df));
        double next = t + f / (2 * pdf);
        if (fabs(next - t) <= 1e-15 * t)
            return next;
        t = (next > lo && next < hi) ? next : 0.5 * (lo + hi);
    }
    return t;
}

/* ---- intervals for a rate -------------------------------------------------------------- */

static bool rate_args_ok(double k, double n, double level)
{
    return level_ok(level) && n >= 0 && isfinite(n) && k >= 0 && k <= n;
}

static void set_bounds(double *lo, double *hi, double l, double h)
{
    *lo = l;
    *hi = h;
}

void au_stats_wilson(double k, double n, double level, double *lo, double *hi)
{
    if (!rate_args_ok(k, n, level)) {
        set_bounds(lo, hi, NAN, NAN);
        return;
    }
    if (n == 0) {
        set_bounds(lo, hi, 0, 1);
        return;
    }
    double z = au_stats_z(level), p = k / n, z2 = z * z, den = 1 + z2 / n;
    double centre = (p + z2 / (2 * n)) / den;
    double half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den;
    // The ends are exact on paper; rounding must not move them off 0 and 1.
    set_bounds(lo, hi, k == 0 ? 0 : fmax(0, centre - half), k == n ? 1 : fmin(1, centre + half));
}

void au_stats_clopper_pearson(double k, double n, double level, double *lo, double *hi)
{
    if (!rate_args_ok(k, n, level)) {
        set_bounds(lo, hi, NAN, NAN);
        return;
    }
    if (n == 0) {
        set_bounds(lo, hi, 0, 1);
        return;
    }
    double alpha = 1 - level;
    // Closed forms at the ends: they are also where the beta quantile is least accurate.
    double l = k == 0   ? 0
               : k == n ? pow(alpha / 2, 1 / n)
                        : au_stats_beta_ppf(alpha / 2, k, n - k + 1);
    double h = k == n   ? 1
               : k == 0 ? -expm1(log(alpha / 2) / n)
                        : au_stats_beta_ppf(1 - alpha / 2, k + 1, n - k);
    set_bounds(lo, hi, l, h);
}

void au_stats_normal_rate(double k, double n, double level, double *lo, double *hi)
{
    if (!rate_args_ok(k, n, level)) {
        set_bounds(lo, hi, NAN, NAN);
        return;
    }
    if (n == 0) {
        set_bounds(lo, hi, 0, 1);
        return;
    }
    double p = k / n, half = au_stats_z(level) * sqrt(p * (1 - p) / n);
    set_bounds(lo, hi, fmax(0, p - half), fmin(1, p + half));
}

int au_stats_rate_ci(int method, double k, double n, double level, double *lo, double *hi)
{
    switch (method) {
    case AU_STATS_WILSON:
        au_stats_wilson(k, n, level, lo, hi);
        break;
    case AU_STATS_CLOPPER_PEARSON:
        au_stats_clopper_pearson(k, n, level, lo, hi);
        break;
    case AU_STATS_NORMAL:
        au_stats_normal_rate(k, n, level, lo, hi);
        break;
    default:
        set_bounds(lo, hi, NAN, NAN);
        return AU_INVALID;
    }
    return isnan(*lo) ? AU_INVALID : AU_OK;
}

static const char *const method_names[] = {"wilson", "clopper-pearson", "normal"};

const char *au_stats_method_name(int method)
{
    return method >= 0 && method < AU_STATS_METHOD_COUNT ? method_names[method] : NULL;
}

int au_stats_method_parse(const char *name, int *method)
{
    static const struct {
        const char *name;
        int method;
    } names[] = {{"wilson", AU_STATS_WILSON},
                 {"clopper-pearson", AU_STATS_CLOPPER_PEARSON},
                 {"clopper_pearson", AU_STATS_CLOPPER_PEARSON},
                 {"cp", AU_STATS_CLOPPER_PEARSON},
                 {"exact", AU_STATS_CLOPPER_PEARSON},
                 {"normal", AU_STATS_NORMAL},
                 {"wald", AU_STATS_NORMAL}};
    for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(name, names[i].name)) {
            *method = names[i].method;
            return AU_OK;
        }
    return AU_INVALID;
}

/* ---- means ----------------------------------------------------------------------------- */

void au_stats_acc_add(struct au_stats_acc *a, double x)
{
    a->n++;
    double delta = x - a->mean;
    a->mean += delta / (double)a->n;
    a->m2 += delta * (x - a->mean);
    a->abs_sum += fabs(x);
}

void au_stats_acc_merge(struct au_stats_acc *into, const struct au_stats_acc *from)
{
    if (!from->n)
        return;
    if (!into->n) {
        *into = *from;
        return;
    }
    double na = (double)into->n, nb = (double)from->n, n = na + nb;
    double delta = from->mean - into->mean;
    into->mean += delta * nb / n;
    into->m2 += from->m2 + delta * delta * na * nb / n;
    into->abs_sum += from->abs_sum;
    into->n += from->n;
}

void au_stats_mean_ci(const struct au_stats_acc *a, double level, struct au_stats_mean *out)
{
    double n = (double)a->n;
    out->n = a->n;
    out->mean = a->n ? a->mean : NAN;
    out->mean_abs = a->n ? a->abs_sum / n : NAN;
    out->var = a->n > 1 ? a->m2 / (n - 1) : NAN;
    out->sd = sqrt(out->var);
    out->se = sqrt(out->var / n);
    out->z = au_stats_z(level);
    out->t = a->n > 1 ? au_stats_t(level, n - 1) : NAN;
    out->z_lo = out->mean - out->z * out->se;
    out->z_hi = out->mean + out->z * out->se;
    out->t_lo = out->mean - out->t * out->se;
    out->t_hi = out->mean + out->t * out->se;
}

void au_stats_mean_scale(struct au_stats_mean *m, double f)
{
    m->mean *= f;
    m->mean_abs *= f;
    m->var *= f * f;
    m->sd *= f;
    m->se *= f;
    m->z_lo *= f;
    m->z_hi *= f;
    m->t_lo *= f;
    m->t_hi *= f;
}

/* ---- sample sizes ---------------------------------------------------------------------- */

double au_stats_leveugle_n(double n_sites, double margin, double level, double p)
{
    if (!(n_sites >= 1) || !(margin > 0 && margin < 1) || !level_ok(level) || !(p > 0 && p < 1))
        return NAN;
    double z = au_stats_z(level), v = z * z * p * (1 - p);
    if (isinf(n_sites))
        return v / (margin * margin);
    return n_sites / (1 + margin * margin * (n_sites - 1) / v);
}

double au_stats_mean_n(double sd, double margin, double level)
{
    if (!(sd >= 0) || !isfinite(sd) || !(margin > 0) || !level_ok(level))
        return NAN;
    double r = au_stats_z(level) * sd / margin;
    return r * r;
}
