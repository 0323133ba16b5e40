/* 2-D convolution (1-D runs with H = 1). Three paths: depthwise (group == C_in) is a
 * direct per-plane kernel, since its GEMMs would be 1-row; a 1x1 stride-1 unpadded conv
 * is already a GEMM on the input; everything else goes through im2col + sgemm per group.
 * Small output planes (late ResNet layers) would give skinny GEMMs that repack the
 * weights per image, so several images share one column buffer and one sgemm. */
#include "kern.h"

#include "alloc.h"
#include "status.h"

#include <string.h>

/* Columns per sgemm worth aiming for when output planes are small. */
#define CONV_MIN_COLS 1024

static bool is_depthwise(const struct au_conv2d *p)
{
    return p->group > 1 && p->group == p->c_in && p->c_out % p->c_in == 0;
}

static bool is_pointwise(const struct au_conv2d *p)
{
    const struct au_win2d *g = &p->g;
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
           g->oh == g->h && g->ow == g->w;
}

/* Images per im2col buffer. */
static int64_t conv_batch(const struct au_conv2d *p)
{
    int64_t cols = p->g.oh * p->g.ow;
    if (cols >= CONV_MIN_COLS || p->n <= 1)
        return 1;
    int64_t nb = (CONV_MIN_COLS + cols - 1) / cols;
    return nb < p->n ? nb : p->n;
}

size_t au_kern_conv2d_scratch(const struct au_conv2d *p)
{
    if (is_depthwise(p))
        return (size_t)(2 * p->g.kw) * sizeof(int64_t);
    if (is_pointwise(p))
        return 0;
    int64_t nb = conv_batch(p);
    int64_t k = p->c_in / p->group * p->g.kh * p->g.kw;
    size_t rows = (size_t)(k + (nb > 1 ? p->c_out / p->group : 0)); /* + batched sgemm out */
    size_t nbytes;
    if (au_mul_overflow(rows, (size_t)(nb * p->g.oh * p->g.ow), &nbytes) ||
        au_mul_overflow(nbytes, sizeof(float), &nbytes))
        return SIZE_MAX;
    return nbytes;
}

struct col_job {
    const struct au_win2d *g;
    const float *x; /* one image's channels of this group */
    float *col;
    int64_t ld;
};

/* One unfolded row: zeros, the strided input, zeros. Rows are often short (28 floats
 * in LeNet), where inline loops beat three library calls. */
AU_KERN_CLONES
static void col_row(float *restrict dst, const float *restrict src, int64_t sw, int64_t off,
                    int64_t lo, int64_t hi, int64_t n)
{
    for (int64_t o = 0; o < lo; o++)
        dst[o] = 0.0f;
    if (sw == 1) {
        const float *restrict s1 = src + off;
        for (int64_t o = lo; o < hi; o++)
            dst[o] = s1[o];
    } else {
        for (int64_t o = lo; o < hi; o++)
            dst[o] = src[o * sw + off];
    }
    for (int64_t o = hi; o < n; o++)
        dst[o] = 0.0f;
}

/* Unfold channels [lo, hi) of one image into rows (ch, ki, kj) of length oh*ow, row
 * stride ld; taps in the padding become zeros. */
static void im2col_channels(void *arg, int64_t lo, int64_t hi)
{
    const struct col_job *j = arg;
    const struct au_win2d *g = j->g;
    for (int64_t ch = lo; ch < hi; ch++) {
        const float *xc = j->x + ch * g->h * g->w;
        for (int64_t ki = 0; ki < g->kh; ki++) {
            int64_t hoff = ki * g->dh - g->pt, hlo, hhi;
            au_kern_range(hoff, g->sh, g->h, g->oh, &hlo, &hhi);
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float *row = j->col + ((ch * g->kh + ki) * g->kw + kj) * j->ld;
                int64_t woff = kj * g->dw - g->pl, wlo, whi;
                au_kern_range(woff, g->sw, g->w, g->ow, &wlo, &whi);
                memset(row, 0, (size_t)(hlo * g->ow) * sizeof(float));
                for (int64_t r = hlo; r < hhi; r++)
                    col_row(row + r * g->ow, xc + (r * g->sh + hoff) * g->w, g->sw, woff, wlo, whi,
                            g->ow);
                memset(row + hhi * g->ow, 0, (size_t)((g->oh - hhi) * g->ow) * sizeof(float));
            }
        }
    }
}

static void im2col(const struct au_win2d *g, int64_t c, const float *x, float *col, int64_t ld)
{
    struct col_job job = {g, x, col, ld};
    au_kern_parallel(c, g->kh * g->kw * g->oh * g->ow, im2col_channels, &job);
}

static void fill_bias(float *y, int64_t rows, int64_t len, const float *bias)
{
    for (int64_t r = 0; r < rows; r++) {
        float b = bias[r];
        for (int64_t i = 0; i < len; i++)
            y[r * len + i] = b;
    }
}

/* One group of one image straight from the input: y [cout_g, hw] = w [cout_g, cin_g] x. */
static void conv_pointwise(const struct au_conv2d *p, const float *x, const float *w,
                           const float *bias, float *y)
{
    int64_t hw = p->g.h * p->g.w, cin_g = p->c_in / p->group, cout_g = p->c_out / p->group;
    for (int64_t n = 0; n < p->n; n++) {
        for (int64_t grp = 0; grp < p->group; grp++) {
            const float *xg = x + (n * p->c_in + grp * cin_g) * hw;
            float *yg = y + (n * p->c_out + grp * cout_g) * hw;
            if (bias)
                fill_bias(yg, cout_g, hw, bias + grp * cout_g);
            au_kern_sgemm(false, false, cout_g, hw, cin_g, 1.0f, w + grp * cout_g * cin_g, cin_g,
                          xg, hw, bias ? 1.0f : 0.0f, yg, hw);
        }
    }
}

/* Scatter a batched sgemm result tmp [cout_g, nb * hw] into nb images of y, adding bias. */
static void scatter_batch(const float *tmp, int64_t nb, int64_t cout_g, int64_t hw,
                          const float *bias, float *y, int64_t img_stride)
{
    for (int64_t i = 0; i < nb; i++) {
        for (int64_t r = 0; r < cout_g; r++) {
            const float *src = tmp + r * nb * hw + i * hw;
            float *dst = y + i * img_stride + r * hw;
            float b = bias ? bias[r] : 0.0f;
            for (int64_t j = 0; j < hw; j++)
                dst[j] = src[j] + b;
        }
    }
}

static void conv_im2col(const struct au_conv2d *p, const float *x, const float *w,
                        const float *bias, float *y, float *scratch)
{
    const struct au_win2d *g = &p->g;
    int64_t hw_in = g->h * g->w, hw = g->oh * g->ow, nb_max = conv_batch(p);
    int64_t cin_g = p->c_in / p->group, cout_g = p->c_out / p->group, k = cin_g * g->kh * g->kw;
    float *tmp = scratch + k * nb_max * hw;
    for (int64_t n0 = 0; n0 < p->n; n0 += nb_max) {
        int64_t nb = p->n - n0 < nb_max ? p->n - n0 : nb_max, ld = nb * hw;
        for (int64_t grp = 0; grp < p->group; grp++) {
            for (int64_t i = 0; i < nb; i++)
                im2col(g, cin_g, x + ((n0 + i) * p->c_in + grp * cin_g) * hw_in, scratch + i * hw,
                       ld);
            const float *wg = w + grp * cout_g * k, *bg = bias ? bias + grp * cout_g : NULL;
            float *yg = y + (n0 * p->c_out + grp * cout_g) * hw;
            if (nb == 1) {
                if (bg)
                    fill_bias(yg, cout_g, hw, bg);
                au_kern_sgemm(false, false, cout_g, hw, k, 1.0f, wg, k, scratch, hw,
                              bg ? 1.0f : 0.0f, yg, hw);
            } else {
                au_kern_sgemm(false, false, cout_g, ld, k, 1.0f, wg, k, scratch, ld, 0.0f, tmp, ld);
                scatter_batch(tmp, nb, cout_g, hw, bg, yg, p->c_out * hw);
            }
        }
    }
}

/* Depthwise column bookkeeping, shared by every row: each kernel column's valid output
 * range, and the interior [in_lo, in_hi) where every column is valid. */
struct dw_cols {
    const int64_t *lo, *hi;
    int64_t in_lo, in_hi;
};

/* Accumulate every tap of output row oh into yrow, tap by tap. A padding tap adds w * 0,
 * as the zero-padded input of the ONNX definition (and im2col) does, so an Inf or NaN
 * weight from a fault poisons the same outputs on every conv path. */
AU_KERN_CLONES
static void dw_taps(const struct au_win2d *g, const struct dw_cols *c, const float *xp,
                    const float *wp, int64_t oh, float *restrict yrow)
{
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ih = oh * g->sh + ki * g->dh - g->pt;
        bool row_in = ih >= 0 && ih < g->h;
        const float *restrict xrow = xp + (row_in ? ih : 0) * g->w;
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t off = kj * g->dw - g->pl;
            int64_t lo = row_in ? c->lo[kj] : g->ow, hi = row_in ? c->hi[kj] : g->ow;
            float wv = wp[ki * g->kw + kj], z = wv * 0.0f;
            for (int64_t o = 0; o < lo; o++)
                yrow[o] += z;
            for (int64_t o = lo; o < hi; o++)
                yrow[o] += wv * xrow[o * g->sw + off];
            for (int64_t o = hi; o < g->ow; o++)
                yrow[o] += z;
        }
    }
}

/* Interior of a K x K row with every tap valid: all taps in registers, one store per
 * output. Same summation order as dw_taps (bias, then row-major taps), so the split
 * between the two paths never changes a bit. K and SW are constants after inlining. */
static inline __attribute__((always_inline)) void
dw_fused(int K, int64_t SW, const float *const *rows, int64_t dw, int64_t off0, const float *wp,
         float bias, int64_t a, int64_t b, float *restrict yrow)
{
    for (int64_t o = a; o < b; o++) {
        float acc = bias;
        for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++)
                acc += wp[ki * K + kj] * rows[ki][o * SW + off0 + kj * dw];
        yrow[o] = acc;
    }
}

/* Returns false when no specialisation fits (then dw_taps does the row). */
AU_KERN_CLONES
static bool dw_interior(const struct au_win2d *g, const float *const *rows, const float *wp,
                        float bias, int64_t a, int64_t b, float *restrict yrow)
{
    int64_t off0 = -g->pl;
    if (g->kh == 3 && g->kw == 3 && g->sw == 1)
        dw_fused(3, 1, rows, g->dw, off0, wp, bias, a, b, yrow);
    else if (g->kh == 3 && g->kw == 3 && g->sw == 2)
        dw_fused(3, 2, rows, g->dw, off0, wp, bias, a, b, yrow);
    else if (g->kh == 5 && g->kw == 5 && g->sw == 1)
        dw_fused(5, 1, rows, g->dw, off0, wp, bias, a, b, yrow);
    else if (g->kh == 5 && g->kw == 5 && g->sw == 2)
        dw_fused(5, 2, rows, g->dw, off0, wp, bias, a, b, yrow);
    else
        return false;
    return true;
}

/* One edge output of a row whose kernel rows are all valid: a handful per row, so a
 * scalar loop beats setting up a vector loop per tap. Same summation order. */
static float dw_edge(const struct au_win2d *g, const float *const *rows, const float *wp,
                     float bias, int64_t o)
{
    float acc = bias;
    int64_t iw0 = o * g->sw - g->pl, lo, hi;
    au_kern_range(iw0, g->dw, g->w, g->kw, &lo, &hi);
    for (int64_t ki = 0; ki < g->kh; ki++) {
        for (int64_t kj = 0; kj < g->kw; kj++) {
            float xv = kj >= lo && kj < hi ? rows[ki][iw0 + kj * g->dw] : 0.0f; /* pad = 0 */
            acc += wp[ki * g->kw + kj] * xv;
        }
    }
    return acc;
}

static void fill(float *y, int64_t a, int64_t b, float v)
{
    for (int64_t o = a; o < b; o++)
        y[o] = v;
}

/* Output row oh of one depthwise plane: fused interior plus scalar edges when a K x K
 * specialisation fits and every kernel row is inside the input, else tap by tap. */
static void dw_row(const struct au_win2d *g, const struct dw_cols *c, const float *xp,
                   const float *wp, float bias, int64_t oh, float *yrow)
{
    int64_t ih0 = oh * g->sh - g->pt, ih_last = ih0 + (g->kh - 1) * g->dh;
    const float *rows[5];
    bool fused = g->kh <= 5 && ih0 >= 0 && ih_last < g->h && c->in_lo < c->in_hi;
    for (int64_t ki = 0; fused && ki < g->kh; ki++)
        rows[ki] = xp + (ih0 + ki * g->dh) * g->w;
    if (fused && dw_interior(g, rows, wp, bias, c->in_lo, c->in_hi, yrow)) {
        for (int64_t o = 0; o < c->in_lo; o++)
            yrow[o] = dw_edge(g, rows, wp, bias, o);
        for (int64_t o = c->in_hi; o < g->ow; o++)
            yrow[o] = dw_edge(g, rows, wp, bias, o);
        return;
    }
    fill(yrow, 0, g->ow, bias);
    dw_taps(g, c, xp, wp, oh, yrow);
}

struct dw_job {
    const struct au_conv2d *p;
    const struct dw_cols *c;
    const float *x, *w, *bias;
    float *y;
};

/* Planes [lo, hi) of the output, plane = image * c_out + output channel. */
static void dw_planes(void *arg, int64_t lo, int64_t hi)
{
    const struct dw_job *j = arg;
    const struct au_conv2d *p = j->p;
    const struct au_win2d *g = &p->g;
    int64_t mult = p->c_out / p->c_in, hw_in = g->h * g->w, hw = g->oh * g->ow;
    for (int64_t pl = lo; pl < hi; pl++) {
        int64_t n = pl / p->c_out, oc = pl % p->c_out;
        const float *xp = j->x + (n * p->c_in + oc / mult) * hw_in;
        const float *wp = j->w + oc * g->kh * g->kw;
        float *yp = j->y + pl * hw, b = j->bias ? j->bias[oc] : 0.0f;
        for (int64_t oh = 0; oh < g->oh; oh++)
            dw_row(g, j->c, xp, wp, b, oh, yp + oh * g->ow);
    }
}

/* ranges: scratch for 2 * kw int64 column ranges. */
static void conv_depthwise(const struct au_conv2d *p, const float *x, const float *w,
                           const float *bias, float *y, int64_t *ranges)
{
    const struct au_win2d *g = &p->g;
    int64_t *lo = ranges, *hi = ranges + g->kw;
    struct dw_cols c = {lo, hi, 0, g->ow};
    for (int64_t kj = 0; kj < g->kw; kj++) {
        au_kern_range(kj * g->dw - g->pl, g->sw, g->w, g->ow, &lo[kj], &hi[kj]);
        c.in_lo = lo[kj] > c.in_lo ? lo[kj] : c.in_lo;
        c.in_hi = hi[kj] < c.in_hi ? hi[kj] : c.in_hi;
    }
    struct dw_job job = {p, &c, x, w, bias, y};
    au_kern_parallel(p->n * p->c_out, g->oh * g->ow * g->kh * g->kw, dw_planes, &job);
}

void au_kern_conv2d(const struct au_conv2d *p, const float *x, const float *w, const float *bias,
                    float *y, void *scratch)
{
    AU_ASSERT(p->group >= 1 && p->c_in % p->group == 0 && p->c_out % p->group == 0);
    if (is_depthwise(p))
        conv_depthwise(p, x, w, bias, y, scratch);
    else if (is_pointwise(p))
        conv_pointwise(p, x, w, bias, y);
    else
        conv_im2col(p, x, w, bias, y, scratch);
}
