/* Per-sample metrics of model outputs: the quantities every golden run, emulation and
 * fault trial reports. Classification: logits [C] and one label. Language model: logits
 * [T, V] and T targets; loss is the mean token cross-entropy and accuracy the fraction of
 * positions whose top-1 is the target. All in double; non-finite logits are flagged,
 * never silently folded into means. */
#ifndef AU_METRICS_H
#define AU_METRICS_H

#include <stdbool.h>
#include <stdint.h>

struct au_sample_metrics {
    double loss;      /* natural-log cross-entropy (mean over positions) */
    double accuracy;  /* 1/0 for one position; fraction of positions otherwise */
    double top1_conf; /* mean top softmax probability */
    double top2_diff; /* mean (top-1 minus top-2 probability) */
    int64_t top1;     /* argmax of the first position (classification prediction) */
    bool finite;      /* false if any logit is NaN or inf */
};

/* logits: n_pos rows of n_classes; labels: n_pos targets (a target outside [0, n_classes)
 * counts as wrong and contributes no loss: it is reported through the return value,
 * -1, so callers can refuse bad label files). */
int au_metrics_sample(const float *logits, int64_t n_pos, int64_t n_classes, const int64_t *labels,
                      struct au_sample_metrics *out);
/* Index of the largest of n values (first on ties; NaN never wins). */
int64_t au_argmax(const float *x, int64_t n);

#endif
