/* Internal kernels of the nn op family (Conv, pools, Gemm, MatMul), used by ops_nn.c.
 * Kernels take plain, already validated geometry: ops_nn.c checks shapes and attributes
 * in infer(), so a kernel only asserts invariants and never fails on data. 1-D windows
 * run as 2-D ones with H = 1, so there is one code path to optimise and to test.
 * Sizes are int64_t; BLAS dims fit in int (ops_nn.c refuses larger ones). */
#ifndef AU_KERN_H
#define AU_KERN_H

#include "tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hot elementwise loops are compiled for AVX2 too and picked at load time (GCC/clang
 * function multiversioning). The clones enable AVX2 but not FMA, so a * b + c is never
 * fused: every clone rounds like the baseline and results do not depend on the CPU. */
#if defined(__SANITIZE_THREAD__) /* TSan instruments the ifunc resolver, which then runs */
#define AU_KERN_NO_CLONES_ 1     /* before the TSan runtime and crashes at load time */
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define AU_KERN_NO_CLONES_ 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(AU_KERN_NO_CLONES_)
#define AU_KERN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AU_KERN_CLONES
#endif

/* A sliding window over one H x W plane. Padding is implicit: taps outside the input
 * read as zero (Conv) or are skipped (pools). */
struct au_win2d {
    int64_t h, w;   /* input plane */
    int64_t oh, ow; /* output plane */
    int64_t kh, kw; /* kernel taps */
    int64_t sh, sw; /* strides */
    int64_t dh, dw; /* dilations */
    int64_t pt, pl; /* padding before: top, left */
    int64_t pb, pr; /* padding after: bottom, right (AveragePool divisor only) */
};

/* Conv of n images [c_in, h, w] by weights [c_out, c_in / group, kh, kw]. */
struct au_conv2d {
    struct au_win2d g;
    int64_t n, c_in, c_out, group;
};

/* Valid output range [*lo, *hi) of o in [0, n_out) such that o * stride + off lies in
 * [0, len): the taps of one kernel offset that hit the input, with no per-element test. */
static inline void au_kern_range(int64_t off, int64_t stride, int64_t len, int64_t n_out,
                                 int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = len - off <= 0 ? 0 : (len - off + stride - 1) / stride;
    l = l < n_out ? l : n_out;
    h = h < n_out ? h : n_out;
    *lo = l;
    *hi = h > l ? h : l;
}

/* Scratch bytes au_kern_conv2d needs for p (0 for the pointwise path; SIZE_MAX if the
 * size overflows). */
size_t au_kern_conv2d_scratch(const struct au_conv2d *p);
/* y[n, c_out, oh, ow] = conv(x, w) + bias (bias may be NULL). scratch holds at least
 * au_kern_conv2d_scratch(p) bytes, 64-byte aligned. */
void au_kern_conv2d(const struct au_conv2d *p, const float *x, const float *w, const float *bias,
                    float *y, void *scratch);

/* A region of an image plane: rows y0..y1, columns x0..x1 (inclusive). */
struct au_box {
    int32_t y0, y1, x0, x1;
};
/* The outputs of window g whose windows reach input region in (empty if none). */
void au_kern_win_cone(const struct au_win2d *g, const struct au_box *in, struct au_box *out);
/* Whether au_kern_conv2d_boxes can run p (the direct kernel: few output channels). */
bool au_kern_conv2d_boxes_ok(const struct au_conv2d *p);
/* For images rows[0..n) of y: recompute only the outputs whose windows reach the input
 * region in[i] of image rows[i] (au_kern_win_cone), bit for bit as au_kern_conv2d computes
 * them; every other output is left as it is (a previous run's, whose input differed only
 * there). */
void au_kern_conv2d_boxes(const struct au_conv2d *p, const float *x, const float *w,
                          const float *bias, float *y, const int64_t *rows, const struct au_box *in,
                          int64_t n);
/* The same for max pooling of images [c, h, w]: outputs of rows[i] in the cone of in[i]. */
void au_kern_maxpool2d_boxes(const struct au_win2d *g, int64_t c, const float *x, float *y,
                             const int64_t *rows, const struct au_box *in, int64_t n);

/* Pools over n_planes independent planes, x [n_planes, h, w] -> y [n_planes, oh, ow].
 * scratch holds au_kern_pool_scratch(g) bytes (column ranges), 8-byte aligned. */
size_t au_kern_pool_scratch(const struct au_win2d *g);
void au_kern_maxpool2d(const struct au_win2d *g, int64_t n_planes, const float *x, float *y,
                       void *scratch);
void au_kern_avgpool2d(const struct au_win2d *g, int64_t n_planes, bool count_include_pad,
                       const float *x, float *y, void *scratch);
/* y[i] = max or mean of the plane_len values of plane i. */
void au_kern_global_pool(int64_t n_planes, int64_t plane_len, bool is_max, const float *x,
                         float *y);

/* Row-major C = alpha * op(A) op(B) + beta * C with op(A) [m, k], op(B) [k, n]. Safe for
 * zero dims (k == 0 scales C by beta), where cblas would reject the leading dims. */
void au_kern_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc);

/* Batched matmul with numpy broadcasting: y[b] = a[b] [m, k] x b[b] [k, n] for every
 * index of the out batch shape; a_stride/b_stride are element strides per batch dim,
 * 0 on broadcast dims. */
struct au_matmul {
    int n_batch;
    int64_t batch[AU_MAX_DIMS];
    int64_t a_stride[AU_MAX_DIMS], b_stride[AU_MAX_DIMS];
    int64_t m, n, k;
};
void au_kern_matmul(const struct au_matmul *p, const float *a, const float *b, float *y);

/* Run fn(arg, lo, hi) over chunks of [0, n), one chunk per BLAS thread (inline when the
 * work, n * work_per_item element operations, is small). Each item is done by exactly
 * one call, so results never depend on the thread count. */
void au_kern_parallel(int64_t n, int64_t work_per_item,
                      void (*fn)(void *arg, int64_t lo, int64_t hi), void *arg);

#endif
