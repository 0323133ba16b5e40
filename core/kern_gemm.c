/* GEMM kernels on OpenBLAS: a guarded cblas_sgemm wrapper and numpy-style batched
 * matmul. All heavy lifting is sgemm on the largest contiguous panels we can form: when
 * B carries no batch and A's batch is dense, the batch folds into M and one call does
 * everything (the common Linear-on-sequence case); otherwise one call per batch index.
 * au_kern_parallel splits the non-BLAS kernels over the BLAS thread count. */
#include "kern.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>

/* Threads for au_kern_parallel: at most this many, and only for this much work (in
 * element operations), below which thread start-up (~20 us) costs more than it saves. */
#define PAR_MAX_THREADS 64
#define PAR_MIN_WORK    (1 << 18)

static blasint ld_of(int64_t ld)
{
    /* cblas rejects ld < 1 even when the matrix is empty. */
    return (blasint)(ld < 1 ? 1 : ld);
}

/* A one-row or one-column product is a matrix-vector product: sgemv streams the matrix
 * once, where sgemm would pack it first (batch-1 classifiers, 1-D MatMul). */
static void gemv(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc)
{
    int64_t len = m == 1 ? n : m, inc_c = m == 1 ? 1 : ldc;
    if (beta == 0.0f) /* beta = 0 must overwrite, even NaN garbage, whatever scal does */
        for (int64_t i = 0; i < len; i++)
            c[i * inc_c] = 0.0f;
    if (m == 1) { /* c = op(B)^T x with x = row of op(A) */
        blasint inc_x = (blasint)(trans_a ? lda : 1);
        if (trans_b)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)n, (blasint)k, alpha, b, ld_of(ldb),
                        a, inc_x, beta, c, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)k, (blasint)n, alpha, b, ld_of(ldb), a,
                        inc_x, beta, c, 1);
        return;
    }
    blasint inc_x = (blasint)(trans_b ? 1 : ldb); /* column of op(B) */
    if (trans_a)
        cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)k, (blasint)m, alpha, a, ld_of(lda), b,
                    inc_x, beta, c, (blasint)ldc);
    else
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)m, (blasint)k, alpha, a, ld_of(lda), b,
                    inc_x, beta, c, (blasint)ldc);
}

void au_kern_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        for (int64_t i = 0; i < m; i++) {
            float *row = c + i * ldc;
            if (beta == 0.0f)
                memset(row, 0, (size_t)n * sizeof(*row));
            else
                for (int64_t j = 0; j < n; j++)
                    row[j] *= beta;
        }
        return;
    }
    if (m == 1 || n == 1) {
        gemv(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                ld_of(lda), b, ld_of(ldb), beta, c, ld_of(ldc));
}

/* True when B is shared by every batch and A's batches are laid out densely. */
static bool batch_folds_into_m(const struct au_matmul *p)
{
    int64_t dense = p->m * p->k;
    for (int i = p->n_batch - 1; i >= 0; i--) {
        if (p->batch[i] != 1 && (p->b_stride[i] != 0 || p->a_stride[i] != dense))
            return false;
        dense *= p->batch[i];
    }
    return true;
}

void au_kern_matmul(const struct au_matmul *p, const float *a, const float *b, float *y)
{
    int64_t n_total = 1;
    for (int i = 0; i < p->n_batch; i++)
        n_total *= p->batch[i];
    if (n_total == 0)
        return;
    if (batch_folds_into_m(p)) {
        au_kern_sgemm(false, false, n_total * p->m, p->n, p->k, 1.0f, a, p->k, b, p->n, 0.0f, y,
                      p->n);
        return;
    }
    int64_t idx[AU_MAX_DIMS] = {0};
    int64_t a_off = 0, b_off = 0, y_step = p->m * p->n;
    for (int64_t t = 0; t < n_total; t++) {
        au_kern_sgemm(false, false, p->m, p->n, p->k, 1.0f, a + a_off, p->k, b + b_off, p->n, 0.0f,
                      y + t * y_step, p->n);
        /* Odometer increment: offsets follow the broadcast strides. */
        for (int i = p->n_batch - 1; i >= 0; i--) {
            a_off += p->a_stride[i];
            b_off += p->b_stride[i];
            if (++idx[i] < p->batch[i])
                break;
            a_off -= p->a_stride[i] * p->batch[i];
            b_off -= p->b_stride[i] * p->batch[i];
            idx[i] = 0;
        }
    }
}

struct par_job {
    void (*fn)(void *arg, int64_t lo, int64_t hi);
    void *arg;
    int64_t lo, hi;
};

static void *par_main(void *p)
{
    struct par_job *j = p;
    j->fn(j->arg, j->lo, j->hi);
    return NULL;
}

void au_kern_parallel(int64_t n, int64_t work_per_item,
                      void (*fn)(void *arg, int64_t lo, int64_t hi), void *arg)
{
    int64_t t = openblas_get_num_threads();
    t = t < PAR_MAX_THREADS ? t : PAR_MAX_THREADS;
    t = t < n ? t : n;
    if (t <= 1 || n * work_per_item < PAR_MIN_WORK) {
        fn(arg, 0, n);
        return;
    }
    struct par_job jobs[PAR_MAX_THREADS];
    pthread_t tid[PAR_MAX_THREADS];
    bool started[PAR_MAX_THREADS] = {false};
    for (int64_t i = 0; i < t; i++)
        jobs[i] = (struct par_job){fn, arg, n * i / t, n * (i + 1) / t};
    for (int64_t i = 1; i < t; i++)
        started[i] = pthread_create(&tid[i], NULL, par_main, &jobs[i]) == 0;
    fn(arg, jobs[0].lo, jobs[0].hi);
    for (int64_t i = 1; i < t; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else /* no thread to be had: do the chunk here, same result */
            fn(arg, jobs[i].lo, jobs[i].hi);
    }
}
