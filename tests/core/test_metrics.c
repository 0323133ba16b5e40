/* Loss, accuracy, Top1-Conf and Top2Diff against values computed by hand. */
#include "../check.h"
#include "metrics.h"

#include <math.h>

static void test_two_equal_logits_give_ln2(void)
{
    float x[2] = {3.0f, 3.0f};
    int64_t y = 1;
    struct au_sample_metrics m;
    CHECK_EQ_INT(au_metrics_sample(x, 1, 2, &y, &m), 0);
    CHECK_NEAR(m.loss, log(2.0), 1e-12);
    CHECK_EQ_INT(m.top1, 0); /* first on ties */
    CHECK_NEAR(m.accuracy, 0.0, 0);
    CHECK_NEAR(m.top1_conf, 0.5, 1e-12);
    CHECK_NEAR(m.top2_diff, 0.0, 1e-12);
    CHECK(m.finite);
}

static void test_large_logits_are_stable(void)
{
    float x[3] = {1000.0f, 0.0f, -1000.0f};
    int64_t y = 0;
    struct au_sample_metrics m;
    au_metrics_sample(x, 1, 3, &y, &m);
    CHECK_NEAR(m.loss, 0.0, 1e-12);
    CHECK_NEAR(m.top1_conf, 1.0, 1e-12);
    CHECK_NEAR(m.accuracy, 1.0, 0);
    y = 2;
    au_metrics_sample(x, 1, 3, &y, &m);
    CHECK_NEAR(m.loss, 2000.0, 1e-9);
}

static void test_language_model_means_over_positions(void)
{
    /* two positions, vocab 3: position 0 right, position 1 wrong */
    float x[6] = {2, 0, 0, 0, 0, 1};
    int64_t y[2] = {0, 1};
    struct au_sample_metrics m;
    au_metrics_sample(x, 2, 3, y, &m);
    double l0 = log(exp(2.0) + 2.0) - 2.0, l1 = log(2.0 + exp(1.0)) - 0.0;
    CHECK_NEAR(m.loss, (l0 + l1) / 2, 1e-12);
    CHECK_NEAR(m.accuracy, 0.5, 0);
    double p0 = exp(2.0) / (exp(2.0) + 2), q0 = 1 / (exp(2.0) + 2);
    double p1 = exp(1.0) / (exp(1.0) + 2), q1 = 1 / (exp(1.0) + 2);
    CHECK_NEAR(m.top1_conf, (p0 + p1) / 2, 1e-12);
    CHECK_NEAR(m.top2_diff, ((p0 - q0) + (p1 - q1)) / 2, 1e-12);
}

static void test_nonfinite_and_bad_labels_are_reported(void)
{
    float x[3] = {1.0f, NAN, 0.0f};
    int64_t y = 0;
    struct au_sample_metrics m;
    au_metrics_sample(x, 1, 3, &y, &m);
    CHECK(!m.finite);
    CHECK(isnan(m.loss));
    CHECK_EQ_INT(m.top1, 0);
    float z[2] = {1, 2};
    y = 5;
    CHECK_EQ_INT(au_metrics_sample(z, 1, 2, &y, &m), -1);
}

int main(void)
{
    test_two_equal_logits_give_ln2();
    test_large_logits_are_stable();
    test_language_model_means_over_positions();
    test_nonfinite_and_bad_labels_are_reported();
    return check_report("test_metrics");
}
