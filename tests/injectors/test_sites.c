/* Site spaces and site sampling against the fault model's laws. Each goodness-of-fit
 * check is Pearson's chi-square at alpha = 0.001 (adjacent bins merged until each
 * expects >= 5; p-value from au_poisson_gamma_q, tested in test_poisson). The default
 * seed makes every check deterministic; another AURUM_TEST_SEED fails a given fit with
 * probability 0.001 and prints the seed.
 */
#include "injectors/poisson.h"
#include "injectors/sites.h"
#include "tests/check.h"

#include <string.h>
#include <time.h>

#define ALPHA 0.001

static struct au_site buf[4096];

/* Chi-square fit of obs[0..n) to weights w[0..n) (any scale); prints on failure. */
static void gof(const char *what, const uint64_t *o, const double *w, size_t n)
{
    double wsum = 0.0, total = 0.0;
    for (size_t i = 0; i < n; i++) {
        wsum += w[i];
        total += (double)o[i];
    }
    double chi2 = 0.0, e_acc = 0.0, o_acc = 0.0, e_last = 0.0, o_last = 0.0;
    int groups = 0;
    for (size_t i = 0; i < n; i++) {
        e_acc += total * w[i] / wsum;
        o_acc += (double)o[i];
        if (w[i] == 0.0)
            CHECK(o[i] == 0); /* an impossible category must stay empty */
        if (e_acc < 5.0 && i + 1 < n)
            continue;
        if (e_acc < 5.0 && groups > 0) { /* short tail: fold into the previous group */
            chi2 -= (o_last - e_last) * (o_last - e_last) / e_last;
            e_acc += e_last;
            o_acc += o_last;
            groups--;
        }
        if (e_acc > 0.0)
            chi2 += (o_acc - e_acc) * (o_acc - e_acc) / e_acc;
        e_last = e_acc, o_last = o_acc;
        groups++;
        e_acc = o_acc = 0.0;
    }
    int dof = groups - 1;
    double p = dof > 0 ? au_poisson_gamma_q(0.5 * dof, 0.5 * chi2) : 0.0;
    CHECK(dof > 0);
    CHECK(p >= ALPHA);
    if (!(p >= ALPHA))
        fprintf(stderr, "%s: chi2=%.3f dof=%d p=%.3g < %g (seed %" PRIu64 ")\n", what, chi2, dof, p,
                ALPHA, check_seed());
}

static struct au_pcg32 stream(uint64_t id)
{
    struct au_pcg32 r;
    au_pcg32_seed(&r, check_seed(), id);
    return r;
}

static au_site_space *space_new(void)
{
    au_site_space *s = NULL;
    CHECK_EQ_INT(au_site_space_new(&s, NULL), AU_OK);
    return s;
}

static uint32_t add(au_site_space *s, const struct au_site_tensor *t)
{
    uint32_t idx = UINT32_MAX;
    struct au_diag d = {{0}};
    int rc = au_site_space_add(s, t, &idx, &d);
    CHECK_EQ_INT(rc, AU_OK);
    if (rc < 0)
        fprintf(stderr, "add: %s\n", d.msg);
    return idx;
}

/* rc is the wanted status and the message names the tensor (or field) in want. */
static void expect_error(int rc, int want_rc, const struct au_diag *d, const char *want)
{
    CHECK_EQ_INT(rc, want_rc);
    CHECK(strstr(d->msg, want) != NULL);
    CHECK(strchr(d->msg, '\n') == NULL);
    if (!strstr(d->msg, want))
        fprintf(stderr, "message '%s' lacks '%s'\n", d->msg, want);
}

static void test_add_and_set_rate_reject_bad_input(void)
{
    au_site_space *s = space_new();
    struct au_diag d = {{0}};
    const struct au_site_tensor good = {"conv1.out", 100, 10, 8, 8, 0xff, 0x0f, 1e-9, 2.0};
    struct au_site_tensor t = good;
    t.n_elem = 0;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_INVALID, &d, "conv1.out: n_elem");
    t = good, t.elem_bits = 65;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_RANGE, &d, "conv1.out: elem_bits 65");
    t = good, t.elem_mask = 0x1ff;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_RANGE, &d, "elem_mask targets bit 8");
    t = good, t.meta_bits = 0;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_INVALID, &d, "no metadata");
    t = good, t.meta_mask = 0x100;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_RANGE, &d, "meta_mask targets bit 8");
    t = good, t.rate = -1.0;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_RANGE, &d, "conv1.out: rate");
    t = good, t.rate = NAN;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_RANGE, &d, "conv1.out: rate");
    t = good, t.live_time = INFINITY;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_RANGE, &d, "live_time");
    t = good, t.name = NULL, t.n_elem = 0;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_INVALID, &d, "tensor 0: n_elem");
    t = good, t.n_elem = SIZE_MAX, t.elem_mask = 0xff;
    expect_error(au_site_space_add(s, &t, NULL, &d), AU_OVERFLOW, &d, "conv1.out");
    CHECK_EQ_U64(au_site_space_count(s), 0);

    uint32_t i = add(s, &good);
    CHECK_EQ_U64(i, 0);
    expect_error(au_site_space_set_rate(s, 1, AU_FAULT_ELEM, 1, 1.0, &d), AU_RANGE, &d,
                 "tensor 1 out of range");
    expect_error(au_site_space_set_rate(s, 0, AU_FAULT_META, 0x100, 1.0, &d), AU_RANGE, &d,
                 "conv1.out: rate for bit 8");
    expect_error(au_site_space_set_rate(s, 0, 7, 1, 1.0, &d), AU_RANGE, &d, "unknown target");
    expect_error(au_site_space_set_rate(s, 0, AU_FAULT_ELEM, 1, -2.0, &d), AU_RANGE, &d, "rate -2");

    struct au_pcg32 r = stream(1);
    size_t n = 99;
    uint32_t bad[] = {0, 3}, unsorted[] = {0, 0};
    struct au_sites_process p = {AU_SITES_MODEL_WIDE, -1.0, NULL, 0};
    expect_error(au_sites_poisson(s, &p, &r, buf, 8, &n, &d), AU_RANGE, &d, "time t -1");
    CHECK_EQ_U64(n, 0);
    p = (struct au_sites_process){5u, 1.0, NULL, 0};
    expect_error(au_sites_poisson(s, &p, &r, buf, 8, &n, &d), AU_RANGE, &d, "timing 5");
    p = (struct au_sites_process){AU_SITES_LAYER_WISE, 0.0, bad, 2};
    expect_error(au_sites_poisson(s, &p, &r, buf, 8, &n, &d), AU_RANGE, &d, "tensor 3");
    p.tensors = unsorted;
    expect_error(au_sites_poisson(s, &p, &r, buf, 8, &n, &d), AU_INVALID, &d, "ascending");
    expect_error(au_sites_uniform(s, 4, 1, &r, buf, &d), AU_RANGE, &d, "tensor 4");
    au_site_space_free(s);
    au_site_space_free(NULL);
}

static void test_site_counts_and_total_rates(void)
{
    au_site_space *s = space_new();
    struct au_site_tensor t = {"w", 1000, 20, 16, 8, 0xf0f0, 0x81, 2e-9, 3.0};
    uint32_t i = add(s, &t);
    CHECK_EQ_U64(au_site_space_n_sites(s, i), 1000 * 8 + 20 * 2);
    CHECK_NEAR(au_site_space_rate(s, i), (8000 + 40) * 2e-9, 1e-18);
    /* Metadata in safer storage: its rate drops, codes keep theirs. */
    CHECK_EQ_INT(au_site_space_set_rate(s, i, AU_FAULT_META, 0xff, 1e-11, NULL), AU_OK);
    /* Untargeted positions keep the override but add nothing. */
    CHECK_EQ_INT(au_site_space_set_rate(s, i, AU_FAULT_ELEM, 0x000f, 5.0, NULL), AU_OK);
    CHECK_NEAR(au_site_space_rate(s, i), 8000 * 2e-9 + 40 * 1e-11, 1e-18);
    double mu = 0.0;
    struct au_sites_process p = {AU_SITES_LAYER_WISE, 0.0, NULL, 0};
    CHECK_EQ_INT(au_sites_mu(s, &p, &mu, NULL), AU_OK);
    CHECK_NEAR(mu, 3.0 * (8000 * 2e-9 + 40 * 1e-11), 1e-18);
    p = (struct au_sites_process){AU_SITES_MODEL_WIDE, 10.0, NULL, 0};
    CHECK_EQ_INT(au_sites_mu(s, &p, &mu, NULL), AU_OK);
    CHECK_NEAR(mu, 10.0 * (8000 * 2e-9 + 40 * 1e-11), 1e-18);
    au_site_space_free(s);
}

/* GoldenEye-style uniform sites: 1000 codes x 5 targeted bits (a non-contiguous mask)
 * and 50 blocks x 3 targeted bits; every targeted site equally likely. */
static void test_uniform_sites_are_uniform_over_targeted_bits(void)
{
    au_site_space *s = space_new();
    struct au_site_tensor t = {"fc1.out", 1000, 50, 8, 8, 0xb5, 0x92, 0.0, 0.0};
    add(s, &t); /* tensor 0 is a decoy: sites must name tensor 1 */
    uint32_t ti = add(s, &t);
    static uint64_t cls[16], half[2], elem_bin[20], block[50];
    memset(cls, 0, sizeof(cls));
    struct au_pcg32 r = stream(2);
    uint64_t n_draws = 0;
    for (int round = 0; round < 200; round++) {
        buf[1000].fault.bit = 0xdead;
        CHECK_EQ_INT(au_sites_uniform(s, ti, 1000, &r, buf, NULL), AU_OK);
        CHECK_EQ_U64(buf[1000].fault.bit, 0xdead); /* exactly k written */
        for (int i = 0; i < 1000; i++, n_draws++) {
            const struct au_site *x = &buf[i];
            CHECK(x->tensor == ti && x->fault.kind == AU_FAULT_FLIP && x->fault.target <= 1);
            CHECK(x->fault.bit < 8);
            cls[x->fault.target * 8 + (x->fault.bit & 7)]++;
            half[x->fault.target]++;
            if (x->fault.target == AU_FAULT_ELEM && x->fault.index < 1000)
                elem_bin[x->fault.index / 50]++;
            else if (x->fault.target == AU_FAULT_META && x->fault.index < 50)
                block[x->fault.index]++;
            else
                CHECK(!"index out of range");
        }
    }
    double w_cls[16];
    for (int b = 0; b < 8; b++) {
        w_cls[b] = ((0xb5 >> b) & 1) ? 1000.0 : 0.0;
        w_cls[8 + b] = ((0x92 >> b) & 1) ? 50.0 : 0.0;
    }
    gof("uniform: (target, bit)", cls, w_cls, 16);
    double w_half[2] = {5000.0, 150.0}, w_eq[50];
    gof("uniform: codes vs metadata", half, w_half, 2);
    for (int i = 0; i < 50; i++)
        w_eq[i] = 1.0;
    gof("uniform: element index", elem_bin, w_eq, 20);
    gof("uniform: block index", block, w_eq, 50);
    CHECK_EQ_U64(n_draws, 200000);

    struct au_diag d = {{0}};
    t.elem_mask = t.meta_mask = 0;
    t.name = "empty";
    uint32_t e = add(s, &t);
    expect_error(au_sites_uniform(s, e, 1, &r, buf, &d), AU_INVALID, &d, "empty: no targeted");
    au_site_space_free(s);
}

/* Sites by lambda: codes bits 0..3 at 4x the default, bit 7 at rate 0, metadata at
 * 10x; N per trial ~ Poisson(t Lambda). */
static void test_poisson_bits_proportional_to_lambda(void)
{
    au_site_space *s = space_new();
    struct au_site_tensor t = {"conv2.w", 4000, 40, 8, 8, 0xff, 0xff, 1e-3, 0.0};
    uint32_t ti = add(s, &t);
    CHECK_EQ_INT(au_site_space_set_rate(s, ti, AU_FAULT_ELEM, 0x0f, 4e-3, NULL), AU_OK);
    CHECK_EQ_INT(au_site_space_set_rate(s, ti, AU_FAULT_ELEM, 0x80, 0.0, NULL), AU_OK);
    CHECK_EQ_INT(au_site_space_set_rate(s, ti, AU_FAULT_META, 0xff, 1e-2, NULL), AU_OK);
    double w_cls[16], lambda = 0.0;
    for (int b = 0; b < 8; b++) {
        w_cls[b] = 4000.0 * (b < 4 ? 4e-3 : b == 7 ? 0.0 : 1e-3);
        w_cls[8 + b] = 40.0 * 1e-2;
        lambda += w_cls[b] + w_cls[8 + b];
    }
    CHECK_NEAR(au_site_space_rate(s, ti), lambda, 1e-12);
    struct au_sites_process p = {AU_SITES_MODEL_WIDE, 0.05, NULL, 0};
    double mu = 0.05 * lambda;
    static uint64_t cls[16], counts[40], elem_bin[10];
    double w_n[40], w_eq[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int k = 0; k < 39; k++)
        w_n[k] = exp(-mu + k * log(mu) - au_poisson_log_factorial((uint64_t)k));
    w_n[39] = au_poisson_gamma_q(39.0, mu) < 1.0 ? 1.0 - au_poisson_gamma_q(39.0, mu) : 0.0;
    struct au_pcg32 r = stream(3);
    for (int trial = 0; trial < 20000; trial++) {
        size_t n = 0;
        CHECK_EQ_INT(au_sites_poisson(s, &p, &r, buf, 4096, &n, NULL), AU_OK);
        counts[n < 39 ? n : 39]++;
        for (size_t i = 0; i < n; i++) {
            cls[buf[i].fault.target * 8 + buf[i].fault.bit]++;
            if (buf[i].fault.target == AU_FAULT_ELEM)
                elem_bin[buf[i].fault.index * 10 / 4000]++;
            CHECK(buf[i].fault.index < (buf[i].fault.target ? 40u : 4000u));
        }
    }
    gof("poisson: (target, bit) by lambda", cls, w_cls, 16);
    gof("poisson: N ~ Poisson(t Lambda)", counts, w_n, 40);
    gof("poisson: element index", elem_bin, w_eq, 10);
    au_site_space_free(s);
}

/* Four tensors with Lambda = 800, 1200, 0, 800 (+ metadata on the first). */
static au_site_space *four_tensors(void)
{
    au_site_space *s = space_new();
    struct au_site_tensor t[4] = {
        {"l0", 90, 10, 8, 8, 0xff, 0xff, 1.0, 1e-3},
        {"l1", 300, 0, 8, 0, 0x0f, 0, 1.0, 2e-4},
        {"l2", 50, 0, 4, 0, 0x0f, 0, 0.0, 5.0},
        {"l3", 200, 0, 8, 0, 0xff, 0, 0.5, 1.5e-3},
    };
    for (int i = 0; i < 4; i++)
        CHECK_EQ_U64(add(s, &t[i]), i);
    return s;
}

static void test_model_wide_picks_tensors_by_lambda(void)
{
    au_site_space *s = four_tensors();
    double w_all[4] = {800, 1200, 0, 800}, w_sub[4] = {0, 1200, 0, 800};
    uint32_t sub[] = {1, 3};
    for (int pass = 0; pass < 2; pass++) {
        struct au_sites_process p = {AU_SITES_MODEL_WIDE, 2.0 / 2800.0, pass ? sub : NULL,
                                     pass ? 2 : 0};
        double mu = 0.0;
        CHECK_EQ_INT(au_sites_mu(s, &p, &mu, NULL), AU_OK);
        CHECK_NEAR(mu, pass ? 2000.0 * 2.0 / 2800.0 : 2.0, 1e-12);
        static uint64_t hit[4];
        memset(hit, 0, sizeof(hit));
        struct au_pcg32 r = stream(4 + pass);
        for (int trial = 0; trial < 20000; trial++) {
            size_t n = 0;
            CHECK_EQ_INT(au_sites_poisson(s, &p, &r, buf, 4096, &n, NULL), AU_OK);
            for (size_t i = 0; i < n; i++)
                hit[buf[i].tensor < 4 ? buf[i].tensor : 0]++;
        }
        gof(pass ? "model-wide subset: tensor by Lambda" : "model-wide: tensor by Lambda", hit,
            pass ? w_sub : w_all, 4);
    }
    au_site_space_free(s);
}

/* Layer-wise: N_l ~ Poisson(Lambda_l T_l) = 0.8, 0.24, 0, 1.2, independent. */
static void test_layer_wise_counts_are_independent_poisson(void)
{
    au_site_space *s = four_tensors();
    const double m[4] = {0.8, 0.24, 0.0, 1.2};
    struct au_sites_process p = {AU_SITES_LAYER_WISE, 123.0, NULL, 0}; /* t is ignored */
    double mu = 0.0;
    CHECK_EQ_INT(au_sites_mu(s, &p, &mu, NULL), AU_OK);
    CHECK_NEAR(mu, 2.24, 1e-12);
    static uint64_t hist[4][16];
    double sx = 0, sy = 0, sxy = 0, sxx = 0, syy = 0, n_tr = 20000;
    struct au_pcg32 r = stream(6);
    for (int trial = 0; trial < 20000; trial++) {
        size_t n = 0, per[4] = {0};
        CHECK_EQ_INT(au_sites_poisson(s, &p, &r, buf, 4096, &n, NULL), AU_OK);
        for (size_t i = 0; i < n; i++) {
            CHECK(buf[i].tensor < 4);
            CHECK(i == 0 || buf[i].tensor >= buf[i - 1].tensor); /* grouped in layer order */
            per[buf[i].tensor & 3]++;
        }
        for (int l = 0; l < 4; l++)
            hist[l][per[l] < 15 ? per[l] : 15]++;
        double x = (double)per[0], y = (double)per[3];
        sx += x, sy += y, sxy += x * y, sxx += x * x, syy += y * y;
    }
    for (int l = 0; l < 4; l++) {
        if (m[l] == 0.0) {
            CHECK_EQ_U64(hist[l][0], 20000);
            continue;
        }
        double w[16], acc = 0.0;
        for (int k = 0; k < 15; k++)
            acc += w[k] = exp(-m[l] + k * log(m[l]) - au_poisson_log_factorial((uint64_t)k));
        w[15] = 1.0 - acc > 0.0 ? 1.0 - acc : 0.0;
        gof("layer-wise: N_l ~ Poisson(Lambda_l T_l)", hist[l], w, 16);
    }
    double cov = sxy / n_tr - sx * sy / (n_tr * n_tr);
    double corr =
        cov / sqrt((sxx / n_tr - sx * sx / (n_tr * n_tr)) * (syy / n_tr - sy * sy / (n_tr * n_tr)));
    CHECK(fabs(corr) < 5.0 / sqrt(n_tr)); /* independent layers: no correlation */
    au_site_space_free(s);
}

/* Conditioned on a flip: N >= 1 from the truncated law, tensor by Lambda_l T_l / mu. */
static void test_given_one_splits_by_lambda_times_time(void)
{
    au_site_space *s = four_tensors();
    struct au_sites_process p = {AU_SITES_LAYER_WISE, 0.0, NULL, 0};
    double w_t[4] = {0.8, 0.24, 0.0, 1.2}, mu = 2.24, w_n[16], acc = 0.0;
    for (int k = 0; k < 15; k++) {
        w_n[k] = k == 0 ? 0.0 : exp(-mu + k * log(mu) - au_poisson_log_factorial((uint64_t)k));
        acc += w_n[k];
    }
    w_n[15] = au_poisson_p_at_least_one(mu) - acc;
    static uint64_t hit[4], hist[16];
    struct au_pcg32 r = stream(7);
    for (int trial = 0; trial < 20000; trial++) {
        size_t n = 0;
        double p1 = 0.0;
        CHECK_EQ_INT(au_sites_poisson_given_one(s, &p, &r, buf, 4096, &n, &p1, NULL), AU_OK);
        CHECK(n >= 1);
        CHECK(p1 == -expm1(-mu));
        hist[n < 15 ? n : 15]++;
        for (size_t i = 0; i < n; i++)
            hit[buf[i].tensor & 3]++;
    }
    gof("given one: tensor by Lambda_l T_l", hit, w_t, 4);
    gof("given one: N zero-truncated", hist, w_n, 16);
    au_site_space_free(s);
}

/* Rare faults: mu = 8e-9, so every conditioned trial has one flip and p1 = mu. */
static void test_given_one_rare_faults(void)
{
    au_site_space *s = space_new();
    struct au_site_tensor t = {"gemm.out", 1000, 0, 8, 0, 0xff, 0, 1e-12, 1.0};
    add(s, &t);
    struct au_sites_process p = {AU_SITES_MODEL_WIDE, 1.0, NULL, 0};
    struct au_pcg32 r = stream(8);
    uint64_t multi = 0;
    for (int trial = 0; trial < 100000; trial++) {
        size_t n = 0;
        double p1 = 0.0;
        CHECK_EQ_INT(au_sites_poisson_given_one(s, &p, &r, buf, 16, &n, &p1, NULL), AU_OK);
        CHECK(n >= 1 && buf[0].fault.index < 1000 && buf[0].fault.bit < 8);
        CHECK(fabs(p1 - 8e-9) <= 8e-9 * 1e-8);
        multi += n > 1;
    }
    CHECK(multi <= 1);
    /* Rate 0 everywhere: nothing to condition on, a clear error and p1 = 0. */
    struct au_diag d = {{0}};
    CHECK_EQ_INT(au_site_space_set_rate(s, 0, AU_FAULT_ELEM, 0xff, 0.0, NULL), AU_OK);
    size_t n = 7;
    double p1 = 1.0;
    expect_error(au_sites_poisson_given_one(s, &p, &r, buf, 16, &n, &p1, &d), AU_INVALID, &d,
                 "no flip can occur");
    CHECK(p1 == 0.0 && n == 0);
    au_site_space_free(s);
}

static int same_sites(const struct au_site *a, const struct au_site *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].tensor != b[i].tensor || a[i].fault.target != b[i].fault.target ||
            a[i].fault.index != b[i].fault.index || a[i].fault.bit != b[i].fault.bit)
            return 0;
    return 1;
}

/* One trial per sampler from a stream, twice: identical sites; another stream differs. */
static void test_same_stream_gives_same_sites(void)
{
    au_site_space *s = four_tensors();
    static struct au_site a[512], b[512];
    int differs = 0;
    for (int mode = 0; mode < 4; mode++) {
        struct au_sites_process p = {mode & 1 ? AU_SITES_LAYER_WISE : AU_SITES_MODEL_WIDE,
                                     20.0 / 2800.0, NULL, 0};
        for (uint64_t trial = 0; trial < 50; trial++) {
            struct au_pcg32 r1 = stream(1000 + trial), r2 = stream(1000 + trial);
            struct au_pcg32 r3 = stream(2000 + trial);
            size_t n1 = 0, n2 = 0, n3 = 0;
            double p1;
            if (mode < 2) {
                CHECK_EQ_INT(au_sites_poisson(s, &p, &r1, a, 512, &n1, NULL), AU_OK);
                CHECK_EQ_INT(au_sites_poisson(s, &p, &r2, b, 512, &n2, NULL), AU_OK);
                CHECK_EQ_INT(au_sites_poisson(s, &p, &r3, buf, 512, &n3, NULL), AU_OK);
            } else if (mode == 2) {
                n1 = n2 = n3 = 4;
                CHECK_EQ_INT(au_sites_uniform(s, 1, 4, &r1, a, NULL), AU_OK);
                CHECK_EQ_INT(au_sites_uniform(s, 1, 4, &r2, b, NULL), AU_OK);
                CHECK_EQ_INT(au_sites_uniform(s, 1, 4, &r3, buf, NULL), AU_OK);
            } else {
                CHECK_EQ_INT(au_sites_poisson_given_one(s, &p, &r1, a, 512, &n1, &p1, NULL), 0);
                CHECK_EQ_INT(au_sites_poisson_given_one(s, &p, &r2, b, 512, &n2, &p1, NULL), 0);
                CHECK_EQ_INT(au_sites_poisson_given_one(s, &p, &r3, buf, 512, &n3, &p1, NULL), 0);
            }
            CHECK(n1 == n2 && same_sites(a, b, n1));
            differs |= n1 != n3 || !same_sites(a, buf, n1);
        }
    }
    CHECK(differs);
    au_site_space_free(s);
}

/* A trial with more flips than the buffer: AU_RANGE with the true count, and a retry
 * from the re-seeded stream with room gets that many. */
static void test_too_many_flips_reports_true_count(void)
{
    au_site_space *s = four_tensors();
    for (uint32_t timing = 0; timing < 2; timing++) {
        struct au_sites_process p = {timing, 50.0 / 2800.0, NULL, 0};
        if (timing == AU_SITES_LAYER_WISE)
            CHECK_EQ_INT(au_site_space_set_rate(s, 3, AU_FAULT_ELEM, 0xff, 100.0, NULL), 0);
        struct au_pcg32 r = stream(9);
        struct au_diag d = {{0}};
        size_t n = 0, n2 = 0;
        expect_error(au_sites_poisson(s, &p, &r, buf, 10, &n, &d), AU_RANGE, &d,
                     "more than the 10");
        CHECK(n > 10);
        r = stream(9);
        CHECK_EQ_INT(au_sites_poisson(s, &p, &r, buf, 4096, &n2, NULL), AU_OK);
        CHECK_EQ_U64(n2, n);
    }
    au_site_space_free(s);
}

/* Counts past 2^32 take the 64-bit index path: indices in range, both halves hit. */
static void test_huge_tensor_indices_cover_the_range(void)
{
    au_site_space *s = space_new();
    size_t big = (size_t)3 << 33 | 5;
    struct au_site_tensor t = {"huge", big, 0, 4, 0, 0xf, 0, 1.0, 1.0};
    add(s, &t);
    CHECK_EQ_U64(au_site_space_n_sites(s, 0), (uint64_t)big * 4);
    static uint64_t halves[2];
    double w[2] = {(double)(big / 2), (double)(big - big / 2)};
    struct au_pcg32 r = stream(10);
    for (int round = 0; round < 20; round++) {
        CHECK_EQ_INT(au_sites_uniform(s, 0, 1000, &r, buf, NULL), AU_OK);
        for (int i = 0; i < 1000; i++) {
            CHECK(buf[i].fault.index < big);
            halves[buf[i].fault.index >= big / 2]++;
        }
    }
    gof("huge: index halves", halves, w, 2);
    au_site_space_free(s);
}

static void test_masks_from_fields_and_positions(void)
{
    static const struct au_bitfield ef[] = {
        {"sign", 15, 1}, {"exponent", 10, 5}, {"mantissa", 0, 10}};
    static const struct au_bitfield mf[] = {{"shared_exponent", 0, 8}};
    struct au_numsys_layout l = {16, 8, AU_BLOCK_ELEMS, 32, 3, 1, ef, mf, 0};
    const char *se[] = {"sign", "exponent"}, *bad[] = {"sign", "mant"}, *sh[] = {"shared_exponent"};
    uint64_t m = 0;
    struct au_diag d = {{0}};
    CHECK_EQ_INT(au_sites_field_mask(&l, AU_FAULT_ELEM, se, 2, &m, &d), AU_OK);
    CHECK_EQ_U64(m, 0xfc00);
    CHECK_EQ_INT(au_sites_field_mask(&l, AU_FAULT_META, sh, 1, &m, &d), AU_OK);
    CHECK_EQ_U64(m, 0xff);
    expect_error(au_sites_field_mask(&l, AU_FAULT_ELEM, bad, 2, &m, &d), AU_NOTFOUND, &d,
                 "no element field 'mant' (fields: sign, exponent, mantissa)");
    expect_error(au_sites_field_mask(&l, AU_FAULT_META, se, 1, &m, &d), AU_NOTFOUND, &d,
                 "(fields: shared_exponent)");
    uint32_t pos[] = {0, 3, 7}, far[] = {1, 8};
    CHECK_EQ_INT(au_sites_bit_mask(pos, 3, 8, &m, &d), AU_OK);
    CHECK_EQ_U64(m, 0x89);
    expect_error(au_sites_bit_mask(far, 2, 8, &m, &d), AU_RANGE, &d, "bit position 8");
}

static void test_sort_is_stable_by_tensor(void)
{
    struct au_site v[6];
    const uint32_t tensors[6] = {3, 1, 3, 0, 1, 0};
    for (size_t i = 0; i < 6; i++)
        v[i] = (struct au_site){tensors[i], {AU_FAULT_ELEM, AU_FAULT_FLIP, i, 0}};
    au_sites_sort(v, 6);
    const size_t order[6] = {3, 5, 1, 4, 0, 2};
    for (size_t i = 0; i < 6; i++)
        CHECK_EQ_U64(v[i].fault.index, order[i]);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Per-trial cost on a LeNet-sized space (8 tensors), mu = 1 flip per trial. */
static void report_speed(void)
{
    au_site_space *s = space_new();
    for (int l = 0; l < 8; l++) {
        struct au_site_tensor t = {"layer", 1000u * (size_t)(l + 1), 0, 8, 0, 0xff, 0, 1.0, 1.0};
        add(s, &t);
    }
    double lambda = 8.0 * 36000.0;
    struct au_sites_process pm = {AU_SITES_MODEL_WIDE, 1.0 / lambda, NULL, 0};
    struct au_pcg32 r = stream(11);
    size_t n, total = 0, trials = 200000;
    double t0 = now_ns();
    for (size_t i = 0; i < trials; i++) {
        au_sites_poisson(s, &pm, &r, buf, 4096, &n, NULL);
        total += n;
    }
    double t1 = now_ns();
    for (uint32_t l = 0; l < 8; l++)
        au_site_space_set_rate(s, l, AU_FAULT_ELEM, 0xff, 1.0 / lambda, NULL);
    struct au_sites_process pl = {AU_SITES_LAYER_WISE, 0.0, NULL, 0};
    for (size_t i = 0; i < trials; i++) {
        au_sites_poisson(s, &pl, &r, buf, 4096, &n, NULL);
        total += n;
    }
    double t2 = now_ns();
    for (size_t i = 0; i < trials; i++)
        au_sites_uniform(s, 3, 1, &r, buf, NULL);
    double t3 = now_ns();
    CHECK(total > trials);
    printf("ns/trial (8 tensors, mu=1): model-wide %.0f, layer-wise %.0f; uniform site %.0f\n",
           (t1 - t0) / (double)trials, (t2 - t1) / (double)trials, (t3 - t2) / (double)trials);
    fflush(stdout);
    au_site_space_free(s);
}

int main(void)
{
    test_add_and_set_rate_reject_bad_input();
    test_site_counts_and_total_rates();
    test_uniform_sites_are_uniform_over_targeted_bits();
    test_poisson_bits_proportional_to_lambda();
    test_model_wide_picks_tensors_by_lambda();
    test_layer_wise_counts_are_independent_poisson();
    test_given_one_splits_by_lambda_times_time();
    test_given_one_rare_faults();
    test_same_stream_gives_same_sites();
    test_too_many_flips_reports_true_count();
    test_huge_tensor_indices_cover_the_range();
    test_masks_from_fields_and_positions();
    test_sort_is_stable_by_tensor();
    report_speed();
    return check_report("test_sites");
}
