/* Pooling kernels. Each output row accumulates tap by tap over the output columns the
 * tap can reach (au_kern_range, once per call), so inner loops carry no padding tests
 * and vectorise; common MaxPool windows (2x2, 3x3) keep all taps in registers instead.
 * MaxPool propagates NaN, as PyTorch does: an injected fault must stay visible.
 * AveragePool divisors are separable (rows x columns) and computed in closed form. */
#include "kern.h"

#include <math.h>
#include <string.h>

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

/* One MaxPool step: v replaces m if larger or NaN. Folded over the taps in row-major
 * order from -inf, it gives the first largest value, or the last NaN. Every path below
 * folds in that order, so they agree to the bit, NaN payloads included. */
#define MAX_STEP(v, m) ((v) > (m) || (v) != (v) ? (v) : (m))

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
            for (int64_t o = cr.lo[kj]; o < cr.hi[kj]; o++)
                yrow[o] = MAX_STEP(xrow[o * g->sw + off], yrow[o]);
        }
    }
}

/* Outputs [o, o + n) of a row whose kernel rows are all inside the input and whose taps
 * all hit it: a K x K window of stride S, dilation 1 along the row, folded in registers.
 * The first tap needs no step (MAX_STEP(v, -inf) is v, even for v = -inf). With n a
 * constant the loop is one vector. */
static inline __attribute__((always_inline)) void
max_chunk(int k, int s, int n, const float *const *rows, int64_t off0, int64_t o, float *restrict y)
{
    for (int l = 0; l < n; l++) {
        const int64_t c = (o + l) * s + off0;
        float m = rows[0][c];
        for (int kj = 1; kj < k; kj++)
            m = MAX_STEP(rows[0][c + kj], m);
        for (int ki = 1; ki < k; ki++)
            for (int kj = 0; kj < k; kj++)
                m = MAX_STEP(rows[ki][c + kj], m);
        y[o + l] = m;
    }
}

/* Stride 2 is a deinterleave: the taps of 8 (or 4) adjacent windows are the even and
 * odd lanes of 16 (8) consecutive inputs. Explicit vectors; lane-wise MAX_STEP. */
typedef float pool_v8 __attribute__((vector_size(32)));
typedef float pool_v4 __attribute__((vector_size(16)));
typedef int32_t pool_m8 __attribute__((vector_size(32)));
typedef int32_t pool_m4 __attribute__((vector_size(16)));

static inline __attribute__((always_inline)) void step8(pool_v8 *m, const pool_v8 *v)
{
    pool_m8 k = (*v > *m) | (*v != *v);
    *m = (pool_v8)(((pool_m8)*v & k) | ((pool_m8)*m & ~k));
}

static inline __attribute__((always_inline)) void step4(pool_v4 *m, const pool_v4 *v)
{
    pool_m4 k = (*v > *m) | (*v != *v);
    *m = (pool_v4)(((pool_m4)*v & k) | ((pool_m4)*m & ~k));
}

/* Windows o .. o + 7 of a K x K (K = 2, 3) stride-2 row: taps c, c + 1, c + 2 of window
 * l are lanes l of the even and odd parts of x[c ..] and the odd part of x[c + 1 ..],
 * which reads nothing past the last tap. */
static inline __attribute__((always_inline)) void
max_s2x8(int k, const float *const *rows, int64_t off0, int64_t o, float *restrict y)
{
    pool_v8 m = {0}, t[3], a, b;
    for (int ki = 0; ki < k; ki++) {
        const float *x = rows[ki] + 2 * o + off0;
        memcpy(&a, x, sizeof(a));
        memcpy(&b, x + 8, sizeof(b));
        t[0] = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
        t[1] = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
        if (k == 3) {
            memcpy(&a, x + 1, sizeof(a));
            memcpy(&b, x + 9, sizeof(b));
            t[2] = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
        }
        for (int kj = 0; kj < k; kj++) {
            if (ki == 0 && kj == 0)
                m = t[0];
            else
                step8(&m, &t[kj]);
        }
    }
    memcpy(y + o, &m, sizeof(m));
}

/* The same for windows o .. o + 3. */
static inline __attribute__((always_inline)) void
max_s2x4(int k, const float *const *rows, int64_t off0, int64_t o, float *restrict y)
{
    pool_v4 m = {0}, t[3], a, b;
    for (int ki = 0; ki < k; ki++) {
        const float *x = rows[ki] + 2 * o + off0;
        memcpy(&a, x, sizeof(a));
        memcpy(&b, x + 4, sizeof(b));
        t[0] = __builtin_shufflevector(a, b, 0, 2, 4, 6);
        t[1] = __builtin_shufflevector(a, b, 1, 3, 5, 7);
        if (k == 3) {
            memcpy(&a, x + 1, sizeof(a));
            memcpy(&b, x + 5, sizeof(b));
            t[2] = __builtin_shufflevector(a, b, 1, 3, 5, 7);
        }
        for (int kj = 0; kj < k; kj++) {
            if (ki == 0 && kj == 0)
                m = t[0];
            else
                step4(&m, &t[kj]);
        }
    }
    memcpy(y + o, &m, sizeof(m));
}

/* Outputs [a, b) in whole vectors, the last one ending at b: outputs computed twice come
 * out the same, and short rows (LeNet's are 14 and 5 wide) need no scalar tail. */
static inline __attribute__((always_inline)) void max_fused(int k, int s, const float *const *rows,
                                                            int64_t off0, int64_t a, int64_t b,
                                                            float *restrict y)
{
    int64_t o = a;
    if (b - a >= 8) {
        for (; o + 8 <= b; o += 8)
            if (s == 2)
                max_s2x8(k, rows, off0, o, y);
            else
                max_chunk(k, s, 8, rows, off0, o, y);
        if (o < b && s == 2)
            max_s2x8(k, rows, off0, b - 8, y);
        else if (o < b)
            max_chunk(k, s, 8, rows, off0, b - 8, y);
    } else if (b - a >= 4 && s == 2) {
        max_s2x4(k, rows, off0, a, y);
        max_s2x4(k, rows, off0, b - 4, y);
    } else if (b - a >= 4) {
        max_chunk(k, s, 4, rows, off0, a, y);
        max_chunk(k, s, 4, rows, off0, b - 4, y);
    } else {
        for (; o < b; o++)
            max_chunk(k, s, 1, rows, off0, o, y);
    }
}

/* Output o of a row whose kernel rows are all inside the input (a padded edge column). */
static float max_edge(const struct au_win2d *g, const float *const *rows, int64_t o)
{
    float m = -INFINITY;
    for (int64_t ki = 0; ki < g->kh; ki++) {
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t iw = o * g->sw + kj * g->dw - g->pl;
            if (iw >= 0 && iw < g->w)
                m = MAX_STEP(rows[ki][iw], m);
        }
    }
    return m;
}

/* One call's shared state; planes are independent, so they split across threads. */
struct pool_job {
    const struct au_win2d *g;
    struct col_ranges cr;
    const float *x;
    float *y;
    int64_t ha, hb, wa, wb; /* AveragePool divisor region */
    int64_t in_lo, in_hi;   /* AveragePool: columns whose divisor is the full kw;
                             * MaxPool: columns all of whose taps hit the input */
};

/* Rows of one plane for a fused K x K stride-S window: rows whose kernel rows are all
 * inside the input take the fused interior and edge columns, the rest go tap by tap. */
static inline __attribute__((always_inline)) void max_rows(int k, int s, const struct pool_job *j,
                                                           const float *xp, float *yp)
{
    const struct au_win2d *g = j->g;
    for (int64_t oh = 0; oh < g->oh; oh++) {
        int64_t ih0 = oh * g->sh - g->pt;
        float *yrow = yp + oh * g->ow;
        if (ih0 < 0 || ih0 + (k - 1) * g->dh >= g->h) {
            max_row(g, j->cr, xp, oh, yrow);
            continue;
        }
        const float *rows[3];
        for (int ki = 0; ki < k; ki++)
            rows[ki] = xp + (ih0 + ki * g->dh) * g->w;
        max_fused(k, s, rows, -g->pl, j->in_lo, j->in_hi, yrow);
        for (int64_t o = 0; o < j->in_lo; o++)
            yrow[o] = max_edge(g, rows, o);
        for (int64_t o = j->in_hi; o < g->ow; o++)
            yrow[o] = max_edge(g, rows, o);
    }
}

/* One plane: a fused window if g has one (square, 2 or 3 wide, stride 1 or 2, no
 * dilation along the row, and some column whose taps all hit the input), else tap by tap. */
AU_KERN_CLONES
static void max_plane(const struct pool_job *j, const float *xp, float *yp)
{
    const struct au_win2d *g = j->g;
    bool fits = g->kh == g->kw && g->dw == 1 && j->in_lo < j->in_hi;
    if (fits && g->kh == 2 && g->sw == 2)
        max_rows(2, 2, j, xp, yp);
    else if (fits && g->kh == 3 && g->sw == 2)
        max_rows(3, 2, j, xp, yp);
    else if (fits && g->kh == 3 && g->sw == 1)
        max_rows(3, 1, j, xp, yp);
    else if (fits && g->kh == 2 && g->sw == 1)
        max_rows(2, 1, j, xp, yp);
    else
        for (int64_t oh = 0; oh < g->oh; oh++)
            max_row(g, j->cr, xp, oh, yp + oh * g->ow);
}

static void max_planes(void *arg, int64_t lo, int64_t hi)
{
    const struct pool_job *j = arg;
    const struct au_win2d *g = j->g;
    for (int64_t p = lo; p < hi; p++)
        max_plane(j, j->x + p * g->h * g->w, j->y + p * g->oh * g->ow);
}

void au_kern_maxpool2d(const struct au_win2d *g, int64_t n_planes, const float *x, float *y,
                       void *scratch)
{
    struct pool_job job = {.g = g, .cr = col_ranges_init(g, scratch), .x = x, .y = y};
    job.in_lo = 0;
    job.in_hi = g->ow;
    for (int64_t kj = 0; kj < g->kw; kj++) {
        job.in_lo = job.cr.lo[kj] > job.in_lo ? job.cr.lo[kj] : job.in_lo;
        job.in_hi = job.cr.hi[kj] < job.in_hi ? job.cr.hi[kj] : job.in_hi;
    }
    au_kern_parallel(n_planes, g->oh * g->ow * g->kh * g->kw, max_planes, &job);
}

/* One output of a plane, tap by tap in the order every path folds (MAX_STEP from -inf). */
static float max_at(const struct au_win2d *g, const float *xp, int64_t oh, int64_t ow)
{
    float m = -INFINITY;
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ih = oh * g->sh + ki * g->dh - g->pt;
        for (int64_t kj = 0; ih >= 0 && ih < g->h && kj < g->kw; kj++) {
            int64_t iw = ow * g->sw + kj * g->dw - g->pl;
            if (iw >= 0 && iw < g->w)
                m = MAX_STEP(xp[ih * g->w + iw], m);
        }
    }
    return m;
}

void au_kern_maxpool2d_boxes(const struct au_win2d *g, int64_t c, const float *x, float *y,
                             const int64_t *rows, const struct au_box *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        struct au_box o;
        au_kern_win_cone(g, &in[i], &o);
        for (int64_t ch = 0; ch < c; ch++) {
            const float *xp = x + (rows[i] * c + ch) * g->h * g->w;
            float *yp = y + (rows[i] * c + ch) * g->oh * g->ow;
            for (int64_t oh = o.y0; oh <= o.y1; oh++)
                for (int64_t ow = o.x0; ow <= o.x1; ow++)
                    yp[oh * g->ow + ow] = max_at(g, xp, oh, ow);
        }
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
