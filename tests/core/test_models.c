/* Every bundled model against PyTorch: logits on the committed evaluation set within
 * 1e-4 of the largest logit magnitude with identical argmax, accuracy and loss equal to
 * PyTorch's to 4 decimals (models/<name>.json), and run_from of every node bit-identical
 * to the full run (the golden cache the fault campaigns rely on). */
#include "../check.h"
#include "dataset.h"
#include "exec.h"
#include "metrics.h"
#include "npy.h"
#include "onnx.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <string.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static double json_num(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Runs the whole set; fills logits [n, out-row] and the metric means. */
static int run_set(struct au_graph *g, const struct au_dataset *ds, const int64_t *labels,
                   float *logits, double *acc, double *loss)
{
    struct au_diag d;
    int64_t b = au_graph_batch(g);
    const struct au_tensor *out = au_graph_output(g, 0);
    int64_t classes = out->ne[out->n_dims - 1];
    int64_t row = au_tensor_numel(out) / b, pos = row / classes;
    double a = 0, l = 0;
    for (int64_t s = 0; s < ds->n; s += b) {
        int64_t cnt = ds->n - s < b ? ds->n - s : b;
        if (au_dataset_copy_batch(ds, s, cnt, au_graph_input_tensor(g, 0)->data, b, &d) ||
            au_graph_run(g, &d)) {
            fprintf(stderr, "%s\n", d.msg);
            return -1;
        }
        const float *y = au_graph_output(g, 0)->data;
        memcpy(logits + s * row, y, (size_t)(cnt * row) * sizeof(float));
        for (int64_t k = 0; k < cnt; k++) {
            struct au_sample_metrics m;
            au_metrics_sample(y + k * row, pos, classes, labels + (s + k) * pos, &m);
            a += m.accuracy;
            l += m.loss;
        }
    }
    *acc = a / (double)ds->n;
    *loss = l / (double)ds->n;
    return 0;
}

static int64_t *load_labels(const char *path, int64_t *n)
{
    struct au_array a = {{0}};
    struct au_diag d;
    if (au_dataset_read_array(path, -1, &a, &d))
        return NULL;
    *n = au_tensor_numel(&a.t);
    int64_t *y = malloc((size_t)*n * sizeof(*y));
    for (int64_t i = 0; y && i < *n; i++)
        y[i] = au_tensor_get_i64(&a.t, i);
    au_array_fini(&a);
    return y;
}

static void check_logits(const char *name, const float *got, const float *ref, int64_t n,
                         int64_t classes)
{
    double maxabs = 0, maxdiff = 0;
    int64_t argmax_diff = 0;
    for (int64_t i = 0; i < n * classes; i++) {
        maxabs = fmax(maxabs, fabs(ref[i]));
        maxdiff = fmax(maxdiff, fabs((double)got[i] - ref[i]));
    }
    for (int64_t r = 0; r < n; r++)
        argmax_diff +=
            au_argmax(got + r * classes, classes) != au_argmax(ref + r * classes, classes);
    printf("%s: max |logit diff| / max |logit| = %.3g, argmax differs on %lld rows\n", name,
           maxdiff / maxabs, (long long)argmax_diff);
    CHECK(maxdiff <= 1e-4 * maxabs);
    CHECK_EQ_INT(argmax_diff, 0);
}

/* run_from(k) for every node of a KEEP graph gives the full run's bits. */
static void check_resume(struct au_graph *g, const char *name)
{
    struct au_diag d;
    const struct au_tensor *out = au_graph_output(g, 0);
    size_t nb = au_tensor_nbytes(out);
    void *golden = malloc(nb);
    memcpy(golden, out->data, nb);
    int bad = 0, tried = 0;
    for (int k = 0; k < au_graph_n_nodes(g); k++) {
        if (au_graph_node(g, k)->folded)
            continue;
        tried++;
        if (au_graph_run_from(g, k, 0, &d) || memcmp(au_graph_output(g, 0)->data, golden, nb))
            bad++;
    }
    printf("%s: run_from on %d nodes, %d differ\n", name, tried, bad);
    CHECK(tried > 0);
    CHECK_EQ_INT(bad, 0);
    free(golden);
}

struct perturb {
    int node;
};

/* Negates one element in rows 1 and 3 of node's first output. */
static int perturb_hook(void *user, const struct au_hook_args *a)
{
    struct perturb *p = user;
    if (a->node_index != p->node)
        return 0;
    struct au_tensor *t = a->out[0];
    int64_t per = au_tensor_numel(t) / t->ne[0];
    float *x = t->data;
    x[1 * per + per / 2] = -x[1 * per + per / 2] - 1.0f;
    x[3 * per + per / 3] = -x[3 * per + per / 3] - 1.0f;
    return 0;
}

/* Row compaction (recomputing only the faulty samples) agrees with a full resume: the
 * untouched samples bit for bit, the faulty ones to the last bits (BLAS sums in another
 * order for a smaller batch). */
static void check_compact(struct au_graph *g, const char *name)
{
    struct au_diag d;
    const struct au_tensor *o = au_graph_output(g, 0);
    size_t nb = au_tensor_nbytes(o), row = nb / (size_t)o->ne[0];
    float *full = malloc(nb);
    int bad = 0, tried = 0;
    double worst = 0;
    for (int k = 0; k < au_graph_n_nodes(g); k++) {
        if (!au_graph_node(g, k)->is_layer)
            continue;
        struct perturb p = {k};
        int id = au_hook_add(g, AU_HOOK_SEL_ALL, NULL, AU_HOOK_POST, perturb_hook, &p);
        tried++;
        int rc = au_graph_run_from(g, k, AU_RUN_PRUNE_MASKED, &d);
        memcpy(full, au_graph_output(g, 0)->data, nb);
        rc |= au_graph_run_from(g, k, AU_RUN_PRUNE_MASKED | AU_RUN_COMPACT, &d);
        const float *c = au_graph_output(g, 0)->data;
        double maxabs = 0, diff = 0;
        for (size_t q = 0; q < nb / sizeof(float); q++) {
            maxabs = fmax(maxabs, fabs(full[q]));
            diff = fmax(diff, fabs((double)full[q] - c[q]));
        }
        worst = fmax(worst, diff / maxabs);
        bool rows_ok = true; /* rows 0, 2, 4.. carry no fault */
        for (int64_t r = 0; r < o->ne[0]; r++)
            if (r != 1 && r != 3 &&
                memcmp((char *)full + r * row, (const char *)c + r * row, row) != 0)
                rows_ok = false;
        if (rc || !rows_ok || diff > 1e-5 * maxabs)
            bad++;
        au_hook_remove(g, id);
    }
    printf("%s: compact resume after %d layers: %d out of tolerance, worst %.2g relative\n", name,
           tried, bad, worst);
    CHECK(tried > 0);
    CHECK_EQ_INT(bad, 0);
    free(full);
}

/* Returns 1 if name.json described a model (and it was tested), 0 otherwise. */
static int test_model(const char *root, const char *name)
{
    char path[1024], xp[1024], yp[1024], lp[1024];
    snprintf(path, sizeof(path), "%s/models/%s.json", root, name);
    char *js = slurp(path);
    cJSON *meta = js ? cJSON_Parse(js) : NULL;
    free(js);
    if (!meta) {
        printf("%s: SKIP (no %s)\n", name, path);
        return 0;
    }
    if (!json_str(meta, "onnx")) { /* e.g. charlm_vocab.json: not a model description */
        cJSON_Delete(meta);
        return 0;
    }
    snprintf(xp, sizeof(xp), "%s/models/%s", root, json_str(meta, "eval_x"));
    snprintf(yp, sizeof(yp), "%s/models/%s", root, json_str(meta, "eval_y"));
    snprintf(lp, sizeof(lp), "%s/models/%s", root, json_str(meta, "logits"));
    snprintf(path, sizeof(path), "%s/models/%s", root, json_str(meta, "onnx"));
    struct au_graph *g = NULL;
    struct au_diag d = {{0}};
    struct au_dataset ds = {0};
    struct au_array ref = {{0}};
    int64_t n_labels = 0, *labels = load_labels(yp, &n_labels);
    int rc = au_onnx_load(path, &g, &d);
    if (!rc)
        rc = au_graph_prepare(g, 50, AU_PREPARE_KEEP, &d);
    struct au_dataset_input in;
    if (!rc) {
        int v = au_graph_input_value(g, 0);
        au_dataset_input_from_tensor(&in, "input", au_graph_tensor(g, v));
        struct au_dataset_opts o = {0};
        rc = au_dataset_load(&ds, xp, &in, &o, &d);
    }
    if (!rc)
        rc = au_npy_read(lp, &ref, &d);
    CHECK_EQ_INT(rc, 0);
    CHECK(labels != NULL);
    if (rc || !labels) {
        fprintf(stderr, "%s: %s\n", name, d.msg);
        goto out;
    }
    int64_t row = au_tensor_numel(&ref.t) / ds.n;
    int64_t classes = ref.t.ne[ref.t.n_dims - 1];
    float *logits = malloc((size_t)(ds.n * row) * sizeof(float));
    double acc = NAN, loss = NAN;
    CHECK_EQ_INT(run_set(g, &ds, labels, logits, &acc, &loss), 0);
    check_logits(name, logits, ref.t.data, ds.n * row / classes, classes);
    printf("%s: accuracy %.6f (torch %.6f), loss %.6f (torch %.6f)\n", name, acc,
           json_num(meta, "accuracy"), loss, json_num(meta, "loss"));
    CHECK_NEAR(acc, json_num(meta, "accuracy"), 5e-5);
    CHECK_NEAR(loss, json_num(meta, "loss"), 5e-5);
    check_resume(g, name);
    check_compact(g, name);
    free(logits);
out:
    free(labels);
    au_array_fini(&ref);
    au_dataset_fini(&ds);
    au_graph_free(g);
    cJSON_Delete(meta);
    return 1;
}

int main(void)
{
    const char *root = getenv("AURUM_SOURCE_ROOT");
    if (!root)
        root = ".";
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/models", root);
    DIR *dp = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (dp && (e = readdir(dp)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)(len - 5), e->d_name);
            n += test_model(root, name);
        }
    }
    if (dp)
        closedir(dp);
    CHECK(n > 0); /* the bundled models are part of the repository */
    return check_report("test_models");
}
