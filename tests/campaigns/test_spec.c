/* Tests for campaigns/spec.c: defaults, paths, every kind of problem with its JSON path,
 * all problems reported in one pass, the bundled examples, and allocation failures at
 * every site. The schema is checked for keys the parser does not know. */
#include "campaigns/spec.h"
#include "check.h"
#include "core/alloc.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE  "{\"model\":\"m.onnx\",\"data\":{\"inputs\":\"x.npy\",\"labels\":\"y.npy\"}"
#define FILE_ "runs/c.json"

static int parse(const char *json, struct au_campaign **c, struct au_problems *p)
{
    struct au_diag d = {{0}};
    size_t before = p->n;
    int rc = au_campaign_parse(json, strlen(json), FILE_, c, p, &d);
    if (rc == 0)
        CHECK(d.msg[0] == '\0' && p->n == before);
    else if (p->n > before) /* d gets the first new problem */
        CHECK(strncmp(d.msg, p->msg[before], sizeof(d.msg) - 1) == 0);
    return rc;
}

static bool has_problem(const struct au_problems *p, const char *needle)
{
    for (size_t i = 0; i < p->n; i++)
        if (strstr(p->msg[i], needle))
            return true;
    return false;
}

static void dump(const struct au_problems *p)
{
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, "    | %s\n", p->msg[i]);
}

/* BASE + extra keys must fail with a problem containing needle. */
static void expect(const char *extra, const char *needle)
{
    char json[2048];
    if (strncmp(extra, "\"data\":", 7) == 0) /* replaces BASE's data */
        snprintf(json, sizeof(json), "{\"model\":\"m.onnx\",%s}", extra);
    else
        snprintf(json, sizeof(json), BASE ",%s}", extra);
    struct au_campaign *c = (void *)1;
    struct au_problems p = {0};
    int rc = parse(json, &c, &p);
    CHECK_EQ_INT(rc, AU_FORMAT);
    CHECK(c == NULL);
    bool ok = has_problem(&p, needle);
    CHECK(ok);
    if (!ok || rc != AU_FORMAT) {
        fprintf(stderr, "  for %s\n  wanted '%s', got %zu problems:\n", extra, needle, p.n);
        dump(&p);
    }
    for (size_t i = 0; i < p.n; i++)
        CHECK(strncmp(p.msg[i], FILE_ ":", strlen(FILE_) + 1) == 0);
    au_problems_fini(&p);
}

static void test_defaults_and_paths(void)
{
    struct au_campaign *c = NULL;
    struct au_problems p = {0};
    CHECK_EQ_INT(parse(BASE "}", &c, &p), 0);
    CHECK_EQ_U64(p.n, 0);
    if (!c)
        return;
    CHECK(strcmp(c->name, "c") == 0);
    CHECK(strcmp(c->dir, "runs") == 0);
    CHECK(strcmp(c->model, "runs/m.onnx") == 0);
    CHECK(strcmp(c->data.inputs, "runs/x.npy") == 0);
    CHECK(strcmp(c->database, "runs/c.db") == 0);
    CHECK_EQ_INT(c->batch, 64);
    CHECK_EQ_INT(c->data.samples, 0);
    CHECK(!c->data.only_correct && c->data.n_norm == 0);
    CHECK(c->formats.weights == NULL && c->formats.activations == NULL);
    CHECK_EQ_INT(c->targets.layers.n, 1);
    CHECK(strcmp(c->targets.layers.v[0], "*") == 0);
    CHECK_EQ_U64(c->targets.tensors, AU_CAMPAIGN_ACT);
    CHECK_EQ_U64(c->targets.bits, AU_CAMPAIGN_DATA);
    CHECK_EQ_INT(c->fault, AU_CAMPAIGN_BIT_FLIP);
    CHECK_EQ_INT(c->process.type, AU_CAMPAIGN_PER_LAYER);
    CHECK_EQ_INT(c->process.flips, 1);
    CHECK_EQ_INT(c->process.trials, 1000);
    CHECK_EQ_INT(c->stop.type, AU_CAMPAIGN_STOP_FIXED);
    CHECK_NEAR(c->stop.confidence, 0.99, 0);
    CHECK_EQ_INT(c->stop.min_trials, 30);
    CHECK_EQ_INT(c->metadata_faults, AU_CAMPAIGN_REINTERPRET);
    CHECK(!c->range_detector && c->seed == 0);
    CHECK(strcmp(c->json, BASE "}") == 0); /* already normalized */
    au_campaign_free(c);

    /* absolute paths stay; a file without a directory joins nothing; the JSON text is
     * normalized (whitespace gone) */
    const char *j = "{ \"model\" : \"/abs/m.onnx\",\n \"data\": {\"inputs\": \"d/x.npy\", "
                    "\"labels\": \"/y.npy\"}, \"database\": \"out.db\", \"name\": \"n-1.x\" }";
    struct au_diag d;
    CHECK_EQ_INT(au_campaign_parse(j, strlen(j), "c.json", &c, NULL, &d), 0);
    if (!c)
        return;
    CHECK(strcmp(c->model, "/abs/m.onnx") == 0 && strcmp(c->data.inputs, "d/x.npy") == 0);
    CHECK(strcmp(c->data.labels, "/y.npy") == 0 && strcmp(c->database, "out.db") == 0);
    CHECK(strcmp(c->name, "n-1.x") == 0 && strcmp(c->dir, ".") == 0);
    CHECK(strchr(c->json, ' ') == NULL && strchr(c->json, '\n') == NULL);
    au_campaign_free(c);
}

static void test_full_file(void)
{
    const char *j =
        "{\"name\":\"lenet5-fp16-act\",\"model\":\"../../models/lenet5.onnx\","
        "\"data\":{\"inputs\":\"x.npy\",\"labels\":\"y.npy\",\"samples\":1000,"
        "\"only_correct\":true,\"normalize\":{\"mean\":[0.286],\"std\":[0.353]}},"
        "\"batch\":128,\"formats\":{\"weights\":\"fp16\",\"activations\":\"float32\","
        "\"layers\":[{\"select\":\"op:Gemm\",\"activations\":\"int{bits:8}\"},"
        "{\"select\":[\"a\",\"b*\"],\"weights\":{\"format\":\"bfp\",\"mantissa\":7},"
        "\"activations\":\"float32\"}]},"
        "\"targets\":{\"layers\":[\"*\"],\"tensors\":[\"activations\",\"weights\"],"
        "\"bits\":[\"data\",\"metadata\"],\"fields\":[\"exponent\"],\"bit_positions\":[30],"
        "\"meta_bit_positions\":[0,1]},\"fault\":{\"model\":\"stuck_at_1\"},"
        "\"process\":{\"type\":\"poisson\",\"rate\":1e-9,\"rates\":[{\"bits\":\"metadata\","
        "\"tensors\":\"weights\",\"layers\":\"op:Conv\",\"field\":\"shared_exponent\","
        "\"rate\":0}],\"timing\":\"layer_wise\",\"time_per_mac\":2e-9,\"times\":[{\"select\":"
        "\"fc\",\"time\":0.5}],\"condition_on_fault\":true},"
        "\"range_detector\":true,\"metadata_faults\":\"requantize\","
        "\"stop\":{\"type\":\"ci\",\"metric\":\"mismatch\",\"half_width\":0.01,"
        "\"max_trials\":5000},\"seed\":\"18446744073709551615\","
        "\"database\":\"results/lenet5-fp16.db\"}";
    struct au_campaign *c = NULL;
    struct au_problems p = {0};
    CHECK_EQ_INT(parse(j, &c, &p), 0);
    dump(&p);
    au_problems_fini(&p);
    if (!c)
        return;
    CHECK(strcmp(c->model, "runs/../../models/lenet5.onnx") == 0);
    CHECK(c->data.samples == 1000 && c->data.only_correct && c->data.n_norm == 1);
    CHECK_NEAR(c->data.mean[0], 0.286, 1e-7);
    CHECK_NEAR(c->data.std[0], 0.353, 1e-7);
    CHECK_EQ_INT(c->batch, 128);
    CHECK(strcmp(c->formats.weights, "fp16") == 0);
    CHECK(c->formats.activations == NULL); /* "float32" = no emulation */
    CHECK_EQ_INT(c->formats.n_rules, 2);
    CHECK(strcmp(c->formats.rules[0].select.v[0], "op:Gemm") == 0);
    CHECK(strcmp(c->formats.rules[0].activations, "int{bits:8}") == 0);
    CHECK(c->formats.rules[0].weights == NULL);
    CHECK_EQ_INT(c->formats.rules[1].select.n, 2);
    CHECK(strcmp(c->formats.rules[1].weights, "{\"format\":\"bfp\",\"mantissa\":7}") == 0);
    CHECK(strcmp(c->formats.rules[1].activations, "float32") == 0); /* kept: overrides */
    CHECK_EQ_U64(c->targets.tensors, AU_CAMPAIGN_ACT | AU_CAMPAIGN_WEIGHTS);
    CHECK_EQ_U64(c->targets.bits, AU_CAMPAIGN_DATA | AU_CAMPAIGN_META);
    CHECK(c->targets.n_fields == 1 && c->targets.n_bit_positions == 1);
    CHECK(c->targets.bit_positions[0] == 30 && c->targets.n_meta_bit_positions == 2);
    CHECK_EQ_INT(c->fault, AU_CAMPAIGN_STUCK_AT_1);
    CHECK_EQ_INT(c->process.type, AU_CAMPAIGN_POISSON);
    CHECK_EQ_INT(c->process.timing, AU_CAMPAIGN_LAYER_WISE);
    CHECK_NEAR(c->process.rate, 1e-9, 0);
    CHECK_NEAR(c->process.time_per_mac, 2e-9, 0);
    CHECK(c->process.n_rates == 1 && c->process.n_times == 1 && c->process.condition_on_fault);
    const struct au_campaign_rate *e = &c->process.rates[0];
    CHECK(e->bits == AU_CAMPAIGN_META && e->tensors == AU_CAMPAIGN_WEIGHTS && e->rate == 0);
    CHECK(strcmp(e->field, "shared_exponent") == 0 && e->layers.n == 1);
    CHECK_NEAR(c->process.times[0].time, 0.5, 0);
    CHECK(c->range_detector && c->metadata_faults == AU_CAMPAIGN_REQUANTIZE);
    CHECK(c->stop.type == AU_CAMPAIGN_STOP_CI && c->stop.metric == AU_CAMPAIGN_MISMATCH);
    CHECK(c->stop.max_trials == 5000 && c->stop.min_trials == 30);
    CHECK_EQ_U64(c->seed, UINT64_MAX);
    CHECK(strcmp(c->database, "runs/results/lenet5-fp16.db") == 0);
    CHECK(strcmp(au_campaign_process_name(c->process.type), "poisson") == 0);
    CHECK(strcmp(au_campaign_timing_name(c->process.timing), "layer_wise") == 0);
    CHECK(strcmp(au_campaign_fault_name(c->fault), "stuck_at_1") == 0);
    au_campaign_free(c);
}

static void test_exact_messages(void)
{
    struct au_campaign *c;
    struct au_problems p = {0};
    CHECK_EQ_INT(parse(BASE ",\"process\":{\"type\":\"poisson\",\"rate\":-1}}", &c, &p), AU_FORMAT);
    CHECK_EQ_U64(p.n, 1);
    if (p.n)
        CHECK(strcmp(p.msg[0], FILE_ ": $.process.rate: must be > 0, got -1") == 0);
    au_problems_fini(&p);
    CHECK_EQ_INT(parse(BASE ",\"proces\":{}}", &c, &p), AU_FORMAT);
    if (p.n)
        CHECK(strcmp(p.msg[0], FILE_ ": $.proces: unknown key (did you mean 'process'?)") == 0);
    au_problems_fini(&p);
}

/* Every problem the parser reports, each with the path it must name. */
static void test_each_problem(void)
{
    static const char *const cases[][2] = {
        /* keys and types */
        {"\"batch\":\"x\"", "$.batch: must be an integer in [1, 65536], got 'x'"},
        {"\"batch\":0", "$.batch: must be an integer in [1, 65536], got 0"},
        {"\"batch\":2.5", "$.batch: must be an integer"},
        {"\"Batch\":2", "$.Batch: unknown key (did you mean 'batch'?)"},
        {"\"zzz\":2", "$.zzz: unknown key"},
        {"\"odd key\":2", "$['odd key']: unknown key"},
        {"\"batch\":2,\"batch\":3", "$.batch: duplicate key"},
        {"\"name\":\"a/b\"", "$.name: must be 1-128 letters"},
        {"\"name\":\"\"", "$.name: must not be empty"},
        {"\"description\":5", "$.description: must be a string, got 5"},
        {"\"database\":[]", "$.database: must be a string, got an array"},
        {"\"range_detector\":1", "$.range_detector: must be true or false, got 1"},
        {"\"metadata_faults\":\"requant\"", "$.metadata_faults: must be one of 'reinterpret', "
                                            "'requantize', got 'requant' (did you mean"},
        {"\"metadata_faults\":\"requantize\"", "$.metadata_faults: 'requantize' applies to "
                                               "metadata faults"},
        {"\"seed\":-1", "$.seed: must be an integer in [0, 9007199254740992], got -1"},
        {"\"seed\":1e300", "$.seed: above 2^53 a seed must be a string"},
        {"\"seed\":\"12x\"", "$.seed: must be an unsigned 64-bit integer"},
        {"\"seed\":\"-3\"", "$.seed: must be an unsigned 64-bit integer"},
        {"\"seed\":\"99999999999999999999\"", "$.seed: must be an unsigned 64-bit integer"},
        {"\"fault\":{\"model\":\"bitflip\"}", "$.fault.model: must be one of 'bit_flip',"},
        {"\"fault\":\"bit_flip\"", "$.fault: must be an object, got 'bit_flip'"},
        {"\"fault\":{\"kind\":1}", "$.fault.kind: unknown key"},
        /* data */
        {"\"data\":{\"inputs\":\"x\",\"labels\":\"y\",\"samples\":0}",
         "$.data.samples: must be an integer in [1, "},
        {"\"data\":{\"inputs\":\"x\",\"labels\":\"y\",\"normalize\":{\"mean\":[1,2],\"std\":[1]}}",
         "$.data.normalize.std: has 1 entries but mean has 2"},
        {"\"data\":{\"inputs\":\"x\",\"labels\":\"y\",\"normalize\":{\"mean\":1,\"std\":0}}",
         "$.data.normalize.std: must be > 0, got 0"},
        {"\"data\":{\"inputs\":\"x\",\"labels\":\"y\",\"normalize\":{\"mean\":[\"a\"],\"std\":1}}",
         "$.data.normalize.mean[0]: must be a number, got 'a'"},
        {"\"data\":{\"inputs\":\"x\",\"labels\":\"y\",\"normalize\":{\"std\":1}}",
         "$.data.normalize.mean: missing (required)"},
        /* formats */
        {"\"formats\":{\"weights\":3}", "$.formats.weights: must be a format string or object"},
        {"\"formats\":{\"weights\":\"\"}", "$.formats.weights: must not be empty"},
        {"\"formats\":{\"weights\":{\"mantissa\":3}}", "$.formats.weights.format: missing"},
        {"\"formats\":{\"layers\":{}}", "$.formats.layers: must be an array of rules"},
        {"\"formats\":{\"layers\":[{\"select\":\"a\"}]}",
         "$.formats.layers[0]: sets neither 'weights' nor 'activations'"},
        {"\"formats\":{\"layers\":[{\"weights\":\"fp16\"}]}",
         "$.formats.layers[0].select: missing (required)"},
        {"\"formats\":{\"layers\":[{\"select\":\"op:\",\"weights\":\"fp16\"}]}",
         "$.formats.layers[0].select: 'op:' needs an op type"},
        {"\"formats\":{\"layers\":[1]}", "$.formats.layers[0]: must be an object"},
        /* targets */
        {"\"targets\":{\"layers\":[]}", "$.targets.layers: must not be empty"},
        {"\"targets\":{\"layers\":[\"a\",3]}", "$.targets.layers[1]: must be a string, got 3"},
        {"\"targets\":{\"tensors\":[\"weight\"]}",
         "$.targets.tensors[0]: must be one of 'activations', 'weights', got 'weight' (did you "
         "mean 'weights'?)"},
        {"\"targets\":{\"bits\":\"meta\"}", "$.targets.bits: must be one of 'data', 'metadata'"},
        {"\"targets\":{\"bit_positions\":[64]}",
         "$.targets.bit_positions[0]: must be an integer in [0, 63], got 64"},
        {"\"targets\":{\"bits\":\"metadata\",\"bit_positions\":[3]}",
         "$.targets.bit_positions: element bit positions, but $.targets.bits has no 'data'"},
        {"\"targets\":{\"meta_bit_positions\":[3]}",
         "$.targets.meta_bit_positions: metadata bit positions, but"},
        {"\"targets\":{\"fields\":[\"\"]}", "$.targets.fields[0]: must not be empty"},
        /* process */
        {"\"process\":{\"type\":\"poison\"}", "$.process.type: must be one of 'per_layer', "
                                              "'poisson', got 'poison' (did you mean 'poisson'?)"},
        {"\"process\":{\"trials\":0}", "$.process.trials: must be an integer in [1, "},
        {"\"process\":{\"flips\":0}", "$.process.flips: must be an integer in [1, 1048576]"},
        {"\"process\":{\"rate\":1}", "$.process.rate: only with type 'poisson'"},
        {"\"process\":{\"type\":\"poisson\"}", "$.process.rate: missing (required)"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"flips\":2}",
         "$.process.flips: only with type 'per_layer'"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"time\":0}",
         "$.process.time: must be > 0, got 0"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1e999}", "$.process.rate: must be > 0, got"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"time_per_mac\":1}",
         "$.process.time_per_mac: only with timing 'layer_wise'"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\"}",
         "$.process: timing 'layer_wise' needs 'time_per_mac'"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\",\"time\":1,"
         "\"time_per_mac\":1}",
         "$.process.time: not used with timing 'layer_wise'"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layerwise\"}",
         "$.process.timing: must be one of 'model_wide', 'layer_wise', 'single_layer'"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\",\"times\":[{"
         "\"select\":\"a\",\"time\":-1}]}",
         "$.process.times[0].time: must be >= 0, got -1"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\",\"times\":[]}",
         "$.process.times: must not be empty"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"rates\":[{\"rate\":1}]}",
         "$.process.rates[0]: selects nothing"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"rates\":[{\"field\":\"sign\"}]}",
         "$.process.rates[0].rate: missing (required)"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"rates\":[{\"field\":\"s\",\"rate\":-2}]}",
         "$.process.rates[0].rate: must be >= 0, got -2"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"rates\":[{\"bits\":\"metadata\","
         "\"rate\":0}]}",
         "$.process.rates[0].bits: 'metadata' is not targeted ($.targets.bits)"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"rates\":[{\"tensors\":\"weights\","
         "\"rate\":0}]}",
         "$.process.rates[0].tensors: 'weights' is not targeted ($.targets.tensors)"},
        {"\"process\":{\"type\":\"poisson\",\"rate\":1,\"condition_on_fault\":\"yes\"}",
         "$.process.condition_on_fault: must be true or false"},
        {"\"process\":{\"condition_on_fault\":true}",
         "$.process.condition_on_fault: only with type 'poisson'"},
        /* stop */
        {"\"stop\":{\"type\":\"ci\"}", "$.stop.half_width: missing (required)"},
        {"\"stop\":{\"type\":\"ci\",\"half_width\":0.1,\"confidence\":1}",
         "$.stop.confidence: must be in (0, 1), got 1"},
        {"\"stop\":{\"half_width\":0.1}", "$.stop.half_width: only with type 'ci'"},
        {"\"stop\":{\"type\":\"ci\",\"half_width\":0.1},\"process\":{\"trials\":5}",
         "$.process.trials: not used when $.stop.type is 'ci'"},
        {"\"stop\":{\"type\":\"ci\",\"half_width\":0.1,\"min_trials\":50,\"max_trials\":40}",
         "$.stop.min_trials: must be <= max_trials (40), got 50"},
        {"\"stop\":{\"type\":\"ci\",\"half_width\":0.7,\"metric\":\"mismatch\"}",
         "$.stop.half_width: a mismatch rate's interval half-width must be <= 0.5"},
        {"\"stop\":{\"type\":\"ci\",\"half_width\":0.1,\"metric\":\"loss\"}",
         "$.stop.metric: must be one of 'delta_loss', 'mismatch', got 'loss'"},
        {"\"stop\":{\"type\":\"ci\",\"half_width\":0.1,\"min_trials\":1}",
         "$.stop.min_trials: must be an integer in [2, "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect(cases[i][0], cases[i][1]);
}

static void test_missing_and_syntax(void)
{
    static const char *const cases[][2] = {
        {"{}", FILE_ ": $.model: missing (required)"},
        {"{\"model\":\"m\"}", FILE_ ": $.data: missing (required)"},
        {"{\"model\":\"m\",\"data\":{}}", FILE_ ": $.data.inputs: missing (required)"},
        {"[1]", FILE_ ": $: must be an object, got an array"},
        {"", FILE_ ":1:1: JSON syntax error at the end of the file"},
        {"{\"model\":\"m\",\n  \"batch\": 1,,}", FILE_ ":2:15: JSON syntax error near '}'"},
        {"{\"model\":\"m\"} x", FILE_ ":1:15: JSON syntax error near 'x'"},
        {"{\"model\":\"m\",\"data\":{\"inputs\":\"a\"},\"data\":{}}", "$.data: duplicate key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct au_campaign *c;
        struct au_problems p = {0};
        CHECK_EQ_INT(parse(cases[i][0], &c, &p), AU_FORMAT);
        bool ok = has_problem(&p, cases[i][1]);
        CHECK(ok);
        if (!ok) {
            fprintf(stderr, "  for %s\n  wanted '%s', got:\n", cases[i][0], cases[i][1]);
            dump(&p);
        }
        au_problems_fini(&p);
    }
}

/* One pass reports every problem, in file order, and appends to a caller's list. */
static void test_every_problem_reported(void)
{
    const char *j = "{\"model\":3,\"batch\":-2,\"targets\":{\"bits\":\"x\",\"tensor\":1},"
                    "\"process\":{\"type\":\"poisson\",\"rate\":0},\"stop\":{\"type\":\"ci\"}}";
    struct au_campaign *c;
    struct au_problems p = {0};
    au_problems_add(&p, "earlier line");
    CHECK_EQ_INT(parse(j, &c, &p), AU_FORMAT);
    const char *want[] = {"earlier line",
                          "$.model: must be a string",
                          "$.data: missing",
                          "$.batch: must be",
                          "$.targets.tensor: unknown key (did you mean "
                          "'tensors'?)",
                          "$.targets.bits: must be one of",
                          "$.process.rate: must be > 0",
                          "$.stop.half_width: missing"};
    CHECK_EQ_U64(p.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < p.n && i < sizeof(want) / sizeof(want[0]); i++)
        CHECK(strstr(p.msg[i], want[i]) != NULL);
    if (p.n != sizeof(want) / sizeof(want[0]))
        dump(&p);
    au_problems_fini(&p);
    CHECK(p.n == 0 && p.msg == NULL);
}

static void test_load_errors(void)
{
    struct au_campaign *c = (void *)1;
    struct au_problems p = {0};
    struct au_diag d;
    CHECK_EQ_INT(au_campaign_load("/nonexistent/dir/c.json", &c, &p, &d), AU_IO);
    CHECK(c == NULL);
    CHECK(strstr(d.msg, "/nonexistent/dir/c.json: cannot open") == d.msg);
    CHECK(p.n == 1 && strcmp(p.msg[0], d.msg) == 0);
    au_problems_fini(&p);
    CHECK_EQ_INT(au_campaign_load("/", &c, NULL, &d), AU_IO); /* a directory */
    au_campaign_free(NULL);
    au_problems_fini(NULL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The bundled examples all parse, with paths joined to campaigns/examples. */
static void test_examples(const char *root)
{
    char dir[1024], path[1400];
    snprintf(dir, sizeof(dir), "%s/campaigns/examples", root);
    DIR *dp = opendir(dir);
    CHECK(dp != NULL);
    if (!dp)
        return;
    char *names[64];
    int n = 0;
    for (struct dirent *e; (e = readdir(dp)) && n < 64;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
    CHECK(n >= 10);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct au_campaign *c = NULL;
        struct au_problems p = {0};
        struct au_diag d;
        int rc = au_campaign_load(path, &c, &p, &d);
        CHECK_EQ_INT(rc, 0);
        if (rc)
            dump(&p);
        if (c) {
            CHECK(strstr(c->model, "campaigns/examples/../../models/") != NULL);
            /* the database is joined to the file's directory; by default <name>.db */
            char db[1400];
            snprintf(db, sizeof(db), "%s/%s.db", dir, c->name);
            CHECK(strncmp(c->database, dir, strlen(dir)) == 0);
            CHECK(strcmp(c->database, db) == 0 || strstr(c->json, "\"database\":"));
        }
        au_campaign_free(c);
        au_problems_fini(&p);
        free(names[i]);
    }
}

/* Every allocation failing in turn gives AU_NOMEM (never a crash or a leak), until the
 * parse needs no more allocations than we allow and succeeds. */
static void test_alloc_failures(void)
{
    const char *good = "{\"model\":\"m\",\"data\":{\"inputs\":\"x\",\"labels\":\"y\","
                       "\"normalize\":{\"mean\":0.5,\"std\":[0.2]}},\"formats\":{\"weights\":"
                       "{\"format\":\"bfp\"},\"layers\":[{\"select\":[\"a\",\"b\"],\"weights\":"
                       "\"fp16\"}]},\"targets\":{\"fields\":[\"sign\"],\"bit_positions\":1},"
                       "\"process\":{\"type\":\"poisson\",\"rate\":1,\"timing\":\"layer_wise\","
                       "\"times\":[{\"select\":\"x\",\"time\":1}],\"rates\":[{\"field\":"
                       "\"sign\",\"layers\":\"q\",\"rate\":0}]}";
    char j[1024];
    snprintf(j, sizeof(j), "%s,\"batchh\":1}", good);
    int ok_at = 0;
    for (long k = 1; k < 400 && !ok_at; k++) {
        struct au_campaign *c = NULL;
        struct au_problems p = {0};
        struct au_diag d;
        au_alloc_fail_after(k);
        int rc = au_campaign_parse(j, strlen(j), "a/c.json", &c, &p, &d);
        au_alloc_fail_after(0);
        CHECK(rc == AU_NOMEM || rc == AU_FORMAT);
        CHECK(c == NULL);
        if (rc == AU_FORMAT) {
            ok_at = (int)k;
            CHECK(p.n == 1 && strstr(p.msg[0], "$.batchh: unknown key") != NULL);
        }
        au_problems_fini(&p);
    }
    CHECK(ok_at > 20);
    for (long k = 1; k < 400; k++) {
        struct au_campaign *c = NULL;
        au_alloc_fail_after(k);
        snprintf(j, sizeof(j), "%s}", good);
        int rc = au_campaign_parse(j, strlen(j), "c.json", &c, NULL, NULL);
        au_alloc_fail_after(0);
        CHECK(rc == AU_NOMEM || (rc == 0 && c != NULL));
        au_campaign_free(c);
        if (rc != AU_NOMEM)
            break;
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = calloc(1, 1 << 20);
    if (b)
        fread(b, 1, (1 << 20) - 1, f);
    fclose(f);
    return b;
}

/* No key of the schema is unknown to the parser (the schema and the parser agree). */
static void check_keys_known(const cJSON *props, const char *section)
{
    for (const cJSON *k = props ? props->child : NULL; k; k = k->next) {
        char json[512];
        if (section)
            snprintf(json, sizeof(json), BASE ",\"%s\":{\"%s\":null}}", section, k->string);
        else
            snprintf(json, sizeof(json), "{\"%s\":null}", k->string);
        struct au_campaign *c = NULL;
        struct au_problems p = {0};
        parse(json, &c, &p);
        bool unknown = has_problem(&p, "unknown key");
        CHECK(!unknown);
        if (unknown)
            fprintf(stderr, "  schema key %s.%s is unknown to the parser\n",
                    section ? section : "$", k->string);
        au_campaign_free(c);
        au_problems_fini(&p);
    }
}

static void test_schema_agrees(const char *root)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/campaigns/campaign.schema.json", root);
    char *text = slurp(path);
    CHECK(text != NULL);
    cJSON *s = text ? cJSON_Parse(text) : NULL;
    CHECK(s != NULL);
    const cJSON *props = cJSON_GetObjectItem(s, "properties");
    CHECK(cJSON_GetArraySize(props) == 15);
    check_keys_known(props, NULL);
    const char *sections[] = {"data", "formats", "targets", "fault", "process", "stop"};
    for (size_t i = 0; i < 6; i++) {
        const cJSON *sec = cJSON_GetObjectItem(props, sections[i]);
        const cJSON *sp = cJSON_GetObjectItem(sec, "properties");
        CHECK(cJSON_GetArraySize(sp) >= 1);
        check_keys_known(sp, sections[i]);
    }
    cJSON_Delete(s);
    free(text);
}

/* Truncations at every length and random byte changes of an example never crash or
 * leak, and any failure is AU_FORMAT with at least one problem. */
static void test_mutations(const char *root)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/campaigns/examples/poisson-layer-wise.json", root);
    char *text = slurp(path);
    CHECK(text != NULL);
    if (!text)
        return;
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    uint64_t x = check_seed();
    for (size_t cut = 0; cut <= len; cut++) {
        struct au_campaign *c = NULL;
        struct au_problems p = {0};
        int rc = au_campaign_parse(text, cut, "m.json", &c, &p, NULL);
        CHECK(rc == 0 || (rc == AU_FORMAT && p.n > 0 && !c));
        au_campaign_free(c);
        au_problems_fini(&p);
    }
    const char alphabet[] = "{}[]\",:0-9e.\\tnfu\x01\xff ";
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, text, len + 1);
        for (int k = 0; k < 1 + it % 3; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(x >> 33) % len;
            buf[at] = alphabet[(x >> 20) % (sizeof(alphabet) - 1)];
        }
        struct au_campaign *c = NULL;
        struct au_problems p = {0};
        int rc = au_campaign_parse(buf, len, "m.json", &c, &p, NULL);
        CHECK(rc == 0 || (rc == AU_FORMAT && p.n > 0 && !c));
        au_campaign_free(c);
        au_problems_fini(&p);
    }
    free(buf);
    free(text);
}

int main(void)
{
    const char *root = getenv("AURUM_SOURCE_ROOT");
    test_defaults_and_paths();
    test_full_file();
    test_exact_messages();
    test_each_problem();
    test_missing_and_syntax();
    test_every_problem_reported();
    test_load_errors();
    test_alloc_failures();
    CHECK(root != NULL);
    if (root) {
        test_examples(root);
        test_schema_agrees(root);
        test_mutations(root);
    }
    return check_report("test_spec");
}
