/* Cross-entropy by log-sum-exp in double so golden and faulty losses are comparable to
 * 1e-12, and Top1-Conf / Top2Diff as GoldenEye's profile defines them. */
#include "metrics.h"

#include <math.h>

int64_t au_argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best] || (x[best] != x[best] && x[i] == x[i]))
            best = i;
    return best;
}

static bool row_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

int au_metrics_sample(const float *logits, int64_t n_pos, int64_t n_classes, const int64_t *labels,
                      struct au_sample_metrics *out)
{
    int rc = 0;
    double loss = 0, acc = 0, conf = 0, diff = 0;
    out->finite = true;
    out->top1 = n_classes > 0 ? au_argmax(logits, n_classes) : 0;
    for (int64_t p = 0; p < n_pos; p++) {
        const float *x = logits + p * n_classes;
        int64_t a = au_argmax(x, n_classes);
        if (!row_finite(x, n_classes))
            out->finite = false;
        double m = x[a], sum = 0, p1 = 0, p2 = 0;
        for (int64_t c = 0; c < n_classes; c++)
            sum += exp((double)x[c] - m);
        double lse = m + log(sum);
        for (int64_t c = 0; c < n_classes; c++) {
            double pr = exp((double)x[c] - lse);
            if (c == a)
                p1 = pr;
            else if (pr > p2)
                p2 = pr;
        }
        conf += p1;
        diff += p1 - p2;
        int64_t y = labels[p];
        if (y < 0 || y >= n_classes) {
            rc = -1;
            continue;
        }
        loss += lse - (double)x[y];
        acc += (a == y);
    }
    double inv = n_pos > 0 ? 1.0 / (double)n_pos : 0;
    out->loss = out->finite ? loss * inv : NAN;
    out->accuracy = acc * inv;
    out->top1_conf = conf * inv;
    out->top2_diff = diff * inv;
    return rc;
}
