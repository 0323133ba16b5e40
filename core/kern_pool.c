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

void au_kern_maxpool2d(const struct au_win2d *g, int64_t n_planes, const float *x, float *y,
                       void *scratch)
{
    struct col_ranges cr = col_ranges_init(g, scratch);
    for (int64_t p = 0; p < n_planes; p++) {
        const float *xp = x + p * g->h * g->w;
        float *yp = y + p * g->oh * g->ow;
        for (int64_t oh = 0; oh < g->oh; oh++)
            max_row(g, cr, xp, oh, yp + oh * g->ow);
    }
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

void au_kern_avgpool2d(const struct au_win2d *g, int64_t n_planes, bool count_include_pad,
                       const float *x, float *y, void *scratch)
{
    struct col_ranges cr = col_ranges_init(g, scratch);
    /* Divisor region: the input, or the input with its explicit padding. Taps past the
     * padded end (ceil_mode overhang) never count, as in PyTorch and onnx.reference. */
    int64_t ha = count_include_pad ? -g->pt : 0, hb = g->h + (count_include_pad ? g->pb : 0);
    int64_t wa = count_include_pad ? -g->pl : 0, wb = g->w + (count_include_pad ? g->pr : 0);
    /* Columns whose whole window lies in [wa, wb) have divisor kw: skip the closed form. */
    int64_t in_lo, in_hi;
    au_kern_range(-g->pl - wa, g->sw, wb - wa - (g->kw - 1) * g->dw, g->ow, &in_lo, &in_hi);
    for (int64_t p = 0; p < n_planes; p++) {
        const float *xp = x + p * g->h * g->w;
        for (int64_t oh = 0; oh < g->oh; oh++) {
            float *yrow = y + (p * g->oh + oh) * g->ow;
            sum_row(g, cr, xp, oh, yrow);
            int64_t ch = tap_count(oh, g->sh, g->pt, g->kh, g->dh, ha, hb);
            for (int64_t o = 0; o < in_lo; o++)
                yrow[o] /= (float)(ch * tap_count(o, g->sw, g->pl, g->kw, g->dw, wa, wb));
            float div = (float)(ch * g->kw);
            for (int64_t o = in_lo; o < in_hi; o++)
                yrow[o] /= div;
            for (int64_t o = in_hi; o < g->ow; o++)
                yrow[o] /= (float)(ch * tap_count(o, g->sw, g->pl, g->kw, g->dw, wa, wb));
        }
    }
}

void au_kern_global_pool(int64_t n_planes, int64_t plane_len, bool is_max, const float *x, float *y)
{
    for (int64_t p = 0; p < n_planes; p++) {
        const float *xp = x + p * plane_len;
        if (is_max) {
            float m = -INFINITY;
            for (int64_t i = 0; i < plane_len; i++)
                m = (xp[i] > m || xp[i] != xp[i]) ? xp[i] : m;
            y[p] = m;
        } else {
            double s = 0.0;
            for (int64_t i = 0; i < plane_len; i++)
                s += xp[i];
            y[p] = plane_len ? (float)(s / (double)plane_len) : 0.0f;
        }
    }
}
