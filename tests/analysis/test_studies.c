/* Number-format studies on the bundled LeNet-5 and its eval set: sweep rows equal `aurum
 * emulate`, the family formats have the widths they claim, the bit-width search returns a
 * width within the threshold whose width-1 is not, and mixed precision follows the ranking,
 * stays within the threshold and is the cheapest measured assignment. Resilience comes from a
 * real campaign and from a hand-made database with known per-flip losses. */
#include "../check.h"
#include "campaigns/runner.h"
#include "campaigns/store.h"
#include "core/alloc.h"
#include "core/onnx.h"
#include "studies_mixed.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT 128 /* samples: keeps the file under 10 s (release) and 100 s (ASan) */

static char root[1024], tmpdir[256], xpath[1200], ypath[1200], model[1200];
static const char *cli;

struct fixture {
    struct au_graph *g;
    struct au_dataset ds;
    struct au_array y;
    au_numsys_registry *reg;
    struct au_study *s;
};

static int fixture_open(struct fixture *f, int64_t limit)
{
    struct au_diag d = {{0}};
    struct au_dataset_input in;
    struct au_dataset_opts o = {.limit = limit};
    memset(f, 0, sizeof(*f));
    int rc = au_onnx_load(model, &f->g, &d);
    if (!rc)
        rc = au_graph_prepare(f->g, 64, 0, &d);
    if (!rc) {
        int v = au_graph_input_value(f->g, 0);
        au_dataset_input_from_tensor(&in, "input", au_graph_tensor(f->g, v));
        rc = au_dataset_load(&f->ds, xpath, &in, &o, &d);
    }
    if (!rc)
        rc = au_dataset_load_labels(&f->y, ypath, limit, &d);
    if (!rc)
        rc = au_numsys_registry_new(&f->reg, &d);
    if (!rc)
        rc = au_study_new(f->g, &f->ds, &f->y, f->reg, &f->s, &d);
    if (rc)
        fprintf(stderr, "fixture: %s\n", d.msg);
    return rc;
}

static void fixture_close(struct fixture *f)
{
    au_study_free(f->s);
    au_numsys_registry_free(f->reg);
    au_array_fini(&f->y);
    au_dataset_fini(&f->ds);
    au_graph_free(f->g);
}

/* The float32 pass reproduces models/lenet5.json (accuracy 0.897, loss 0.28767 on 1000). */
static void test_baseline_matches_bundled_reference(void)
{
    struct fixture f;
    if (fixture_open(&f, 0) != 0) {
        CHECK(0);
        return;
    }
    const struct au_study_metrics *b = au_study_baseline(f.s);
    CHECK_EQ_INT(b->n_samples, 1000);
    CHECK_EQ_INT(b->n_finite, 1000);
    CHECK_EQ_INT(b->n_agree, 1000);
    CHECK_NEAR(b->accuracy, 0.897, 1e-12);
    CHECK_NEAR(b->loss, 0.2876672177616605, 1e-4);
    CHECK_NEAR(au_study_drop(f.s, b), 0, 0);
    struct au_study_metrics m = *b; /* 10 fewer right of 1000: exactly 1 point, not 1 + 1 ulp */
    m.correct -= 10;
    CHECK(au_study_drop(f.s, &m) == 1.0);
    CHECK_EQ_INT(au_study_n_layers(f.s), 5);
    CHECK_EQ_INT(au_study_layer(f.s, 0)->n_weights, 150);
    CHECK_EQ_INT(au_study_layer(f.s, 0)->n_act, 6 * 28 * 28);
    CHECK(strcmp(au_study_layer(f.s, 4)->name, "/classifier/classifier.5/Gemm") == 0);
    fixture_close(&f);
}

/* Each (width, split) names a format whose element code has exactly width bits, or one the
 * plugin refuses with a message (never a crash). */
static void test_family_formats_have_their_width(void)
{
    struct fixture f;
    struct au_diag d = {{0}};
    if (fixture_open(&f, 64) != 0) {
        CHECK(0);
        return;
    }
    int accepted = 0, refused = 0;
    for (int fam = AU_STUDY_FXP; fam <= AU_STUDY_INT; fam++) {
        int wlo, whi;
        au_study_family_widths(fam, &wlo, &whi);
        CHECK_EQ_INT(wlo, 2);
        for (int w = wlo; w <= whi; w++) {
            int lo, hi;
            au_study_family_splits(fam, w, &lo, &hi);
            CHECK(lo <= hi);
            for (int k = lo; k <= hi; k++) {
                char buf[64];
                au_numsys_fmt *fmt = NULL;
                CHECK_EQ_INT(au_study_family_format(fam, w, k, buf, sizeof(buf), &d), 0);
                if (au_numsys_fmt_new(f.reg, buf, &fmt, &d) < 0) {
                    CHECK(d.msg[0] != '\0');
                    refused++;
                    continue;
                }
                accepted++;
                CHECK_EQ_INT(au_numsys_fmt_layout(fmt)->elem_bits, w);
                au_numsys_fmt_free(fmt);
            }
        }
        int lo, hi;
        au_study_family_splits(fam, whi + 1, &lo, &hi);
        CHECK(lo > hi);
        char buf[64];
        CHECK_EQ_INT(au_study_family_format(fam, whi + 1, 0, buf, sizeof(buf), &d), AU_RANGE);
    }
    CHECK(accepted > 300);
    CHECK(refused < 10); /* fp with one exponent bit and no mantissa, ... */
    int fam = -1;
    CHECK_EQ_INT(au_study_family_parse("bfp", &fam, &d), 0);
    CHECK_EQ_INT(fam, AU_STUDY_BFP);
    CHECK_EQ_INT(au_study_family_parse("posit", &fam, &d), AU_INVALID);
    CHECK(strstr(d.msg, "'posit'") != NULL);
    fixture_close(&f);
}

static FILE *run_cli(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' %s --inputs '%s' --labels '%s' --limit %d 2>&1", cli, args,
             xpath, ypath, LIMIT);
    return popen(cmd, "r");
}

/* `aurum emulate --format F`: its format row and its drop line. */
static int emulate_cli(const char *fmt, double *acc, double *loss, double *agree, double *drop)
{
    char args[1600], line[1024], label[512];
    snprintf(args, sizeof(args), "emulate '%s' --format '%s'", model, fmt);
    snprintf(label, sizeof(label), "weights %s, activations %s", fmt, fmt);
    FILE *p = run_cli(args);
    int found = 0;
    while (p && fgets(line, sizeof(line), p)) {
        if (!strncmp(line, label, strlen(label)))
            found += sscanf(line + strlen(label), "%lf %lf %lf", acc, loss, agree) == 3;
        found += sscanf(line, "accuracy drop: %lf", drop) == 1;
    }
    return p && pclose(p) == 0 && found == 2 ? 0 : -1;
}

/* Runs the CLI with args; *out gets its output (stdout and stderr). Returns the exit status. */
static int cli_status(const char *args, char *out, size_t len)
{
    size_t n = 0;
    FILE *p = run_cli(args);
    while (p && n + 1 < len && fgets(out + n, (int)(len - n), p))
        n += strlen(out + n);
    out[n] = '\0';
    int st = p ? pclose(p) : -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Bad requests end with one line naming what is wrong and a non-zero status. */
static void test_cli_errors(void)
{
    char args[2048], out[4096];
    snprintf(args, sizeof(args), "sweep '%s' --formats 'fp16,fp17'", model);
    CHECK_EQ_INT(cli_status(args, out, sizeof(out)), 1);
    CHECK(strstr(out, "format 'fp17'") != NULL && strstr(out, "fp16 ") == NULL);
    snprintf(args, sizeof(args), "sweep '%s' --formats 'fp16,,bf16'", model);
    CHECK_EQ_INT(cli_status(args, out, sizeof(out)), 2);
    CHECK(strstr(out, "empty format") != NULL);
    snprintf(args, sizeof(args), "bitwidth '%s' --family posit", model);
    CHECK_EQ_INT(cli_status(args, out, sizeof(out)), 2);
    CHECK(strstr(out, "'posit' is not one of") != NULL);
    snprintf(args, sizeof(args), "bitwidth '%s' --family afp --max-bits 20", model);
    CHECK_EQ_INT(cli_status(args, out, sizeof(out)), 1);
    CHECK(strstr(out, "afp widths [2, 16]") != NULL);
    snprintf(args, sizeof(args), "mixed '%s' --family fxp --widths 4,x --resilience r.db", model);
    CHECK_EQ_INT(cli_status(args, out, sizeof(out)), 2);
    CHECK(strstr(out, "--widths") != NULL);
    snprintf(args, sizeof(args), "mixed '%s' --family fxp --widths 4,8 --resilience '%s/no.db'",
             model, tmpdir);
    CHECK_EQ_INT(cli_status(args, out, sizeof(out)), 1);
    CHECK(strstr(out, "no.db") != NULL);
}

/* report.html of the sweep: self-contained (no script, no link, no external resource), the
 * three charts, and a table row per format whose accuracy and loss are sweep.csv's, rounded
 * as printed. */
static void check_sweep_html(const char *const *fmts, size_t n_fmts)
{
    char path[600], line[1024], want[256];
    snprintf(path, sizeof(path), "%s/sweep/report.html", tmpdir);
    FILE *x = fopen(path, "r");
    static char html[1 << 16];
    size_t n = x ? fread(html, 1, sizeof(html) - 1, x) : 0;
    html[n] = '\0';
    if (x)
        fclose(x);
    CHECK(n > 1000 && strstr(html, "<h1>Format sweep: ") != NULL);
    CHECK(!strstr(html, "<script") && !strstr(html, "href=") && !strstr(html, "src=") &&
          !strstr(html, "@import"));
    int svgs = 0;
    for (const char *p = html; (p = strstr(p, "<svg")); p++)
        svgs++;
    CHECK_EQ_INT(svgs, 3);
    CHECK(strstr(html, "Accuracy per format") && strstr(html, "Accuracy drop below float32") &&
          strstr(html, "Mean cross-entropy loss"));
    snprintf(path, sizeof(path), "%s/sweep/sweep.csv", tmpdir);
    FILE *csv = fopen(path, "r");
    CHECK(csv && fgets(line, sizeof(line), csv)); /* the header */
    for (size_t i = 0; csv && i <= n_fmts && fgets(line, sizeof(line), csv); i++) {
        const char *f = i ? fmts[i - 1] : "float32";
        char *rest = line[0] == '"' ? strstr(line + 1, "\",") + 2 : strchr(line, ',') + 1;
        double acc, loss;
        CHECK(sscanf(strchr(rest, ',') + 1, "%lf,%lf", &acc, &loss) == 2);
        snprintf(want, sizeof(want), ">%s</td><td class=\"n\">%.4f</td><td class=\"n\">%.6f<", f,
                 acc, loss);
        CHECK(strstr(html, want) != NULL);
    }
    if (csv)
        fclose(csv);
}

/* The sweep's CSV holds each format's numbers at full precision; they equal the library's
 * au_study_evaluate and `aurum emulate` (printed rounded) for the same samples. */
static void test_sweep_rows_equal_emulate(void)
{
    static const char *fmts[] = {"fp16",
                                 "bf16",
                                 "fp8_e4m3",
                                 "int{bits:8}",
                                 "fxp{integer:2,fraction:3}",
                                 "bfp{mantissa:3,exponent:4}"};
    char args[2048], line[1024], path[600];
    snprintf(args, sizeof(args),
             "sweep '%s' --formats 'fp16,bf16,fp8_e4m3,int{bits:8},fxp{integer:2,fraction:3},"
             "bfp{mantissa:3,exponent:4}' --out '%s/sweep'",
             model, tmpdir);
    FILE *p = run_cli(args);
    while (p && fgets(line, sizeof(line), p))
        ;
    CHECK(p && pclose(p) == 0);
    snprintf(path, sizeof(path), "%s/sweep/sweep.csv", tmpdir);
    FILE *csv = fopen(path, "r");
    CHECK(csv != NULL);
    if (!csv)
        return;
    struct fixture f;
    if (fixture_open(&f, LIMIT) != 0) {
        CHECK(0);
        fclose(csv);
        return;
    }
    CHECK(fgets(line, sizeof(line), csv) && !strncmp(line, "format,roles,accuracy", 21));
    CHECK(fgets(line, sizeof(line), csv) && !strncmp(line, "float32,none,", 13));
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        double acc, loss, drop, agree, eacc, eloss, eagree, edrop;
        long long n, nonfinite;
        char *c = fgets(line, sizeof(line), csv);
        CHECK(c != NULL);
        if (!c)
            break;
        char *rest = line[0] == '"' ? strstr(line + 1, "\",") + 2 : strchr(line, ',') + 1;
        CHECK_EQ_INT(sscanf(rest, "weights+activations,%lf,%lf,%lf,%lf,%lld,%lld", &acc, &loss,
                            &drop, &agree, &n, &nonfinite),
                     6);
        struct au_emul_spec spec = {.weights = fmts[i], .activations = fmts[i]};
        struct au_study_metrics m;
        struct au_diag d = {{0}};
        CHECK_EQ_INT(au_study_evaluate(f.s, &spec, &m, &d), 0);
        CHECK(acc == m.accuracy && loss == m.loss && drop == au_study_drop(f.s, &m));
        CHECK_EQ_INT(n, LIMIT);
        CHECK_EQ_INT(emulate_cli(fmts[i], &eacc, &eloss, &eagree, &edrop), 0);
        CHECK_EQ_INT(nonfinite, 0);
        CHECK_NEAR(acc, eacc, 5.1e-5);
        CHECK_NEAR(loss, eloss, 5.1e-7);
        CHECK_NEAR(agree, eagree, 5.1e-5);
        CHECK_NEAR(drop / 100, edrop, 5.1e-5);
    }
    fclose(csv);
    fixture_close(&f);
    static const char *files[] = {"sweep.md", "sweep.svg"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "%s/sweep/%s", tmpdir, files[k]);
        FILE *x = fopen(path, "r");
        char buf[1 << 15] = {0};
        CHECK(x && fread(buf, 1, sizeof(buf) - 1, x) > 100);
        CHECK(strstr(buf, k ? "<svg" : "| Format |") && strstr(buf, "fxp{integer:2,fraction:3}") &&
              strstr(buf, "bfp{mantissa:3,exponent:4}"));
        if (x)
            fclose(x);
    }
    check_sweep_html(fmts, sizeof(fmts) / sizeof(fmts[0]));
}

/* Assumption (stated in docs/studies.md): the best split's accuracy does not fall as the width
 * grows. Then the search's width is within the threshold and width-1 is not; both are checked
 * by measuring again, outside the search. */
static void test_bitwidth_width_within_and_width_minus_one_not(void)
{
    struct fixture f;
    if (fixture_open(&f, LIMIT) != 0) {
        CHECK(0);
        return;
    }
    static const int fams[] = {AU_STUDY_FXP, AU_STUDY_FP, AU_STUDY_INT};
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        struct au_study_bitwidth_opts o = {fams[i], AU_STUDY_BOTH, 1.0, 2, 12};
        struct au_study_bitwidth_result r;
        struct au_study_point p;
        struct au_diag d = {{0}};
        CHECK_EQ_INT(au_study_bitwidth(f.s, &o, &r, &d), 0);
        CHECK(r.width > 2 && r.width < 12);
        CHECK(r.best.ok && r.best.best && r.best.width == r.width && r.best.drop <= 1.0);
        CHECK_EQ_INT(au_study_best_split(f.s, o.family, r.width, o.roles, 1.0, NULL, &p, &d), 0);
        CHECK(p.ok && p.split == r.best.split && p.m.accuracy == r.best.m.accuracy);
        CHECK_EQ_INT(au_study_best_split(f.s, o.family, r.width - 1, o.roles, 1.0, NULL, &p, &d),
                     0);
        CHECK(!p.ok && p.drop > 1.0);
        /* The trace: every split of each visited width, one best per width, widths in binary
         * search order (16 first), and width-1 among them (the search saw it fail). */
        int bests = 0, saw_below = 0, lo, hi;
        CHECK(r.trace.n > 0 && r.trace.p[0].width == 12);
        for (int k = 0; k < r.trace.n; k++) {
            bests += r.trace.p[k].best;
            saw_below += r.trace.p[k].width == r.width - 1 && r.trace.p[k].best;
        }
        au_study_family_splits(o.family, r.width, &lo, &hi);
        CHECK(bests >= 2 && bests <= 5);
        CHECK_EQ_INT(saw_below, 1);
        au_study_trace_fini(&r.trace);
        if (fams[i] == AU_STUDY_INT) { /* the CLI prints the same answer */
            char args[1400], line[1024];
            int w = -1;
            snprintf(args, sizeof(args), "bitwidth '%s' --family int --threshold 1 --max-bits 12",
                     model);
            FILE *pp = run_cli(args);
            while (pp && fgets(line, sizeof(line), pp))
                sscanf(line, "narrowest width: %d bits", &w);
            CHECK(pp && pclose(pp) == 0);
            CHECK_EQ_INT(w, r.width);
        }
    }
    /* Bad requests: a clear message and a status, nothing measured. */
    struct au_study_bitwidth_opts bad = {AU_STUDY_AFP, AU_STUDY_BOTH, 1.0, 8, 20};
    struct au_study_bitwidth_result r;
    struct au_diag d = {{0}};
    CHECK_EQ_INT(au_study_bitwidth(f.s, &bad, &r, &d), AU_RANGE);
    CHECK(strstr(d.msg, "afp widths [2, 16]") != NULL && r.trace.n == 0);
    bad = (struct au_study_bitwidth_opts){AU_STUDY_FXP, 0, 1.0, 2, 8};
    CHECK_EQ_INT(au_study_bitwidth(f.s, &bad, &r, &d), AU_INVALID);
    /* A threshold nothing meets: width -1 after measuring the widest only. */
    bad = (struct au_study_bitwidth_opts){AU_STUDY_INT, AU_STUDY_BOTH, -50, 2, 8};
    CHECK_EQ_INT(au_study_bitwidth(f.s, &bad, &r, &d), 0);
    CHECK(r.width == -1 && r.trace.n == 1 && r.trace.p[0].width == 8);
    au_study_trace_fini(&r.trace);
    fixture_close(&f);
}

/* A real campaign: single weight and activation flips in every layer, in fp16. */
static int run_campaign(const char *name, const char *db)
{
    char json[8192];
    snprintf(json, sizeof(json),
             "{\"name\": \"%s\", \"model\": \"%s\", \"data\": {\"inputs\": \"%s\", \"labels\": "
             "\"%s\", \"samples\": 64}, \"formats\": {\"weights\": \"fp16\", \"activations\": "
             "\"fp16\"}, \"targets\": {\"tensors\": [\"weights\", \"activations\"]}, "
             "\"process\": {\"type\": \"per_layer\", \"flips\": 1, \"trials\": 64}, "
             "\"seed\": 3, \"database\": \"%s\"}",
             name, model, xpath, ypath, db);
    struct au_campaign *c = NULL;
    struct au_problems p = {0};
    struct au_diag d = {{0}};
    struct au_run_opts o = {.jobs = 1};
    struct au_run_result r;
    int rc = au_campaign_parse(json, strlen(json), "test.json", &c, &p, &d);
    for (size_t i = 0; i < p.n; i++)
        fprintf(stderr, "%s\n", p.msg[i]);
    if (!rc)
        rc = au_campaign_run(c, &o, &r, &d);
    if (rc)
        fprintf(stderr, "campaign: %s\n", d.msg);
    au_problems_fini(&p);
    au_campaign_free(c);
    return rc;
}

struct seen {
    int n, bad_order, rank[8];
    int64_t min_ok_bits;
    double threshold;
};

static void on_measure(void *user, const int *widths, int64_t bits,
                       const struct au_study_metrics *m, double drop)
{
    struct seen *s = user;
    (void)m;
    s->n++;
    for (int p = 1; p < 5; p++)
        s->bad_order += widths[s->rank[p]] > widths[s->rank[p - 1]];
    if (drop <= s->threshold && (s->min_ok_bits < 0 || bits < s->min_ok_bits))
        s->min_ok_bits = bits;
}

static int64_t total_bits(const struct au_study *s, const int *w)
{
    int64_t b = 0;
    for (int i = 0; i < au_study_n_layers(s); i++)
        b += w[i] * (au_study_layer(s, i)->n_weights + au_study_layer(s, i)->n_act);
    return b;
}

static void check_mixed(struct fixture *f, const int *rank, bool exhaustive,
                        struct au_study_mixed_result *r, struct seen *sn)
{
    static const int widths[] = {8, 4, 6}; /* any order */
    struct au_study_mixed_opts o = {.family = AU_STUDY_FXP,
                                    .roles = AU_STUDY_BOTH,
                                    .threshold = 1.0,
                                    .widths = widths,
                                    .n_widths = 3,
                                    .rank = rank,
                                    .exhaustive = exhaustive,
                                    .on_measure = on_measure,
                                    .user = sn};
    struct au_diag d = {{0}};
    *sn = (struct seen){.min_ok_bits = -1, .threshold = 1.0};
    memcpy(sn->rank, rank, 5 * sizeof(int));
    CHECK_EQ_INT(au_study_mixed(f->s, &o, r, &d), 0);
    CHECK_EQ_INT(r->n_candidates, 21); /* C(5 + 3 - 1, 3 - 1) */
    CHECK_EQ_INT(r->n_measured, sn->n);
    CHECK_EQ_INT(sn->bad_order, 0);
    CHECK(r->found && r->drop <= 1.0);
    CHECK_EQ_INT(r->bits, total_bits(f->s, r->widths));
    CHECK_EQ_INT(r->bits, sn->min_ok_bits); /* the cheapest measured success */
    CHECK_EQ_INT(r->uniform_bits, 8 * total_bits(f->s, (int[]){1, 1, 1, 1, 1}));
    CHECK(r->n_formats == 3 && r->fmt_widths[0] == 4 && r->fmt_widths[2] == 8);
    for (int p = 1; p < 5; p++)
        CHECK(r->widths[rank[p]] <= r->widths[rank[p - 1]]);
    /* The reported accuracy is reproducible from the widths and formats alone. */
    struct au_emul_rule rules[5];
    for (int i = 0; i < 5; i++) {
        const char *fm = r->formats[r->widths[i] == 4 ? 0 : r->widths[i] == 6 ? 1 : 2];
        rules[i] = (struct au_emul_rule){au_study_layer(f->s, i)->name, fm, fm};
    }
    struct au_emul_spec spec = {.rules = rules, .n_rules = 5};
    struct au_study_metrics m;
    CHECK_EQ_INT(au_study_evaluate(f->s, &spec, &m, &d), 0);
    CHECK(m.accuracy == r->m.accuracy && m.loss == r->m.loss);
}

static void test_mixed_follows_ranking_and_threshold(void)
{
    char db[512];
    snprintf(db, sizeof(db), "%s/res.db", tmpdir);
    CHECK_EQ_INT(run_campaign("res-fp16", db), 0);
    struct fixture f;
    if (fixture_open(&f, LIMIT) != 0) {
        CHECK(0);
        return;
    }
    struct au_study_vuln v[5];
    struct au_diag d = {{0}};
    int rank[5];
    CHECK_EQ_INT(au_study_resilience(f.s, db, "res-fp16", v, &d), 0);
    CHECK_EQ_INT(au_study_resilience(f.s, db, NULL, v, &d), 0); /* the only campaign */
    au_study_rank(v, 5, rank);
    for (int p = 0; p < 5; p++) {
        CHECK_EQ_INT(v[p].n_trials, 128); /* 64 weight + 64 activation trials */
        if (p)
            CHECK(v[rank[p]].dloss_per_flip <= v[rank[p - 1]].dloss_per_flip ||
                  isnan(v[rank[p - 1]].dloss_per_flip));
    }
    struct au_study_mixed_result pruned, full;
    struct seen sp, sf;
    check_mixed(&f, rank, false, &pruned, &sp);
    check_mixed(&f, rank, true, &full, &sf);
    CHECK_EQ_INT(full.n_measured, 21);
    CHECK(pruned.n_measured < full.n_measured);
    CHECK_EQ_INT(pruned.bits, full.bits); /* pruning lost nothing on this data */
    /* Another ranking gives an assignment that follows it instead. */
    int rev[5];
    for (int p = 0; p < 5; p++)
        rev[p] = rank[4 - p];
    struct au_study_mixed_result rr;
    struct seen sr;
    check_mixed(&f, rev, false, &rr, &sr);
    au_study_mixed_fini(&pruned);
    au_study_mixed_fini(&full);
    au_study_mixed_fini(&rr);
    /* The CLI ranks from the database and reports the same total. */
    char args[2048], line[1024];
    long long bits = -1;
    snprintf(args, sizeof(args),
             "mixed '%s' --family fxp --widths 4,6,8 --threshold 1.0 --resilience '%s' "
             "--campaign res-fp16",
             model, db);
    FILE *p = run_cli(args);
    while (p && fgets(line, sizeof(line), p))
        sscanf(line, "total: %lld bits", &bits);
    CHECK(p && pclose(p) == 0);
    CHECK_EQ_INT(bits, pruned.bits);
    /* One- and two-digit widths: every measured line puts "bits" in the same column. */
    snprintf(args, sizeof(args),
             "mixed '%s' --family fxp --widths 4,12 --exhaustive --resilience '%s'", model, db);
    p = run_cli(args);
    int n_lines = 0, col = -1, same = 1;
    while (p && fgets(line, sizeof(line), p)) {
        const char *at = strstr(line, " bits ");
        if (strncmp(line, "  [", 3) != 0 || !at)
            continue;
        same &= col < 0 || col == (int)(at - line);
        col = (int)(at - line);
        n_lines++;
    }
    CHECK(p && pclose(p) == 0);
    CHECK_EQ_INT(n_lines, 6); /* C(5 + 1, 1) non-increasing assignments over 2 widths */
    CHECK(same);
    /* Errors name the database and what is wrong. */
    CHECK_EQ_INT(au_study_resilience(f.s, db, "nope", v, &d), AU_NOTFOUND);
    CHECK(strstr(d.msg, "res.db") && strstr(d.msg, "'nope'"));
    struct au_study_mixed_opts bad = {.family = AU_STUDY_FXP,
                                      .roles = AU_STUDY_BOTH,
                                      .threshold = 1.0,
                                      .widths = (int[]){4, 30},
                                      .n_widths = 2,
                                      .rank = rank};
    CHECK_EQ_INT(au_study_mixed(f.s, &bad, &rr, &d), AU_RANGE);
    CHECK(strstr(d.msg, "30") != NULL);
    au_study_mixed_fini(&rr);
    bad.widths = (int[]){4};
    bad.n_widths = 1;
    bad.rank = (int[]){0, 1, 2, 2, 4};
    CHECK_EQ_INT(au_study_mixed(f.s, &bad, &rr, &d), AU_INVALID);
    CHECK(strstr(d.msg, "permutation") != NULL);
    au_study_mixed_fini(&rr);
    fixture_close(&f);
}

/* A database with known losses: layer 2 loses 5 per flip, layer 0 loses 6 per trial of two
 * flips (3 per flip), layer 4 only non-finite trials (NaN: most vulnerable), 1 and 3 tie. */
static int make_db(const char *path, const char *const *names)
{
    static const double dl[5] = {6, 1, 5, 1, NAN};
    struct au_diag d = {{0}};
    au_store *s;
    int64_t cid;
    bool resumed;
    struct au_store_campaign_info ci = {"known", "{}", NULL, "0", 1, 0.95};
    struct au_store_layer L[5];
    struct au_store_trial t[20];
    int rc = au_store_open(path, AU_STORE_CREATE, &s, &d);
    if (rc)
        return rc;
    rc = au_store_campaign_begin(s, &ci, &cid, &resumed, &d);
    for (int i = 0; i < 5; i++)
        L[i] = (struct au_store_layer){.index = i, .name = names[i], .op = "Conv"};
    for (int k = 0; k < 20; k++) {
        int li = k % 5;
        t[k] = (struct au_store_trial){.trial_id = k,
                                       .layer = li,
                                       .n_flips = li == 0 ? 2 : 1,
                                       .n_samples = 1,
                                       .loss = 1 + dl[li],
                                       .delta_loss = dl[li],
                                       .mismatch = 1,
                                       .outcome = li == 4 ? AU_STORE_OUTCOME_NONFINITE
                                                          : AU_STORE_OUTCOME_SDC};
    }
    if (!rc)
        rc = au_store_layers_add(s, cid, L, 5, &d);
    if (!rc)
        rc = au_store_trials_add(s, cid, t, 20, NULL, 0, &d);
    if (!rc)
        rc = au_store_campaign_end(s, cid, AU_STORE_DONE, "test", &d);
    if (rc)
        fprintf(stderr, "make_db: %s\n", d.msg);
    au_store_close(s);
    return rc;
}

static void test_resilience_known_values_and_rank(void)
{
    struct fixture f;
    if (fixture_open(&f, 64) != 0) {
        CHECK(0);
        return;
    }
    const char *names[5], *other[5];
    for (int i = 0; i < 5; i++)
        names[i] = other[i] = au_study_layer(f.s, i)->name;
    other[3] = "conv'x";
    char db[512], db2[512];
    snprintf(db, sizeof(db), "%s/known.db", tmpdir);
    snprintf(db2, sizeof(db2), "%s/other.db", tmpdir);
    CHECK_EQ_INT(make_db(db, names), 0);
    CHECK_EQ_INT(make_db(db2, other), 0);
    struct au_study_vuln v[5];
    struct au_diag d = {{0}};
    int rank[5];
    CHECK_EQ_INT(au_study_resilience(f.s, db, "known", v, &d), 0);
    CHECK_NEAR(v[0].dloss_per_flip, 3, 1e-12);
    CHECK_NEAR(v[1].dloss_per_flip, 1, 1e-12);
    CHECK_NEAR(v[2].dloss_per_flip, 5, 1e-12);
    CHECK(isnan(v[4].dloss_per_flip) && v[4].n_nonfinite == 4 && v[4].n_trials == 4);
    au_study_rank(v, 5, rank);
    CHECK(rank[0] == 4 && rank[1] == 2 && rank[2] == 0 && rank[3] == 1 && rank[4] == 3);
    CHECK_EQ_INT(au_study_resilience(f.s, db2, NULL, v, &d), AU_INVALID);
    CHECK(strstr(d.msg, "other.db") && strstr(d.msg, "layer 3") && strstr(d.msg, "another model"));
    snprintf(db2, sizeof(db2), "%s/missing.db", tmpdir);
    CHECK(au_study_resilience(f.s, db2, NULL, v, &d) < 0);
    CHECK(strstr(d.msg, "missing.db") != NULL);
    fixture_close(&f);
}

int main(void)
{
    const char *r = getenv("AURUM_SOURCE_ROOT");
    cli = getenv("AURUM_CLI");
    snprintf(root, sizeof(root), "%s", r ? r : ".");
    snprintf(model, sizeof(model), "%s/models/lenet5.onnx", root);
    snprintf(xpath, sizeof(xpath), "%s/models/data/fmnist_eval_x.npy", root);
    snprintf(ypath, sizeof(ypath), "%s/models/data/fmnist_eval_y.npy", root);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_studies.XXXXXX");
    if (!cli || !mkdtemp(tmpdir)) {
        fprintf(stderr, "needs AURUM_CLI and a temporary directory\n");
        return 1;
    }
    au_set_threads(1); /* as the CLI: the same BLAS summation order, the same bits */
    test_baseline_matches_bundled_reference();
    test_family_formats_have_their_width();
    test_sweep_rows_equal_emulate();
    test_cli_errors();
    test_bitwidth_width_within_and_width_minus_one_not();
    test_mixed_follows_ranking_and_threshold();
    test_resilience_known_values_and_rank();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_studies");
}
