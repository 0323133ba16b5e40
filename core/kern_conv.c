/* 2-D convolution (1-D runs with H = 1). Paths are picked by shape only, never by batch
 * size, so a compacted batch computes the same bits per sample. One input channel per
 * group (depthwise, stems like LeNet's conv1) is direct: zero-padded input split into
 * stride phases, every tap a contiguous load shared by several output channels; small
 * depthwise planes go 8 channels per vector. 1x1 stride 1 is a GEMM on the input; the
 * rest is im2col + sgemm, its rows copied from the same phase planes. */
#include "kern.h"

#include "alloc.h"
#include "status.h"

#include <string.h>

/* Columns per sgemm worth aiming for when output planes are small. */
#define CONV_MIN_COLS 1024
/* Phase planes are used for strides up to this (every real network); larger ones, and
 * geometries whose padded planes would dwarf the columns, take the generic loops. */
#define PH_MAX_STRIDE 4
#define PH_MAX_EXTENT ((int64_t)1 << 28)
/* Direct path: taps at most, flat outputs per band, and the stack buffers per thread. */
#define SC_MAX_TAPS 256
#define SC_BAND     1024
#define SC_IN_CAP   8192
#define SC_MAX_CO   6
#define SC_VL       8
/* Floats read past the phase planes: a block of the last flat row and a tap's shift. */
#define SC_SLACK(rs) (4 * SC_VL + (rs))
#define SC_OUT_CAP   (SC_MAX_CO * 2048)

typedef float sc_vec __attribute__((vector_size(SC_VL * sizeof(float))));
_Static_assert(SC_VL == 8, "sc_block spells out a broadcast of SC_VL lanes");

/* A padded input plane stored as stride phases: padded (row, col) = (j * sh + a, k * sw +
 * b) lives in the plane of phase (a, b) at [j, k]. A tap at padded offset (ki*dh, kj*dw)
 * then reads phase ((ki*dh) % sh, (kj*dw) % sw) from [r + ki*dh/sh, o + kj*dw/sw]: a
 * contiguous run over o, for every stride. Only phases some tap reads are stored. */
struct phases {
    int64_t rs, rows, plane; /* floats per phase row, rows held, rows * rs */
    int n_a, n_b;            /* phases stored per axis */
    int slot_a[PH_MAX_STRIDE], slot_b[PH_MAX_STRIDE]; /* phase -> storage slot, -1 unused */
};

static bool is_single_channel(const struct au_conv2d *p)
{
    return p->c_in == p->group && p->c_out % p->c_in == 0;
}

static bool is_pointwise(const struct au_conv2d *p)
{
    const struct au_win2d *g = &p->g;
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
           g->oh == g->h && g->ow == g->w;
}

/* Phase layout for nrows output rows; false if a stride is too large for it. */
static bool phases_init(const struct au_win2d *g, int64_t nrows, struct phases *ph)
{
    if (g->sh > PH_MAX_STRIDE || g->sw > PH_MAX_STRIDE)
        return false;
    ph->rs = g->ow + (g->kw - 1) * g->dw / g->sw;
    ph->rows = nrows + (g->kh - 1) * g->dh / g->sh;
    if (ph->rs >= PH_MAX_EXTENT || ph->rows >= PH_MAX_EXTENT)
        return false; /* keeps every size below in range */
    ph->plane = ph->rows * ph->rs;
    for (int i = 0; i < PH_MAX_STRIDE; i++)
        ph->slot_a[i] = ph->slot_b[i] = -1;
    ph->n_a = ph->n_b = 0;
    for (int64_t ki = 0; ki < g->kh && ph->n_a < g->sh; ki++) {
        int a = (int)(ki * g->dh % g->sh);
        if (ph->slot_a[a] < 0)
            ph->slot_a[a] = ph->n_a++;
    }
    for (int64_t kj = 0; kj < g->kw && ph->n_b < g->sw; kj++) {
        int b = (int)(kj * g->dw % g->sw);
        if (ph->slot_b[b] < 0)
            ph->slot_b[b] = ph->n_b++;
    }
    return true;
}

static int64_t phases_floats(const struct phases *ph)
{
    return ph->n_a * ph->n_b * ph->plane;
}

/* Offset of tap (ki, kj) from output (0, 0) in the phase buffer. */
static int64_t tap_offset(const struct au_win2d *g, const struct phases *ph, int64_t ki, int64_t kj)
{
    int64_t a = ki * g->dh % g->sh, b = kj * g->dw % g->sw;
    int64_t slot = ph->slot_a[a] * ph->n_b + ph->slot_b[b];
    return slot * ph->plane + ki * g->dh / g->sh * ph->rs + kj * g->dw / g->sw;
}

/* n floats with fixed-size vector copies, the last one overlapping: no per-element loop. */
static inline __attribute__((always_inline)) void copy_floats(float *restrict dst,
                                                              const float *restrict src, int64_t n)
{
    if (n >= 8) {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            memcpy(dst + i, src + i, 8 * sizeof(float));
        if (i < n)
            memcpy(dst + n - 8, src + n - 8, 8 * sizeof(float));
    } else if (n >= 4) {
        memcpy(dst, src, 4 * sizeof(float));
        memcpy(dst + n - 4, src + n - 4, 4 * sizeof(float));
    } else {
        for (int64_t i = 0; i < n; i++)
            dst[i] = src[i];
    }
}

/* dst[i] = src[2 * i], i < 8 (or 4), from the even lanes of src [0, 16) or, with odd,
 * the odd lanes of src [-1, 15). */
static inline __attribute__((always_inline)) void deint8(float *restrict dst,
                                                         const float *restrict src, bool odd)
{
    sc_vec a, b, e;
    memcpy(&a, src - odd, sizeof(a));
    memcpy(&b, src - odd + SC_VL, sizeof(b));
    if (odd)
        e = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
    else
        e = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
    memcpy(dst, &e, sizeof(e));
}

typedef float sc_vec4 __attribute__((vector_size(4 * sizeof(float))));

static inline __attribute__((always_inline)) void deint4(float *restrict dst,
                                                         const float *restrict src, bool odd)
{
    sc_vec4 a, b, e;
    memcpy(&a, src - odd, sizeof(a));
    memcpy(&b, src - odd + 4, sizeof(b));
    if (odd)
        e = __builtin_shufflevector(a, b, 1, 3, 5, 7);
    else
        e = __builtin_shufflevector(a, b, 0, 2, 4, 6);
    memcpy(dst, &e, sizeof(e));
}

/* Rows of n floats dst[r * dst_rs + k] = src[r * src_rs + k * sw] for r < rows, where
 * src [-before, avail) of every row may be read. Stride 2 (ResNet's downsampling) takes
 * whole deinterleaving vectors, the last one overlapping, from src - 1 when reading
 * src [2n - 1] would leave the row. */
static inline __attribute__((always_inline)) void
gather_rows(float *restrict dst, int64_t dst_rs, const float *restrict src, int64_t src_rs,
            int64_t rows, int64_t sw, int64_t n, int64_t before, int64_t avail)
{
    bool even = 2 * n <= avail, odd = !even && before >= 1 && 2 * n - 1 <= avail;
    if (sw == 1) {
        for (int64_t r = 0; r < rows; r++)
            copy_floats(dst + r * dst_rs, src + r * src_rs, n);
    } else if (sw == 2 && n >= 8 && (even || odd)) {
        for (int64_t r = 0; r < rows; r++, dst += dst_rs, src += src_rs) {
            for (int64_t k = 0; k < n - 8; k += 8)
                deint8(dst + k, src + 2 * k, odd);
            deint8(dst + n - 8, src + 2 * (n - 8), odd);
        }
    } else if (sw == 2 && n >= 4 && (even || odd)) {
        for (int64_t r = 0; r < rows; r++, dst += dst_rs, src += src_rs) {
            for (int64_t k = 0; k < n - 4; k += 4)
                deint4(dst + k, src + 2 * k, odd);
            deint4(dst + n - 4, src + 2 * (n - 4), odd);
        }
    } else {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < n; k++)
                dst[r * dst_rs + k] = src[r * src_rs + k * sw];
    }
}

/* Load padded rows j0 * sh .. of plane x into phase planes that start out zeroed. Rows
 * inside the input get their input columns only: the padding columns are the same for
 * every row and never written otherwise. Rows outside stay zero unless earlier bands
 * put data there (rezero). */
AU_KERN_CLONES
static void phases_load(const struct au_win2d *g, const struct phases *ph, const float *x,
                        int64_t j0, bool rezero, float *buf)
{
    for (int a = 0; a < g->sh; a++) {
        for (int b = 0; b < g->sw; b++) {
            if (ph->slot_a[a] < 0 || ph->slot_b[b] < 0)
                continue;
            float *dst = buf + (ph->slot_a[a] * ph->n_b + ph->slot_b[b]) * ph->plane;
            /* Phase row j reads input row (j0 + j) * sh + a - pt, column k input column
             * k * sw + off: [jlo, jhi) and [lo, hi) are the ones inside the input. */
            int64_t lo, hi, jlo, jhi, off = b - g->pl;
            au_kern_range(off, g->sw, g->w, ph->rs, &lo, &hi);
            au_kern_range(j0 * g->sh + a - g->pt, g->sh, g->h, ph->rows, &jlo, &jhi);
            if (rezero) {
                memset(dst, 0, (size_t)(jlo * ph->rs) * sizeof(float));
                memset(dst + jhi * ph->rs, 0, (size_t)((ph->rows - jhi) * ph->rs) * sizeof(float));
            }
            if (jlo >= jhi || lo >= hi)
                continue;
            int64_t ih = (j0 + jlo) * g->sh + a - g->pt, iw = lo * g->sw + off;
            gather_rows(dst + jlo * ph->rs + lo, ph->rs, x + ih * g->w + iw, g->sh * g->w,
                        jhi - jlo, g->sw, hi - lo, iw, g->w - iw);
        }
    }
}

/* ---- im2col + sgemm ---- */

/* How one conv's columns are built; shape only, never batch size, picks the layout. */
struct col_plan {
    struct phases ph;
    bool phases;   /* false: the generic unfold */
    bool in_place; /* runs read the input plane itself (unpadded, stride 1, every row) */
    bool flat;     /* whole phase rows: one copy per tap row, sgemm computes the rs - ow
                    * columns past each output row too, and they are dropped */
    int64_t len;   /* columns per image: oh * (flat ? rs : ow) */
    int64_t nb;    /* images per sgemm */
    bool tmp;      /* sgemm writes a buffer that is then scattered into y */
};

/* Flat pays when the extra sgemm work per output row, cout_g * (rs - ow) MACs at about
 * 0.27 instructions each, costs less than copying the row as a run (about 8 + ow / 2);
 * measured with callgrind on the LeNet and ResNet layers (bench/kernels.c). */
static bool flat_pays(const struct au_win2d *g, int64_t cout_g, int64_t rs)
{
    return rs == g->ow || 27 * cout_g * (rs - g->ow) < 800 + 50 * g->ow;
}

static void col_plan_init(const struct au_conv2d *p, struct col_plan *cp)
{
    const struct au_win2d *g = &p->g;
    const struct phases *ph = &cp->ph;
    /* Phase planes holding more than twice the columns they feed (huge dilations or
     * pads) are left to the generic unfold. */
    cp->phases = phases_init(g, g->oh, &cp->ph) &&
                 phases_floats(ph) <= 2 * g->kh * g->kw * g->oh * g->ow + 64;
    cp->flat = cp->phases && flat_pays(g, p->c_out / p->group, ph->rs);
    cp->in_place = cp->phases && !cp->flat && g->sh == 1 && g->sw == 1 && g->pt == 0 &&
                   g->pl == 0 && ph->rows == g->h && ph->rs == g->w;
    cp->len = g->oh * (cp->flat ? ph->rs : g->ow);
    /* Small planes (late ResNet layers) would give skinny GEMMs that repack the weights
     * per image, so several images share one column buffer and one sgemm. */
    cp->nb = 1;
    if (cp->len < CONV_MIN_COLS && p->n > 1) {
        cp->nb = (CONV_MIN_COLS + cp->len - 1) / cp->len;
        cp->nb = cp->nb < p->n ? cp->nb : p->n;
    }
    cp->tmp = cp->nb > 1 || cp->len != g->oh * g->ow;
}

/* Floats of the phase planes of one channel, with the slack a flat run reads past them. */
static int64_t col_pad_floats(const struct col_plan *cp)
{
    return cp->phases && !cp->in_place ? phases_floats(&cp->ph) + cp->ph.rs : 0;
}

static bool doc_fits(const struct au_conv2d *p, int64_t *hp, int64_t *wp);

size_t au_kern_conv2d_scratch(const struct au_conv2d *p)
{
    const struct au_win2d *g = &p->g;
    if (is_single_channel(p))
        return (size_t)(2 * g->kw) * sizeof(int64_t);
    int64_t hp, wp;
    if (is_pointwise(p) || doc_fits(p, &hp, &wp))
        return 0;
    struct col_plan cp;
    col_plan_init(p, &cp);
    int64_t cin_g = p->c_in / p->group;
    size_t rows = (size_t)(cin_g * g->kh * g->kw + (cp.tmp ? p->c_out / p->group : 0));
    size_t pad = (size_t)col_pad_floats(&cp), nbytes;
    if (au_mul_overflow(rows, (size_t)(cp.nb * cp.len), &nbytes) ||
        au_mul_overflow(pad, (size_t)cin_g, &pad) || au_add_overflow(nbytes, pad, &nbytes) ||
        au_mul_overflow(nbytes, sizeof(float), &nbytes))
        return SIZE_MAX;
    return nbytes;
}

struct col_job {
    const struct au_win2d *g;
    const struct col_plan *cp;
    const float *x; /* one image's channels of this group */
    float *col, *pad;
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

/* Generic unfold of channel xc into rows (ki, kj) of length oh*ow, row stride ld. */
static void unfold_generic(const struct au_win2d *g, const float *xc, float *rows, int64_t ld)
{
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t hoff = ki * g->dh - g->pt, hlo, hhi;
        au_kern_range(hoff, g->sh, g->h, g->oh, &hlo, &hhi);
        for (int64_t kj = 0; kj < g->kw; kj++) {
            float *row = rows + (ki * g->kw + kj) * ld;
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

/* oh runs of n floats, source rows rs apart, into consecutive rows of dst: per run, the
 * vector copies of copy_floats with the loop bounds hoisted (runs are 7 to 28 floats). */
AU_KERN_CLONES
static void copy_runs(float *restrict dst, const float *restrict src, int64_t oh, int64_t rs,
                      int64_t n)
{
    if (n < 8) {
        for (int64_t r = 0; r < oh; r++)
            copy_floats(dst + r * n, src + r * rs, n);
        return;
    }
    for (int64_t r = 0; r < oh; r++, dst += n, src += rs) {
        for (int64_t i = 0; i < n - 8; i += 8)
            memcpy(dst + i, src + i, 8 * sizeof(float));
        memcpy(dst + n - 8, src + n - 8, 8 * sizeof(float));
    }
}

/* Unfold channels [lo, hi) of one image into rows (ch, ki, kj) of cp->len columns, row
 * stride ld; taps in the padding become zeros. */
static void im2col_channels(void *arg, int64_t lo, int64_t hi)
{
    const struct col_job *j = arg;
    const struct au_win2d *g = j->g;
    const struct col_plan *cp = j->cp;
    for (int64_t ch = lo; ch < hi; ch++) {
        const float *xc = j->x + ch * g->h * g->w;
        float *rows = j->col + ch * g->kh * g->kw * j->ld;
        if (!cp->phases) {
            unfold_generic(g, xc, rows, j->ld);
            continue;
        }
        const float *pad = xc;
        if (!cp->in_place) {
            float *buf = j->pad + ch * col_pad_floats(cp);
            phases_load(g, &cp->ph, xc, 0, false, buf);
            pad = buf;
        }
        for (int64_t ki = 0; ki < g->kh; ki++) {
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float *row = rows + (ki * g->kw + kj) * j->ld;
                const float *src = pad + tap_offset(g, &cp->ph, ki, kj);
                if (cp->flat)
                    memcpy(row, src, (size_t)cp->len * sizeof(float));
                else
                    copy_runs(row, src, g->oh, cp->ph.rs, g->ow);
            }
        }
    }
}

static void im2col(const struct col_job *job, int64_t c)
{
    const struct au_win2d *g = job->g;
    au_kern_parallel(c, g->kh * g->kw * g->oh * g->ow, im2col_channels, (void *)job);
}

/* y [rows, len] = bias per row, or zeros without one. */
AU_KERN_CLONES
static void fill_bias(float *y, int64_t rows, int64_t len, const float *bias)
{
    for (int64_t r = 0; r < rows; r++) {
        float b = bias ? bias[r] : 0.0f;
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
            fill_bias(yg, cout_g, hw, bias ? bias + grp * cout_g : NULL);
            au_kern_sgemm(false, false, cout_g, hw, cin_g, 1.0f, w + grp * cout_g * cin_g, cin_g,
                          xg, hw, 1.0f, yg, hw);
        }
    }
}

/* Scatter an sgemm result tmp [cout_g, nb * len] into nb images of y: whole planes, or
 * the first ow of every rs columns for flat columns. */
static void scatter(const struct au_win2d *g, const struct col_plan *cp, const float *tmp,
                    int64_t nb, int64_t cout_g, float *y, int64_t img_stride)
{
    int64_t hw = g->oh * g->ow, rs = cp->flat ? cp->ph.rs : g->ow;
    for (int64_t i = 0; i < nb; i++) {
        for (int64_t r = 0; r < cout_g; r++) {
            const float *src = tmp + (r * nb + i) * cp->len;
            float *dst = y + i * img_stride + r * hw;
            if (rs == g->ow)
                memcpy(dst, src, (size_t)hw * sizeof(float));
            else
                copy_runs(dst, src, g->oh, rs, g->ow);
        }
    }
}

static void conv_im2col(const struct au_conv2d *p, const float *x, const float *w,
                        const float *bias, float *y, float *scratch)
{
    const struct au_win2d *g = &p->g;
    struct col_plan cp;
    col_plan_init(p, &cp);
    int64_t hw_in = g->h * g->w, hw = g->oh * g->ow;
    int64_t cin_g = p->c_in / p->group, cout_g = p->c_out / p->group, k = cin_g * g->kh * g->kw;
    float *tmp = scratch + k * cp.nb * cp.len;
    struct col_job job = {g, &cp, NULL, NULL, tmp + (cp.tmp ? cout_g * cp.nb * cp.len : 0), 0};
    if (col_pad_floats(&cp) > 0) /* every image's padding lands in the same places */
        memset(job.pad, 0, (size_t)(cin_g * col_pad_floats(&cp)) * sizeof(float));
    for (int64_t n0 = 0; n0 < p->n; n0 += cp.nb) {
        int64_t nb = p->n - n0 < cp.nb ? p->n - n0 : cp.nb, ld = nb * cp.len;
        job.ld = ld;
        for (int64_t grp = 0; grp < p->group; grp++) {
            for (int64_t i = 0; i < nb; i++) {
                job.x = x + ((n0 + i) * p->c_in + grp * cin_g) * hw_in;
                job.col = scratch + i * cp.len;
                im2col(&job, cin_g);
            }
            const float *wg = w + grp * cout_g * k, *bg = bias ? bias + grp * cout_g : NULL;
            float *yg = y + (n0 * p->c_out + grp * cout_g) * hw, *c = cp.tmp ? tmp : yg;
            /* sgemm adds onto the bias (or zeros: OpenBLAS's own beta = 0 pass is slow),
             * one rounding of sum + bias either way. */
            fill_bias(c, cout_g, ld, bg);
            au_kern_sgemm(false, false, cout_g, ld, k, 1.0f, wg, k, scratch, ld, 1.0f, c, ld);
            if (cp.tmp)
                scatter(g, &cp, tmp, nb, cout_g, yg, p->c_out * hw);
        }
    }
}

/* ---- one input channel per group: direct ---- */

/* Every output is bias, then w * x tap by tap in row-major order, padding taps adding
 * w * 0 as the zero-padded input of the ONNX definition (and im2col) does, so an Inf or
 * NaN weight from a fault poisons the same outputs on every path. Both the fast and the
 * generic code below keep exactly that order: their results are bit-identical. */

/* Generic code: column ranges of every kernel column, shared by all rows. */
struct sc_cols {
    const int64_t *lo, *hi;
};

/* Accumulate every tap of output row oh into yrow, tap by tap. */
AU_KERN_CLONES
static void sc_taps(const struct au_win2d *g, struct sc_cols c, const float *xp, const float *wp,
                    int64_t oh, float *restrict yrow)
{
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ih = oh * g->sh + ki * g->dh - g->pt;
        bool row_in = ih >= 0 && ih < g->h;
        const float *restrict xrow = xp + (row_in ? ih : 0) * g->w;
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t off = kj * g->dw - g->pl;
            int64_t lo = row_in ? c.lo[kj] : g->ow, hi = row_in ? c.hi[kj] : g->ow;
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

/* Vectors of co channels at x + off[v], v < nv: out[c * ld + i] = b[c] + sum over taps t
 * of w[c * n_taps + t] * x[toff[t] + i]. The vectors start at o, o + SC_VL, .. but none
 * past n - SC_VL: the last block of a span ends at n, and outputs it computes twice come
 * out the same. co and nv are constants after inlining, so the co x nv accumulators stay
 * in registers and each load feeds co channels. */
static inline __attribute__((always_inline)) void
sc_block(int co, int nv, const float *x, const int64_t *toff, int64_t n_taps, const float *w,
         const float *b, float *out, int64_t ld, int64_t o, int64_t n)
{
    /* Zeroed only because GCC cannot see that just [co][nv] is read; after unrolling
     * the accumulators live in registers and the zeroing is dead. */
    sc_vec acc[SC_MAX_CO][4] = {{{0}}};
    int64_t off[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        off[v] = o + v * SC_VL < n - SC_VL ? o + v * SC_VL : n - SC_VL;
#pragma GCC unroll 8
    for (int c = 0; c < co; c++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[c][v] = (sc_vec){b[c], b[c], b[c], b[c], b[c], b[c], b[c], b[c]};
    for (int64_t t = 0; t < n_taps; t++) {
        const float *xt = x + toff[t];
        sc_vec xv[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            memcpy(&xv[v], xt + off[v], sizeof(sc_vec));
#pragma GCC unroll 8
        for (int c = 0; c < co; c++) {
            float wc = w[c * n_taps + t];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[c][v] += wc * xv[v];
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < co; c++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            memcpy(out + c * ld + off[v], &acc[c][v], sizeof(sc_vec));
}

/* Outputs [0, n), n >= SC_VL, in blocks of nv vectors. */
static inline __attribute__((always_inline)) void sc_blocks(int co, int nv, const float *x,
                                                            const int64_t *toff, int64_t n_taps,
                                                            const float *w, const float *b,
                                                            float *out, int64_t ld, int64_t n)
{
    for (int64_t o = 0; o < n; o += nv * SC_VL)
        sc_block(co, nv, x, toff, n_taps, w, b, out, ld, o, n);
}

/* Outputs [0, n), n >= SC_VL, of co (<= SC_MAX_CO) channels: blocks as wide as the
 * registers allow (co x nv <= 12 accumulators) and the span needs. */
static inline __attribute__((always_inline)) void sc_span(int co, const float *x,
                                                          const int64_t *toff, int64_t n_taps,
                                                          const float *w, const float *b,
                                                          float *out, int64_t ld, int64_t n)
{
    int64_t q = (n + SC_VL - 1) / SC_VL; /* vectors needed */
    int nv = q >= 4 && co <= 3 ? 4 : q >= 2 ? 2 : 1;
#define SC_NV_CASE(co_, nv_)                                                                       \
    case (co_)*8 + (nv_):                                                                          \
        sc_blocks(co_, nv_, x, toff, n_taps, w, b, out, ld, n);                                    \
        break;
    switch (co * 8 + nv) {
        SC_NV_CASE(1, 4)
        SC_NV_CASE(1, 2)
        SC_NV_CASE(1, 1)
        SC_NV_CASE(2, 4)
        SC_NV_CASE(2, 2)
        SC_NV_CASE(2, 1)
        SC_NV_CASE(3, 4)
        SC_NV_CASE(3, 2)
        SC_NV_CASE(3, 1)
        SC_NV_CASE(4, 2)
        SC_NV_CASE(4, 1)
        SC_NV_CASE(5, 2)
        SC_NV_CASE(5, 1)
        SC_NV_CASE(6, 2) SC_NV_CASE(6, 1) default : AU_ASSERT(!"sc_span: co out of range");
    }
#undef SC_NV_CASE
}

/* co (<= SC_MAX_CO) channels of output rows [r0, r0 + nr) of one band in buf. Rows of
 * at least SC_VL outputs go straight to y (channel planes hw apart); narrower ones are
 * computed flat, garbage columns and all, into out and copied. */
AU_KERN_CLONES
static void sc_band(const struct au_win2d *g, int co, const float *buf, const int64_t *toff,
                    const float *w, const float *b, int64_t rs, int64_t r0, int64_t nr, float *y,
                    float *out)
{
    int64_t taps = g->kh * g->kw, hw = g->oh * g->ow;
    if (g->ow >= SC_VL) {
        for (int64_t r = 0; r < nr; r++)
            sc_span(co, buf + r * rs, toff, taps, w, b, y + (r0 + r) * g->ow, hw, g->ow);
        return;
    }
    int64_t len = (nr * rs + SC_VL - 1) / SC_VL * SC_VL;
    sc_span(co, buf, toff, taps, w, b, out, len, len);
    for (int c = 0; c < co; c++)
        for (int64_t r = 0; r < nr; r++)
            copy_floats(y + c * hw + (r0 + r) * g->ow, out + c * len + r * rs, g->ow);
}

struct sc_job {
    const struct au_conv2d *p;
    struct sc_cols cols;
    const float *x, *w, *bias;
    float *y;
    int64_t band;     /* output rows per band; 0: generic code */
    struct phases ph; /* layout of one band */
    int64_t toff[SC_MAX_TAPS];
};

/* Output channels [oc0, oc0 + mult) of one plane, tap by tap (any geometry). */
static void sc_plane_generic(const struct sc_job *j, const float *xp, int64_t oc0, float *yp)
{
    const struct au_win2d *g = &j->p->g;
    int64_t hw = g->oh * g->ow, taps = g->kh * g->kw, mult = j->p->c_out / j->p->c_in;
    for (int64_t m = 0; m < mult; m++) {
        float b = j->bias ? j->bias[oc0 + m] : 0.0f;
        for (int64_t oh = 0; oh < g->oh; oh++) {
            float *yrow = yp + m * hw + oh * g->ow;
            for (int64_t o = 0; o < g->ow; o++)
                yrow[o] = b;
            sc_taps(g, j->cols, xp, j->w + (oc0 + m) * taps, oh, yrow);
        }
    }
}

/* The same channels band by band from phase planes in buf (zeroed before the first
 * plane); out is staging for narrow rows. */
static void sc_plane_fast(const struct sc_job *j, const float *xp, int64_t oc0, float *yp,
                          float *buf, float *out)
{
    const struct au_win2d *g = &j->p->g;
    int64_t taps = g->kh * g->kw, mult = j->p->c_out / j->p->c_in;
    float b[SC_MAX_CO];
    for (int64_t r0 = 0; r0 < g->oh; r0 += j->band) {
        int64_t nr = g->oh - r0 < j->band ? g->oh - r0 : j->band;
        phases_load(g, &j->ph, xp, r0, j->band < g->oh, buf);
        for (int64_t m0 = 0; m0 < mult; m0 += SC_MAX_CO) {
            int co = (int)(mult - m0 < SC_MAX_CO ? mult - m0 : SC_MAX_CO);
            for (int c = 0; c < co; c++)
                b[c] = j->bias ? j->bias[oc0 + m0 + c] : 0.0f;
            sc_band(g, co, buf, j->toff, j->w + (oc0 + m0) * taps, b, j->ph.rs, r0, nr,
                    yp + m0 * g->oh * g->ow, out);
        }
    }
}

/* Planes [lo, hi) of the input, plane = image * c_in + channel; each feeds mult outputs. */
static void sc_planes(void *arg, int64_t lo, int64_t hi)
{
    const struct sc_job *j = arg;
    const struct au_conv2d *p = j->p;
    int64_t mult = p->c_out / p->c_in, hw_in = p->g.h * p->g.w, hw = p->g.oh * p->g.ow;
    float buf[SC_IN_CAP], out[SC_OUT_CAP];
    if (j->band > 0) /* flat outputs past the band read past the planes: zeros too */
        memset(buf, 0, (size_t)(phases_floats(&j->ph) + SC_SLACK(j->ph.rs)) * sizeof(float));
    for (int64_t pl = lo; pl < hi; pl++) {
        int64_t ci = pl % p->c_in;
        const float *xp = j->x + pl * hw_in;
        float *yp = j->y + (pl / p->c_in * p->c_out + ci * mult) * hw;
        if (j->band > 0)
            sc_plane_fast(j, xp, ci * mult, yp, buf, out);
        else
            sc_plane_generic(j, xp, ci * mult, yp);
    }
}

/* Output rows per band that fit the stack buffers, or 0 (generic code). */
static int64_t sc_band_rows(const struct au_win2d *g)
{
    struct phases ph;
    if (g->kh * g->kw > SC_MAX_TAPS || !phases_init(g, 1, &ph))
        return 0;
    int64_t band = SC_BAND / ph.rs > 1 ? SC_BAND / ph.rs : 1;
    band = band < g->oh ? band : g->oh;
    for (; band > 0; band /= 2) {
        phases_init(g, band, &ph);
        int64_t len = (band * ph.rs + SC_VL - 1) / SC_VL * SC_VL;
        if (phases_floats(&ph) + SC_SLACK(ph.rs) <= SC_IN_CAP && SC_MAX_CO * len <= SC_OUT_CAP)
            return band;
    }
    return 0;
}

/* ranges: scratch for 2 * kw int64 column ranges (generic code). */
static void conv_single_channel(const struct au_conv2d *p, const float *x, const float *w,
                                const float *bias, float *y, int64_t *ranges)
{
    const struct au_win2d *g = &p->g;
    struct sc_job j = {.p = p, .x = x, .w = w, .bias = bias, .y = y, .band = sc_band_rows(g)};
    int64_t *lo = ranges, *hi = ranges + g->kw;
    for (int64_t kj = 0; kj < g->kw; kj++)
        au_kern_range(kj * g->dw - g->pl, g->sw, g->w, g->ow, &lo[kj], &hi[kj]);
    j.cols = (struct sc_cols){lo, hi};
    if (j.band > 0) {
        phases_init(g, j.band, &j.ph);
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++)
                j.toff[ki * g->kw + kj] = tap_offset(g, &j.ph, ki, kj);
    }
    au_kern_parallel(p->n * p->c_in, p->c_out / p->c_in * g->oh * g->ow * g->kh * g->kw, sc_planes,
                     &j);
}

/* ---- depthwise, 8 channels at a time ---- */

/* Small depthwise planes (MobileNet's 14x14 down to 4x4) leave the per-plane code with
 * rows of a vector or less. With multiplier 1 and channels in groups of 8, a padded tile
 * of 8 planes interleaved channel-last makes each tap one vector load and one weight
 * vector for 8 channels at once; the tiles are transposed in and out. Same order of
 * operations per output as above, so the same bits. */
#define DW8_CAP 8192 /* floats per tile (padded input, and output) */

struct dw8_job {
    const struct au_conv2d *p;
    const float *x, *w, *bias;
    float *y;
    int64_t hp, wp; /* padded tile: rows and columns the windows reach */
    int64_t toff[SC_MAX_TAPS];
};

/* Padded extent the windows of one axis reach, or 0 if the tiles would not fit. */
static bool dw8_fits(const struct au_conv2d *p, int64_t *hp, int64_t *wp)
{
    const struct au_win2d *g = &p->g;
    if (p->c_out != p->c_in || p->c_in % SC_VL != 0 || g->kh * g->kw > SC_MAX_TAPS)
        return false;
    if (g->oh > DW8_CAP || g->ow > DW8_CAP || g->kh > DW8_CAP || g->kw > DW8_CAP ||
        g->dh > DW8_CAP || g->dw > DW8_CAP || g->sh > DW8_CAP || g->sw > DW8_CAP)
        return false; /* keeps the products below in range */
    *hp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    *wp = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    return *hp * *wp * SC_VL <= DW8_CAP && g->oh * g->ow * SC_VL <= DW8_CAP;
}

/* Outputs o + [0, nv) of output row r: bias, then every tap, from the tile. */
static inline __attribute__((always_inline)) void dw8_block(int nv, const float *tile,
                                                            const int64_t *toff, int64_t taps,
                                                            const float *wt, const sc_vec *bv,
                                                            int64_t base, int64_t step, float *out)
{
    sc_vec acc[4] = {*bv, *bv, *bv, *bv}, xv, wv;
    for (int64_t t = 0; t < taps; t++) {
        memcpy(&wv, wt + t * SC_VL, sizeof(wv));
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            memcpy(&xv, tile + base + v * step + toff[t], sizeof(xv));
            acc[v] += wv * xv;
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        memcpy(out + v * SC_VL, &acc[v], sizeof(acc[v]));
}

/* v[k][l] becomes v[l][k]: unpack pairs, then pairs of pairs, then halves. */
static inline __attribute__((always_inline)) void transpose8(sc_vec *v)
{
    sc_vec t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(v[i], v[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(v[i], v[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; h++) {
            u[i + 2 * h] =
                __builtin_shufflevector(t[i + h], t[i + 2 + h], 0, 1, 8, 9, 4, 5, 12, 13);
            u[i + 2 * h + 1] =
                __builtin_shufflevector(t[i + h], t[i + 2 + h], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int i = 0; i < 4; i++) {
        v[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        v[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* dst[k * ld + l] = src[l * ls + k] for l < 8, k < n: 8 rows into n interleaved columns. */
static inline __attribute__((always_inline)) void
interleave8(float *restrict dst, int64_t ld, const float *restrict src, int64_t ls, int64_t n)
{
    int64_t k = 0;
    for (; k + SC_VL <= n; k += SC_VL) {
        sc_vec v[8];
        for (int l = 0; l < 8; l++)
            memcpy(&v[l], src + l * ls + k, sizeof(v[l]));
        transpose8(v);
        for (int i = 0; i < 8; i++)
            memcpy(dst + (k + i) * ld, &v[i], sizeof(v[i]));
    }
    for (; k < n; k++)
        for (int l = 0; l < 8; l++)
            dst[k * ld + l] = src[l * ls + k];
}

/* dst[l * ld + k] = src[k * 8 + l] for l < 8, k < n: back to 8 rows. */
static inline __attribute__((always_inline)) void
deinterleave8(float *restrict dst, int64_t ld, const float *restrict src, int64_t n)
{
    int64_t k = 0;
    for (; k + SC_VL <= n; k += SC_VL) {
        sc_vec v[8];
        memcpy(v, src + k * SC_VL, sizeof(v));
        transpose8(v);
        for (int l = 0; l < 8; l++)
            memcpy(dst + l * ld + k, &v[l], sizeof(v[l]));
    }
    for (; k < n; k++)
        for (int l = 0; l < 8; l++)
            dst[l * ld + k] = src[k * SC_VL + l];
}

/* Items [lo, hi), item = image * (c / 8) + channel group. */
AU_KERN_CLONES
static void dw8_groups(void *arg, int64_t lo, int64_t hi)
{
    const struct dw8_job *j = arg;
    const struct au_conv2d *p = j->p;
    const struct au_win2d *g = &p->g;
    int64_t groups = p->c_in / SC_VL, taps = g->kh * g->kw, hw = g->oh * g->ow;
    int64_t step = g->sw * SC_VL, hw_in = g->h * g->w;
    float tile[DW8_CAP], out[DW8_CAP], wt[SC_MAX_TAPS * SC_VL];
    memset(tile, 0, (size_t)(j->hp * j->wp * SC_VL) * sizeof(float)); /* padding stays 0 */
    int64_t rlo, rhi, clo, chi; /* input rows and columns inside the tile */
    au_kern_range(g->pt, 1, j->hp, g->h, &rlo, &rhi);
    au_kern_range(g->pl, 1, j->wp, g->w, &clo, &chi);
    for (int64_t it = lo; it < hi; it++) {
        int64_t c0 = it % groups * SC_VL, plane0 = it / groups * p->c_in + c0;
        const float *xp = j->x + plane0 * hw_in;
        sc_vec bv;
        for (int l = 0; l < SC_VL; l++) {
            bv[l] = j->bias ? j->bias[c0 + l] : 0.0f;
            for (int64_t t = 0; t < taps; t++)
                wt[t * SC_VL + l] = j->w[(c0 + l) * taps + t];
        }
        for (int64_t ih = rlo; ih < rhi; ih++)
            interleave8(tile + ((ih + g->pt) * j->wp + clo + g->pl) * SC_VL, SC_VL,
                        xp + ih * g->w + clo, hw_in, chi - clo);
        for (int64_t r = 0; r < g->oh; r++) {
            int64_t row = r * g->sh * j->wp * SC_VL;
            float *orow = out + r * g->ow * SC_VL;
            /* Blocks of 4 outputs, the last one ending at ow (recomputing a few). */
            for (int64_t o = 0; g->ow >= 4 && o < g->ow; o += 4) {
                int64_t oc = o < g->ow - 4 ? o : g->ow - 4;
                dw8_block(4, tile, j->toff, taps, wt, &bv, row + oc * step, step,
                          orow + oc * SC_VL);
            }
            for (int64_t o = 0; g->ow < 4 && o < g->ow; o++)
                dw8_block(1, tile, j->toff, taps, wt, &bv, row + o * step, step, orow + o * SC_VL);
        }
        deinterleave8(j->y + plane0 * hw, hw, out, hw);
    }
}

/* false if the shape does not suit (multiplier 1, channels a multiple of 8, small planes). */
static bool conv_dw8(const struct au_conv2d *p, const float *x, const float *w, const float *bias,
                     float *y)
{
    const struct au_win2d *g = &p->g;
    struct dw8_job j = {.p = p, .x = x, .w = w, .bias = bias, .y = y};
    if (!dw8_fits(p, &j.hp, &j.wp))
        return false;
    for (int64_t ki = 0; ki < g->kh; ki++)
        for (int64_t kj = 0; kj < g->kw; kj++)
            j.toff[ki * g->kw + kj] = (ki * g->dh * j.wp + kj * g->dw) * SC_VL;
    au_kern_parallel(p->n * (p->c_in / SC_VL), SC_VL * g->oh * g->ow * g->kh * g->kw, dw8_groups,
                     &j);
    return true;
}

/* ---- few output channels: direct, the channels of a position in one vector ---- */

/* Small multi-channel convs (LeNet's second: 6 -> 16 channels, 5x5 taps on 14x14) spend
 * more time in im2col's short runs than in sgemm. With at most DOC_CO output channels one
 * vector holds a position's outputs: per tap, one weight vector times a broadcast input,
 * for DOC_POS positions at a time, from a zero-padded copy of the image. Every output is
 * bias, then w * x tap by tap in (channel, row, column) order, whatever the batch, so a
 * compacted batch computes the same bits per sample. */
#define DOC_CO     16
#define DOC_MAX_K  256
#define DOC_IN_CAP 8192
#define DOC_POS    4
#define DOC_NV     (DOC_CO / SC_VL) /* vectors per position */

struct doc_job {
    const struct au_conv2d *p;
    const float *x;
    float *y;
    int64_t hp, wp; /* padded plane the windows reach */
    sc_vec bias[DOC_NV];
    int32_t off[DOC_MAX_K];       /* tap offsets in the padded image */
    sc_vec wt[DOC_MAX_K][DOC_NV]; /* weights tap-major: wt[tap][out channel] */
};

static bool doc_fits(const struct au_conv2d *p, int64_t *hp, int64_t *wp)
{
    const struct au_win2d *g = &p->g;
    if (p->group != 1 || p->c_in < 2 || p->c_out > DOC_CO || is_pointwise(p) ||
        p->c_in * g->kh * g->kw > DOC_MAX_K || g->oh < 1 || g->ow < 1)
        return false;
    *hp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    *wp = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    return *hp <= DOC_IN_CAP && *wp <= DOC_IN_CAP && p->c_in * *hp * *wp <= DOC_IN_CAP;
}

/* The image's channels, zero-padded to hp x wp (padding as the ONNX definition). */
static void doc_pad(const struct doc_job *j, const float *x, float *xp)
{
    const struct au_win2d *g = &j->p->g;
    int64_t lo, hi; /* padded columns that hold input */
    au_kern_range(-g->pl, 1, g->w, j->wp, &lo, &hi);
    for (int64_t c = 0; c < j->p->c_in; c++)
        for (int64_t r = 0; r < j->hp; r++) {
            float *dst = xp + (c * j->hp + r) * j->wp;
            int64_t ir = r - g->pt;
            memset(dst, 0, (size_t)j->wp * sizeof(float));
            if (ir >= 0 && ir < g->h && hi > lo)
                memcpy(dst + lo, x + (c * g->h + ir) * g->w + (lo - g->pl),
                       (size_t)(hi - lo) * sizeof(float));
        }
}

/* Stores one position's outputs (lanes of the accumulators) into their planes. */
static inline __attribute__((always_inline)) void doc_store(sc_vec lo, sc_vec hi, float *y,
                                                            int64_t c_out, int64_t hw)
{
    float t[DOC_CO];
    memcpy(t, &lo, sizeof(lo));
    memcpy(t + SC_VL, &hi, sizeof(hi));
    for (int64_t o = 0; o < c_out; o++)
        y[o * hw] = t[o];
}

/* np (1..4) positions, 16 channels: eight accumulators kept in registers; a short tail
 * repeats its last position so the chains stay independent. */
static inline __attribute__((always_inline)) void doc_block4(const struct doc_job *j,
                                                             const float *base, int64_t sw, int np,
                                                             int64_t k, float *y, int64_t hw)
{
    const int64_t s1 = (np > 1 ? 1 : np - 1) * sw, s2 = (np > 2 ? 2 : np - 1) * sw,
                  s3 = (np > 3 ? 3 : np - 1) * sw;
    sc_vec a0 = j->bias[0], a1 = a0, a2 = a0, a3 = a0;
    sc_vec b0 = j->bias[1], b1 = b0, b2 = b0, b3 = b0;
    for (int64_t t = 0; t < k; t++) {
        sc_vec wl = j->wt[t][0], wh = j->wt[t][1];
        const float *x = base + j->off[t];
        float x0 = x[0], x1 = x[s1], x2 = x[s2], x3 = x[s3];
        a0 = a0 + wl * x0, b0 = b0 + wh * x0;
        a1 = a1 + wl * x1, b1 = b1 + wh * x1;
        a2 = a2 + wl * x2, b2 = b2 + wh * x2;
        a3 = a3 + wl * x3, b3 = b3 + wh * x3;
    }
    int64_t c = j->p->c_out;
    doc_store(a0, b0, y, c, hw);
    if (np > 1)
        doc_store(a1, b1, y + 1, c, hw);
    if (np > 2)
        doc_store(a2, b2, y + 2, c, hw);
    if (np > 3)
        doc_store(a3, b3, y + 3, c, hw);
}

AU_KERN_CLONES
static void doc_images(void *arg, int64_t lo, int64_t hi)
{
    const struct doc_job *j = arg;
    const struct au_conv2d *p = j->p;
    const struct au_win2d *g = &p->g;
    float xp[DOC_IN_CAP];
    int64_t k = p->c_in * g->kh * g->kw, hw = g->oh * g->ow;
    for (int64_t n = lo; n < hi; n++) {
        doc_pad(j, j->x + n * p->c_in * g->h * g->w, xp);
        float *yn = j->y + n * p->c_out * hw;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox += DOC_POS) {
                const float *base = xp + oy * g->sh * j->wp + ox * g->sw;
                float *yo = yn + oy * g->ow + ox;
                int np = g->ow - ox < DOC_POS ? (int)(g->ow - ox) : DOC_POS;
                doc_block4(j, base, g->sw, np, k, yo, hw);
            }
    }
}

static bool doc_job_init(struct doc_job *j, const struct au_conv2d *p, const float *x,
                         const float *w, const float *bias, float *y)
{
    *j = (struct doc_job){.p = p, .x = x, .y = y};
    if (!doc_fits(p, &j->hp, &j->wp))
        return false;
    const struct au_win2d *g = &p->g;
    int64_t k = p->c_in * g->kh * g->kw;
    for (int64_t c = 0, t = 0; c < p->c_in; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++, t++) {
                j->off[t] = (int32_t)((c * j->hp + ki * g->dh) * j->wp + kj * g->dw);
                for (int64_t o = 0; o < DOC_CO; o++)
                    j->wt[t][o / SC_VL][o % SC_VL] = o < p->c_out ? w[o * k + t] : 0.0f;
            }
    for (int64_t o = 0; o < DOC_CO; o++)
        j->bias[o / SC_VL][o % SC_VL] = bias && o < p->c_out ? bias[o] : 0.0f;
    return true;
}

static bool conv_doc(const struct au_conv2d *p, const float *x, const float *w, const float *bias,
                     float *y)
{
    struct doc_job j;
    if (!doc_job_init(&j, p, x, w, bias, y))
        return false;
    const struct au_win2d *g = &p->g;
    au_kern_parallel(p->n, p->c_out * g->oh * g->ow * p->c_in * g->kh * g->kw, doc_images, &j);
    return true;
}

/* ---- the same outputs, only where a changed input region reaches ---- */

/* Outputs o of one axis whose window o * s - pad + t * dil (t < k) can touch [lo, hi]. */
static void cone_axis(int64_t lo, int64_t hi, int64_t s, int64_t pad, int64_t k, int64_t dil,
                      int64_t n_out, int64_t *olo, int64_t *ohi)
{
    int64_t a = lo + pad - (k - 1) * dil, b = hi + pad;
    *olo = a <= 0 ? 0 : (a + s - 1) / s;
    *ohi = b < 0 ? -1 : b / s;
    if (*ohi > n_out - 1)
        *ohi = n_out - 1;
}

void au_kern_win_cone(const struct au_win2d *g, const struct au_box *in, struct au_box *out)
{
    int64_t y0, y1, x0, x1;
    cone_axis(in->y0, in->y1, g->sh, g->pt, g->kh, g->dh, g->oh, &y0, &y1);
    cone_axis(in->x0, in->x1, g->sw, g->pl, g->kw, g->dw, g->ow, &x0, &x1);
    if (y0 > y1 || x0 > x1 || in->y0 > in->y1)
        y0 = 0, y1 = -1, x0 = 0, x1 = -1;
    *out = (struct au_box){(int32_t)y0, (int32_t)y1, (int32_t)x0, (int32_t)x1};
}

struct doc_boxes {
    const struct doc_job *j;
    const int64_t *rows;
    const struct au_box *in;
};

/* Same blocks, same taps, same order as doc_images: each output is computed exactly as
 * there (positions of a block are independent lanes), just fewer of them. */
AU_KERN_CLONES
static void doc_box_images(void *arg, int64_t lo, int64_t hi)
{
    const struct doc_boxes *b = arg;
    const struct doc_job *j = b->j;
    const struct au_conv2d *p = j->p;
    const struct au_win2d *g = &p->g;
    float xp[DOC_IN_CAP];
    int64_t k = p->c_in * g->kh * g->kw, hw = g->oh * g->ow;
    for (int64_t i = lo; i < hi; i++) {
        int64_t n = b->rows[i];
        struct au_box o;
        au_kern_win_cone(g, &b->in[i], &o);
        if (o.y0 > o.y1)
            continue;
        int64_t y0 = o.y0, y1 = o.y1, x0 = o.x0, x1 = o.x1;
        doc_pad(j, j->x + n * p->c_in * g->h * g->w, xp);
        float *yn = j->y + n * p->c_out * hw;
        for (int64_t oy = y0; oy <= y1; oy++)
            for (int64_t ox = x0; ox <= x1; ox += DOC_POS) {
                const float *base = xp + oy * g->sh * j->wp + ox * g->sw;
                int np = x1 + 1 - ox < DOC_POS ? (int)(x1 + 1 - ox) : DOC_POS;
                doc_block4(j, base, g->sw, np, k, yn + oy * g->ow + ox, hw);
            }
    }
}

bool au_kern_conv2d_boxes_ok(const struct au_conv2d *p)
{
    int64_t hp, wp;
    return doc_fits(p, &hp, &wp);
}

void au_kern_conv2d_boxes(const struct au_conv2d *p, const float *x, const float *w,
                          const float *bias, float *y, const int64_t *rows, const struct au_box *in,
                          int64_t n)
{
    struct doc_job j;
    if (n < 1 || !doc_job_init(&j, p, x, w, bias, y))
        return;
    struct doc_boxes b = {&j, rows, in};
    doc_box_images(&b, 0, n);
}

void au_kern_conv2d(const struct au_conv2d *p, const float *x, const float *w, const float *bias,
                    float *y, void *scratch)
{
    AU_ASSERT(p->group >= 1 && p->c_in % p->group == 0 && p->c_out % p->group == 0);
    if (is_single_channel(p) && !conv_dw8(p, x, w, bias, y))
        conv_single_channel(p, x, w, bias, y, scratch);
    else if (is_single_channel(p))
        return;
    else if (is_pointwise(p))
        conv_pointwise(p, x, w, bias, y);
    else if (!conv_doc(p, x, w, bias, y))
        conv_im2col(p, x, w, bias, y, scratch);
}
