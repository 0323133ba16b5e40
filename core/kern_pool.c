/* Pooling kernels. Each output row accumulates tap by tap over the output columns the
 * tap can reach (au_kern_range, once per call), so inner loops carry no padding tests
 * and vectorise. MaxPool propagates NaN, as PyTorch does: an injected fault must stay visible.
 * AveragePool divisors are separable (rows x columns) and computed in closed form. */
#include "kern.h"

#include <math.h>

/* Valid output column range of every kernel column, shared by all rows and planes. */
struct col_ranges {
    const int64_t *lo, *hi;
};

static struct col_ranges col_ranges_init(const struct au_win2d *g, void *scratch)
{
    int64_t *lo = scratch, *hi = lo + g->kw;
    for (int64_t kj = 0; kj < g->kw; kj++)
        au_kern_range(kj * g->dw - g->pl, g->sw, g->w, g->ow, &lo[kj], &hi[kj]);
    return (struct col_ranges){lo, hi};
}

size_t au_kern_pool_scratch(const struct au_win2d *g)
{
    return (size_t)(2 * g->kw) * sizeof(int64_t);
}

/* Max over the taps of output row oh of one plane; rows start at -INFINITY, so a window
 * with no valid tap (only possible with odd dilations) yields -inf. */
AU_KERN_CLONES
static void max_row(const struct au_win2d *g, struct col_ranges cr, const float *xp, int64_t oh,
                    float *restrict yrow)
{
    for (int64_t o = 0; o < g->ow; o++)
        yrow[o] = -INFINITY;
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ih = oh * g->sh + ki * g->dh - g->pt;
        if (ih < 0 || ih >= g->h)
            continue;
        const float *restrict xrow = xp + ih * g->w;
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t off = kj * g->dw - g->pl;
            for (int64_t o = cr.lo[kj]; o < cr.hi[kj]; o++) {
                float v = xrow[o * g->sw + off], m = yrow[o];
                yrow[o] = (v > m || v != v) ? v : m;
            }
        }
    }
}

/* One call's shared state; planes are independent, so they split across threads. */
struct pool_job {
    const struct au_win2d *g;
    struct col_ranges cr;
    const float *x;
    float *y;
    int64_t ha, hb, wa, wb; /* AveragePool divisor region */
    int64_t in_lo, in_hi;   /* columns whose divisor is the full kw */
};

static void max_planes(void *arg, int64_t lo, int64_t hi)
{
    const struct pool_job *j = arg;
    const struct au_win2d *g = j->g;
    for (int64_t p = lo; p < hi; p++) {
        const float *xp = j->x + p * g->h * g->w;
        float *yp = j->y + p * g->oh * g->ow;
        for (int64_t oh = 0; oh < g->oh; oh++)
            max_row(g, j->cr, xp, oh, yp + oh * g->ow);
    }
}

void au_kern_maxpool2d(const struct au_win2d *g, int64_t n_planes, const float *x, float *y,
                       void *scratch)
{
    struct pool_job job = {.g = g, .cr = col_ranges_init(g, scratch), .x = x, .y = y};
    au_kern_parallel(n_planes, g->oh * g->ow * g->kh * g->kw, max_planes, &job);
}

AU_KERN_CLONES
static void sum_row(const struct au_win2d *g, struct col_ranges cr, const float *xp, int64_t oh,
                    float *restrict yrow)
{
    for (int64_t o = 0; o < g->ow; o++)
        yrow[o] = 0.0f;
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ih = oh * g->sh + ki * g->dh - g->pt;
        if (ih < 0 || ih >= g->h)
            continue;
        const float *restrict xrow = xp + ih * g->w;
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t off = kj * g->dw - g->pl;
            if (g->sw == 1) {
                const float *restrict xs = xrow + off;
                for (int64_t o = cr.lo[kj]; o < cr.hi[kj]; o++)
                    yrow[o] += xs[o];
            } else {
                for (int64_t o = cr.lo[kj]; o < cr.hi[kj]; o++)
                    yrow[o] += xrow[o * g->sw + off];
            }
        }
    }
}

/* Taps of window o (start o * s - pad, k taps spaced d) inside [a, b). */
static int64_t tap_count(int64_t o, int64_t s, int64_t pad, int64_t k, int64_t d, int64_t a,
                         int64_t b)
{
    int64_t lo, hi;
    au_kern_range(o * s - pad - a, d, b - a, k, &lo, &hi);
    return hi - lo;
}

static void avg_planes(void *arg, int64_t lo, int64_t hi)
{
    const struct pool_job *j = arg;
    const struct au_win2d *g = j->g;
    for (int64_t p = lo; p < hi; p++) {
        const float *xp = j->x + p * g->h * g->w;
        for (int64_t oh = 0; oh < g->oh; oh++) {
            float *yrow = j->y + (p * g->oh + oh) * g->ow;
            sum_row(g, j->cr, xp, oh, yrow);
            int64_t ch = tap_count(oh, g->sh, g->pt, g->kh, g->dh, j->ha, j->hb);
            for (int64_t o = 0; o < j->in_lo; o++)
                yrow[o] /= (float)(ch * tap_count(o, g->sw, g->pl, g->kw, g->dw, j->wa, j->wb));
            float div = (float)(ch * g->kw);
            for (int64_t o = j->in_lo; o < j->in_hi; o++)
                yrow[o] /= div;
            for (int64_t o = j->in_hi; o < g->ow; o++)
                yrow[o] /= (float)(ch * tap_count(o, g->sw, g->pl, g->kw, g->dw, j->wa, j->wb));
        }
    }
}

void au_kern_avgpool2d(const struct au_win2d *g, int64_t n_planes, bool count_include_pad,
                       const float *x, float *y, void *scratch)
{
    /* Divisor region: the input, or the input with its explicit padding. Taps past the
     * padded end (ceil_mode overhang) never count, as in PyTorch and onnx.reference. */
    struct pool_job j = {.g = g, .cr = col_ranges_init(g, scratch), .x = x, .y = y};
    j.ha = count_include_pad ? -g->pt : 0;
    j.hb = g->h + (count_include_pad ? g->pb : 0);
    j.wa = count_include_pad ? -g->pl : 0;
    j.wb = g->w + (count_include_pad ? g->pr : 0);
    /* Columns whose whole window lies in [wa, wb) have divisor kw: skip the closed form. */
    au_kern_range(-g->pl - j.wa, g->sw, j.wb - j.wa - (g->kw - 1) * g->dw, g->ow, &j.in_lo,
                  &j.in_hi);
    au_kern_parallel(n_planes, g->oh * g->ow * g->kh * g->kw, avg_planes, &j);
}

/* Lanes of partial sums: fixed, so the summation order (and every bit) is the same on
 * every CPU, while the compiler can keep the lanes in vector registers. */
#define GP_LANES 8

AU_KERN_CLONES
static float plane_mean(const float *restrict xp, int64_t len)
{
    double lane[GP_LANES] = {0};
    int64_t i = 0;
    for (; i + GP_LANES <= len; i += GP_LANES)
        for (int j = 0; j < GP_LANES; j++)
            lane[j] += xp[i + j];
    double s = 0.0;
    for (int j = 0; j < GP_LANES; j++)
        s += lane[j];
    for (; i < len; i++)
        s += xp[i];
    return len ? (float)(s / (double)len) : 0.0f;
}

AU_KERN_CLONES
static float plane_max(const float *restrict xp, int64_t len)
{
    float lane[GP_LANES];
    for (int j = 0; j < GP_LANES; j++)
        lane[j] = -INFINITY;
    int64_t i = 0;
    for (; i + GP_LANES <= len; i += GP_LANES)
        for (int j = 0; j < GP_LANES; j++) {
            float v = xp[i + j];
            lane[j] = (v > lane[j] || v != v) ? v : lane[j];
        }
    float m = -INFINITY;
    for (int j = 0; j < GP_LANES; j++)
        m = (lane[j] > m || lane[j] != lane[j]) ? lane[j] : m;
    for (; i < len; i++)
        m = (xp[i] > m || xp[i] != xp[i]) ? xp[i] : m;
    return m;
}

struct global_job {
    const float *x;
    float *y;
    int64_t len;
    bool is_max;
};

static void global_planes(void *arg, int64_t lo, int64_t hi)
{
    const struct global_job *j = arg;
    for (int64_t p = lo; p < hi; p++)
        j->y[p] = j->is_max ? plane_max(j->x + p * j->len, j->len)
                            : plane_mean(j->x + p * j->len, j->len);
}

void au_kern_global_pool(int64_t n_planes, int64_t plane_len, bool is_max, const float *x, float *y)
{
    struct global_job job = {x, y, plane_len, is_max};
    au_kern_parallel(n_planes, plane_len, global_planes, &job);
}
