/* Tests for campaigns/validate.c on the bundled LeNet-5 and the built-in plugins: every
 * example validates cleanly, and each semantic or file problem is reported with its JSON
 * path. Campaigns are parsed as if they lived in campaigns/examples/. */
#include "campaigns/spec.h"
#include "campaigns/validate.h"
#include "check.h"
#include "core/alloc.h"
#include "core/npy.h"
#include "core/onnx.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BASE                                                                                       \
    "{\"model\":\"../../models/lenet5.onnx\",\"data\":{\"inputs\":"                                \
    "\"../../models/data/fmnist_eval_x.npy\",\"labels\":\"../../models/data/fmnist_eval_y.npy\"}"
#define CONV1 "/features/features.0/Conv"
#define FC1   "/classifier/classifier.1/Gemm"

static char root[1024], campaign_path[1200];
static struct au_graph *g;
static au_numsys_registry *reg;

static void dump(const struct au_problems *p)
{
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, "    | %s\n", p->msg[i]);
}

static bool has_problem(const struct au_problems *p, const char *needle)
{
    for (size_t i = 0; i < p->n; i++)
        if (strstr(p->msg[i], needle))
            return true;
    return false;
}

/* Parses json (must parse) and runs both checks; problems go to p. */
static int check_json(const char *json, struct au_problems *p)
{
    struct au_campaign *c = NULL;
    struct au_diag d = {{0}};
    int rc = au_campaign_parse(json, strlen(json), campaign_path, &c, p, &d);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  does not parse: %s\n", json);
        dump(p);
        return rc;
    }
    size_t before = p->n;
    int r1 = au_campaign_check(c, g, reg, p, &d);
    if (r1)
        CHECK(strncmp(d.msg, p->msg[before], sizeof(d.msg) - 1) == 0);
    int r2 = au_campaign_check_files(c, g, p, &d);
    CHECK(r1 == 0 || r1 == AU_INVALID);
    CHECK(r2 == 0 || r2 == AU_INVALID);
    CHECK((r1 || r2) == (p->n > before));
    au_campaign_free(c);
    return r1 ? r1 : r2;
}

/* BASE + extra must validate with a problem containing each needle (NULL-ended),
 * every problem starting with the campaign file's path. */
static void expect(const char *extra, const char *const *needles)
{
    char json[4096];
    if (strncmp(extra, "\"data\":", 7) == 0)
        snprintf(json, sizeof(json), "{\"model\":\"../../models/lenet5.onnx\",%s}", extra);
    else
        snprintf(json, sizeof(json), BASE ",%s}", extra);
    struct au_problems p = {0};
    int rc = check_json(json, &p);
    CHECK_EQ_INT(rc, AU_INVALID);
    bool all = true;
    for (const char *const *n = needles; *n; n++) {
        bool ok = has_problem(&p, *n);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  wanted '%s'\n", *n);
        all = all && ok;
    }
    if (!all || rc != AU_INVALID) {
        fprintf(stderr, "  for %s, got %zu problems:\n", extra, p.n);
        dump(&p);
    }
    for (size_t i = 0; i < p.n; i++)
        CHECK(strncmp(p.msg[i], campaign_path, strlen(campaign_path)) == 0);
    au_problems_fini(&p);
}

#define EXPECT(extra, ...) expect(extra, (const char *const[]){__VA_ARGS__, NULL})

static void expect_ok(const char *extra)
{
    char json[4096];
    if (strncmp(extra, "\"data\":", 7) == 0)
        snprintf(json, sizeof(json), "{\"model\":\"../../models/lenet5.onnx\",%s}", extra);
    else
        snprintf(json, sizeof(json), BASE "%s%s}", *extra ? "," : "", extra);
    struct au_problems p = {0};
    CHECK_EQ_INT(check_json(json, &p), 0);
    if (p.n) {
        fprintf(stderr, "  for %s:\n", extra);
        dump(&p);
    }
    au_problems_fini(&p);
}

static void test_selectors(void)
{
    EXPECT("\"targets\":{\"layers\":\"conv9\"}",
           "t.json: $.targets.layers: 'conv9' matches no node of ",
           "; layers: '" CONV1 "' (Conv), '/features/features.3/Conv' (Conv), '" FC1
           "' (Gemm), '/classifier/classifier.3/Gemm' (Gemm), '/classifier/classifier.5/Gemm' "
           "(Gemm)");
    EXPECT("\"targets\":{\"layers\":[\"op:Conv\",\"/features/features.1/Relu\"]}",
           "$.targets.layers[1]: '/features/features.1/Relu' matches no layer: "
           "'/features/features.1/Relu' is a Relu, not a layer (a node with weights)");
    EXPECT("\"targets\":{\"layers\":[\"op:Relu\"]}",
           "$.targets.layers: 'op:Relu' matches no layer: '/features/features.1/Relu' is a Relu");
    EXPECT("\"targets\":{\"layers\":[\"/classifier/*/Relu\"]}",
           "$.targets.layers: '/classifier/*/Relu' matches no layer: "
           "'/classifier/classifier.2/Relu' is a Relu");
    EXPECT("\"formats\":{\"layers\":[{\"select\":\"op:MatMul\",\"weights\":\"fp16\"}]}",
           "$.formats.layers[0].select: 'op:MatMul' matches no node of");
    EXPECT("\"process\":{\"type\":\"poisson\",\"rate\":1,\"rates\":[{\"layers\":[\"op:Conv\","
           "\"fc9\"],\"rate\":2}]}",
           "$.process.rates[0].layers[1]: 'fc9' matches no node");
    EXPECT(
        "\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\",\"time_per_mac\":"
        "1,\"times\":[{\"select\":\"op:Add\",\"time\":1}]}",
        "$.process.times[0].select: 'op:Add' matches no node");
    /* globs, op types and exact names that do match layers */
    expect_ok("\"targets\":{\"layers\":[\"/features/*\",\"op:Gemm\",\"" FC1 "\"]}");
}

static void test_formats(void)
{
    EXPECT("\"formats\":{\"activations\":\"fp61\"}", "t.json: $.formats.activations: ");
    EXPECT("\"formats\":{\"weights\":\"bfp{mantissa:40}\"}",
           "$.formats.weights: bfp: parameter 'mantissa' must be an integer in [1, 23], got 40");
    EXPECT("\"formats\":{\"weights\":{\"format\":\"bfp\",\"mantisa\":4}}",
           "$.formats.weights: bfp: ");
    EXPECT("\"formats\":{\"layers\":[{\"select\":\"op:Conv\",\"activations\":\"int{bits:99}\"}]}",
           "$.formats.layers[0].activations: int: parameter 'bits' must be an integer in [2, 24]");
    /* a failed format does not also produce field or bit complaints for its layers */
    struct au_problems p = {0};
    check_json(BASE ",\"formats\":{\"activations\":\"nope\"},\"targets\":{\"fields\":\"x\"}}", &p);
    CHECK_EQ_U64(p.n, 1);
    au_problems_fini(&p);
}

static void test_fields_and_positions(void)
{
    EXPECT("\"formats\":{\"activations\":\"bfp8\"},\"targets\":{\"fields\":[\"sign\","
           "\"exponent\"]}",
           "$.targets.fields[1]: 'exponent' is not a data field of the activations format bfp8 "
           "(data fields sign, mantissa; metadata fields shared_exponent)");
    EXPECT("\"formats\":{\"activations\":\"fp16\"},\"targets\":{\"bits\":[\"data\",\"metadata\"],"
           "\"fields\":\"bias\"}",
           "$.targets.fields: 'bias' is not a data or metadata field of the activations format "
           "fp16 (data fields sign, exponent, mantissa; no metadata)");
    EXPECT("\"formats\":{\"weights\":\"int8\"},\"targets\":{\"tensors\":\"weights\",\"bits\":"
           "\"metadata\",\"fields\":\"sign\"}",
           "$.targets.fields: 'sign' is not a metadata field of the weights format int8");
    EXPECT("\"formats\":{\"activations\":\"fp16\"},\"targets\":{\"bit_positions\":[3,20]}",
           "$.targets.bit_positions[1]: bit 20 is outside the 16-bit codes of the activations "
           "format fp16");
    EXPECT("\"targets\":{\"bits\":\"metadata\",\"meta_bit_positions\":0}",
           "$.targets.meta_bit_positions: the activations format float32 has no metadata");
    EXPECT("\"formats\":{\"activations\":\"bfp8\"},\"targets\":{\"bits\":\"metadata\","
           "\"meta_bit_positions\":[8]}",
           "$.targets.meta_bit_positions: bit 8 is outside the 8-bit metadata words of the "
           "activations format bfp8");
    /* float32 (no format) faults use the binary32 layout; metadata fields of bfp */
    expect_ok("\"targets\":{\"fields\":\"exponent\",\"bit_positions\":31}");
    expect_ok("\"formats\":{\"activations\":\"bfp8\"},\"targets\":{\"bits\":[\"data\","
              "\"metadata\"],\"fields\":\"shared_exponent\"}");
}

static void test_no_targeted_bits(void)
{
    EXPECT("\"formats\":{\"activations\":\"fp16\"},\"targets\":{\"bits\":\"metadata\"}",
           "$.targets: layer '" CONV1 "' has no targeted bit: its activations format fp16 has no "
           "metadata",
           "$.targets: layer '/classifier/classifier.5/Gemm' has no targeted bit");
    /* one tensor with metadata is enough for the layer */
    expect_ok("\"formats\":{\"activations\":\"fp16\",\"weights\":\"bfp8\"},\"targets\":{"
              "\"tensors\":[\"activations\",\"weights\"],\"bits\":\"metadata\"}");
    /* only the Gemm layers have a format with metadata */
    EXPECT("\"formats\":{\"layers\":[{\"select\":\"op:Gemm\",\"activations\":\"int8\"}]},"
           "\"targets\":{\"bits\":\"metadata\"}",
           "$.targets: layer '/features/features.3/Conv' has no targeted bit: its activations "
           "format float32 has no metadata");
    /* a bad filter is reported once, not again as "no targeted bit" for every layer */
    struct au_problems p = {0};
    check_json(BASE ",\"formats\":{\"activations\":\"bfp8\"},\"targets\":{\"fields\":"
                    "\"shared_exponent\"}}",
               &p);
    CHECK_EQ_U64(p.n, 1);
    CHECK(has_problem(&p, "$.targets.fields: 'shared_exponent' is not a data field"));
    au_problems_fini(&p);
    expect_ok("\"formats\":{\"layers\":[{\"select\":\"op:Gemm\",\"activations\":\"int8\"}]},"
              "\"targets\":{\"layers\":\"op:Gemm\",\"bits\":\"metadata\"}");
}

static void test_poisson(void)
{
    EXPECT("\"process\":{\"type\":\"poisson\",\"rate\":1,\"rates\":[{\"bits\":\"data\",\"rate\":0}"
           "]}",
           "t.json: $.process: no fault can occur: every targeted bit has rate 0");
    EXPECT("\"targets\":{\"layers\":\"op:Conv\"},\"process\":{\"type\":\"poisson\",\"rate\":1,"
           "\"timing\":\"single_layer\",\"rates\":[{\"layers\":\"" CONV1 "\",\"rate\":0}]}",
           "$.process.rates: every targeted bit of layer '" CONV1 "' has rate 0");
    /* a field of no targeted format, and a layer filter outside the targets */
    EXPECT("\"formats\":{\"activations\":\"fp16\"},\"process\":{\"type\":\"poisson\",\"rate\":1,"
           "\"rates\":[{\"field\":\"shared_exponent\",\"rate\":0}]}",
           "$.process.rates[0]: matches no targeted bit: no targeted tensor of its layers has a "
           "targeted field 'shared_exponent'");
    EXPECT("\"targets\":{\"layers\":\"op:Conv\"},\"process\":{\"type\":\"poisson\",\"rate\":1,"
           "\"rates\":[{\"layers\":\"op:Gemm\",\"rate\":0}]}",
           "$.process.rates[0]: matches no targeted bit");
    /* layer-wise: times must cover every targeted layer unless time_per_mac is given */
    EXPECT("\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\",\"times\":[{"
           "\"select\":\"op:Conv\",\"time\":1}]}",
           "$.process.times: no time for layer '" FC1 "' (add an entry that selects it, or set "
           "time_per_mac)");
    EXPECT("\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\",\"times\":[{"
           "\"select\":\"*\",\"time\":0}]}",
           "$.process: no fault can occur");
    expect_ok("\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\","
              "\"time_per_mac\":1e-9,\"times\":[{\"select\":\"op:Conv\",\"time\":1}]}");
    expect_ok("\"formats\":{\"activations\":\"bfp8\"},\"targets\":{\"bits\":[\"data\","
              "\"metadata\"]},\"process\":{\"type\":\"poisson\",\"rate\":1,\"rates\":[{\"field\":"
              "\"shared_exponent\",\"rate\":0},{\"bits\":\"data\",\"layers\":\"op:Gemm\","
              "\"tensors\":\"activations\",\"rate\":3}]}");
}

/* Writes an int64 label file of n labels, all 1 except label[bad_at] = bad. */
static void write_labels(const char *path, int64_t n, int64_t bad_at, int64_t bad)
{
    int64_t *y = au_malloc_aligned((size_t)n * sizeof(*y));
    for (int64_t i = 0; i < n; i++)
        y[i] = i == bad_at ? bad : 1;
    struct au_tensor t = {0};
    t.dtype = AU_DTYPE_I64;
    t.n_dims = 1;
    t.ne[0] = n;
    t.data = y;
    struct au_diag d;
    CHECK_EQ_INT(au_npy_write(path, &t, &d), 0);
    au_free_aligned(y);
}

static void test_files(void)
{
    char tmp[] = "/tmp/au_test_validate_XXXXXX", extra[2048], few[256], bad[256];
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(few, sizeof(few), "%s/few.npy", tmp);
    snprintf(bad, sizeof(bad), "%s/bad.npy", tmp);
    write_labels(few, 10, -1, 0);
    write_labels(bad, 1000, 17, 12);
#define X "\"inputs\":\"../../models/data/fmnist_eval_x.npy\""
#define Y "\"labels\":\"../../models/data/fmnist_eval_y.npy\""
    EXPECT("\"data\":{" X "," Y ",\"samples\":2000}", "$.data.samples: 2000, but ",
           "fmnist_eval_x.npy has only 1000 samples");
    EXPECT("\"data\":{" X ",\"labels\":\"../../models/data/lenet5_logits.npy\"}",
           "$.data.labels: ", "lenet5_logits.npy holds float32 values; labels must be integers");
    EXPECT("\"data\":{\"inputs\":\"nothere.npy\"," Y "}", "$.data.inputs: ", "nothere.npy");
    EXPECT("\"data\":{" X "," Y ",\"normalize\":{\"mean\":0.5,\"std\":0.2}}", "$.data.normalize: ",
           "fmnist_eval_x.npy holds float32 samples: normalize applies to "
           "uint8 images only");
    snprintf(extra, sizeof(extra), "\"data\":{" X ",\"labels\":\"%s\"}", few);
    EXPECT(extra, "$.data.labels: ", "few.npy has 10 labels for 1000 samples");
    snprintf(extra, sizeof(extra), "\"data\":{" X ",\"labels\":\"%s\"}", bad);
    EXPECT(extra, "bad.npy: label 12 of sample 17 is outside the model's 10 classes");
    snprintf(extra, sizeof(extra), "\"data\":{" X ",\"labels\":\"%s\",\"samples\":10}", few);
    expect_ok(extra);                               /* only the first 10 samples are used */
    expect_ok("\"database\":\"no/such/dir/x.db\""); /* the runner creates directories */
    snprintf(extra, sizeof(extra), "\"database\":\"%s\"", tmp);
    EXPECT(extra, "$.database: ", " is a directory");
    snprintf(extra, sizeof(extra), "\"database\":\"%s/sub/x.db\"", few);
    EXPECT(extra, "few.npy is not a directory");
#undef X
#undef Y
    unlink(few);
    unlink(bad);
    rmdir(tmp);
}

static const struct au_node *node_named(const char *name)
{
    for (int i = 0; i < au_graph_n_nodes(g); i++)
        if (strcmp(au_graph_node(g, i)->name, name) == 0)
            return au_graph_node(g, i);
    return NULL;
}

/* Later rules override earlier ones and the default; "float32" switches emulation off. */
static void test_resolution(void)
{
    const char *j = BASE ",\"formats\":{\"weights\":\"fp16\",\"activations\":\"bf16\",\"layers\":["
                         "{\"select\":\"op:Gemm\",\"activations\":\"int8\"},"
                         "{\"select\":[\"" FC1 "\",\"x\"],\"activations\":\"float32\","
                         "\"weights\":\"bfp8\"}]}}";
    struct au_campaign *c = NULL;
    CHECK_EQ_INT(au_campaign_parse(j, strlen(j), campaign_path, &c, NULL, NULL), 0);
    const struct au_node *conv = node_named(CONV1), *fc1 = node_named(FC1);
    const struct au_node *fc2 = node_named("/classifier/classifier.3/Gemm");
    const struct au_node *relu = node_named("/features/features.1/Relu");
    CHECK(c && conv && fc1 && fc2 && relu);
    if (!c || !conv || !fc1 || !fc2 || !relu)
        return;
    CHECK(strcmp(au_campaign_format_of(c, conv, AU_CAMPAIGN_ACT), "bf16") == 0);
    CHECK(strcmp(au_campaign_format_of(c, conv, AU_CAMPAIGN_WEIGHTS), "fp16") == 0);
    CHECK(strcmp(au_campaign_format_of(c, fc2, AU_CAMPAIGN_ACT), "int8") == 0);
    CHECK(au_campaign_format_of(c, fc1, AU_CAMPAIGN_ACT) == NULL);
    CHECK(strcmp(au_campaign_format_of(c, fc1, AU_CAMPAIGN_WEIGHTS), "bfp8") == 0);
    CHECK(au_campaign_selects(&c->formats.rules[1].select, fc1));
    CHECK(!au_campaign_selects(&c->formats.rules[1].select, fc2));
    struct au_selectors all = {(char *[]){"*"}, 1}, by_name = {(char *[]){relu->name}, 1};
    CHECK(au_campaign_selects(&all, conv) && !au_campaign_selects(&all, relu));
    CHECK(!au_campaign_selects(&by_name, relu)); /* not a layer */
    CHECK(au_campaign_format_is_native(NULL) && au_campaign_format_is_native("none"));
    CHECK(!au_campaign_format_is_native("fp32"));
    au_campaign_free(c);
}

/* Every bundled example validates against its model and data. */
static void test_examples(void)
{
    char dir[1100], path[1400];
    snprintf(dir, sizeof(dir), "%s/campaigns/examples", root);
    DIR *dp = opendir(dir);
    CHECK(dp != NULL);
    int n = 0;
    for (struct dirent *e; dp && (e = readdir(dp));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct au_campaign *c = NULL;
        struct au_problems p = {0};
        struct au_diag d = {{0}};
        struct au_graph *mg = NULL;
        int rc = au_campaign_load(path, &c, &p, &d);
        if (!rc)
            rc = au_onnx_load(c->model, &mg, &d);
        if (!rc)
            rc = au_graph_prepare(mg, 1, 0, &d);
        if (!rc)
            rc = au_campaign_check(c, mg, reg, &p, &d);
        if (!rc)
            rc = au_campaign_check_files(c, mg, &p, &d);
        CHECK_EQ_INT(rc, 0);
        if (rc) {
            fprintf(stderr, "  %s: %s\n", e->d_name, d.msg);
            dump(&p);
        }
        au_graph_free(mg);
        au_campaign_free(c);
        au_problems_fini(&p);
        n++;
    }
    if (dp)
        closedir(dp);
    CHECK(n >= 10);
}

/* Allocation failures at every site give AU_NOMEM, never a crash, a leak or a bogus
 * problem. */
static void test_alloc_failures(void)
{
    const char *j = BASE ",\"formats\":{\"weights\":\"bfp8\",\"layers\":[{\"select\":\"op:Gemm\","
                         "\"activations\":\"int8\"}]},\"targets\":{\"tensors\":[\"weights\","
                         "\"activations\"],\"bits\":[\"data\",\"metadata\"]},\"process\":{\"type\":"
                         "\"poisson\",\"rate\":1,\"rates\":[{\"field\":\"sign\",\"rate\":0}]}}";
    struct au_campaign *c = NULL;
    CHECK_EQ_INT(au_campaign_parse(j, strlen(j), campaign_path, &c, NULL, NULL), 0);
    if (!c)
        return;
    bool done = false;
    for (long k = 1; k < 2000 && !done; k++) {
        struct au_problems p = {0};
        au_alloc_fail_after(k);
        int rc = au_campaign_check(c, g, reg, &p, NULL);
        if (rc == 0)
            rc = au_campaign_check_files(c, g, &p, NULL);
        au_alloc_fail_after(0);
        CHECK(rc == 0 || rc == AU_NOMEM);
        if (rc != 0 && rc != AU_NOMEM)
            dump(&p);
        done = rc == 0;
        au_problems_fini(&p);
    }
    CHECK(done);
    au_campaign_free(c);
}

/* Runs `aurum validate args`, returns its exit status; out gets stdout+stderr. */
static int run_cli(const char *args, char *out, size_t len)
{
    const char *pd = getenv("AURUM_PLUGIN_BUILD_DIR");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s/../cli/aurum' validate %s 2>&1", pd ? pd : ".", args);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    if (!f)
        return -1;
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* aurum validate prints every problem (parse, then model) one per line; exit 1. */
static void test_cli(void)
{
    char dir[] = "/tmp/au_test_cli_XXXXXX", file[256], args[1400], out[8192];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof(file), "%s/bad.json", dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f,
            "{\"model\":\"%s/models/lenet5.onnx\",\"data\":{\"inputs\":\"%s/models/data/"
            "fmnist_eval_x.npy\",\"labels\":\"%s/models/data/fmnist_eval_y.npy\"},"
            "\"targets\":{\"layers\":[\"op:Conv\",\"fc9\"]},\"formats\":{\"activations\":"
            "\"fp16\"},\"proces\":1}",
            root, root, root);
    fclose(f);
    CHECK_EQ_INT(run_cli(file, out, sizeof(out)), 1);
    char want[512];
    snprintf(want, sizeof(want), "%s: $.proces: unknown key (did you mean 'process'?)\n", file);
    CHECK(strstr(out, want) == out);
    /* names are checked in the same pass: formats and layer selectors */
    snprintf(want, sizeof(want), "\n%s: $.targets.layers[1]: 'fc9' matches no node", file);
    CHECK(strstr(out, want) != NULL);
    f = fopen(file, "w");
    fprintf(f,
            "{\"model\":\"%s/models/lenet5.onnx\",\"data\":{\"inputs\":\"%s/models/data/"
            "fmnist_eval_x.npy\",\"labels\":\"%s/models/data/fmnist_eval_y.npy\"},"
            "\"targets\":{\"layers\":[\"op:Conv\",\"fc9\"],\"bit_positions\":17},"
            "\"formats\":{\"activations\":\"fp16\"}}",
            root, root, root);
    fclose(f);
    CHECK_EQ_INT(run_cli(file, out, sizeof(out)), 1);
    snprintf(want, sizeof(want), "%s: $.targets.layers[1]: 'fc9' matches no node", file);
    CHECK(strstr(out, want) == out);
    CHECK(strstr(out, "$.targets.bit_positions: bit 17 is outside the 16-bit codes") != NULL);
    int lines = 0;
    for (const char *s = out; *s; s++)
        lines += *s == '\n';
    CHECK_EQ_INT(lines, 2);
    snprintf(args, sizeof(args), "--quiet %s/campaigns/examples/ci-stop.json", root);
    CHECK_EQ_INT(run_cli(args, out, sizeof(out)), 0);
    CHECK(out[0] == '\0');
    snprintf(args, sizeof(args), "%s/campaigns/examples/ci-stop.json %s", root, file);
    CHECK_EQ_INT(run_cli(args, out, sizeof(out)), 1);
    CHECK(strstr(out, "ci-stop.json: ok: per_layer on 5 of 5 layers") != NULL);
    CHECK_EQ_INT(run_cli("--bogus x.json", out, sizeof(out)), 2);
    CHECK_EQ_INT(run_cli("", out, sizeof(out)), 2);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const char *r = getenv("AURUM_SOURCE_ROOT");
    CHECK(r != NULL);
    if (!r)
        return check_report("test_validate");
    snprintf(root, sizeof(root), "%s", r);
    snprintf(campaign_path, sizeof(campaign_path), "%s/campaigns/examples/t.json", root);
    char model[1400];
    snprintf(model, sizeof(model), "%s/models/lenet5.onnx", root);
    struct au_diag d = {{0}};
    int rc = au_numsys_registry_new(&reg, &d);
    if (!rc)
        rc = au_onnx_load(model, &g, &d);
    if (!rc)
        rc = au_graph_prepare(g, 1, 0, &d);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "setup: %s\n", d.msg);
        return check_report("test_validate");
    }
    test_selectors();
    test_formats();
    test_fields_and_positions();
    test_no_targeted_bits();
    test_poisson();
    test_files();
    test_resolution();
    test_examples();
    test_alloc_failures();
    test_cli();
    au_graph_free(g);
    au_numsys_registry_free(reg);
    return check_report("test_validate");
}
