/* Fault injection on the bundled LeNet-5: the resumed, early-exit path gives exactly the
 * outputs of full reruns; a metadata fault changes only its own block of its own sample;
 * an element fault changes only its element; weight faults are undone after the run;
 * the range detector clamps and counts. */
#include "../check.h"
#include "core/dataset.h"
#include "core/onnx.h"
#include "inject.h"

#include <math.h>
#include <string.h>

#define B 8

struct fixture {
    struct au_graph *g;
    au_numsys_registry *reg;
    struct au_emul *e;
    struct au_inject *inj;
    struct au_dataset ds;
};

static int setup(struct fixture *f, const char *fmt)
{
    struct au_diag d = {{0}};
    char path[1024], xp[1024];
    const char *root = getenv("AURUM_SOURCE_ROOT");
    snprintf(path, sizeof(path), "%s/models/lenet5.onnx", root ? root : ".");
    snprintf(xp, sizeof(xp), "%s/models/data/fmnist_eval_x.npy", root ? root : ".");
    memset(f, 0, sizeof(*f));
    int rc = au_onnx_load(path, &f->g, &d);
    if (!rc)
        rc = au_graph_prepare(f->g, B, AU_PREPARE_KEEP, &d);
    struct au_dataset_input in;
    struct au_dataset_opts o = {.limit = B};
    if (!rc) {
        au_dataset_input_from_tensor(&in, "input",
                                     au_graph_tensor(f->g, au_graph_input_value(f->g, 0)));
        rc = au_dataset_load(&f->ds, xp, &in, &o, &d);
    }
    if (!rc)
        rc = au_dataset_copy_batch(&f->ds, 0, B, au_graph_input_tensor(f->g, 0)->data, B, &d);
    if (!rc && au_numsys_registry_new(&f->reg, &d) < 0)
        rc = -1;
    struct au_emul_spec s = {.weights = fmt, .activations = fmt};
    if (!rc)
        rc = au_emul_new(f->g, f->reg, &s, &f->e, &d);
    if (!rc)
        rc = au_emul_apply(f->e, &d);
    if (!rc)
        rc = au_inject_new(f->g, f->e, f->reg, 7, &f->inj, &d);
    if (!rc)
        rc = au_inject_golden(f->inj, &d);
    if (rc)
        fprintf(stderr, "setup(%s): %s\n", fmt, d.msg);
    CHECK_EQ_INT(rc, 0);
    return rc;
}

static void teardown(struct fixture *f)
{
    au_inject_free(f->inj);
    au_emul_free(f->e);
    au_numsys_registry_free(f->reg);
    au_dataset_fini(&f->ds);
    au_graph_free(f->g);
}

/* Random activation sites: one per slot, every layer in turn. */
static void random_sites(struct fixture *f, struct au_pcg32 *r, int layer, uint32_t target,
                         struct au_inject_site *sites)
{
    const struct au_numsys_layout *l = au_inject_layout(f->inj, layer, AU_TENSOR_ACT);
    uint64_t n = target == AU_FAULT_META ? au_inject_n_blocks(f->inj, layer, AU_TENSOR_ACT)
                                         : au_inject_n_elems(f->inj, layer, AU_TENSOR_ACT);
    uint32_t bits = target == AU_FAULT_META ? l->meta_bits : l->elem_bits;
    for (int b = 0; b < B; b++)
        sites[b] =
            (struct au_inject_site){layer,         AU_TENSOR_ACT,        target,
                                    AU_FAULT_FLIP, au_pcg32_next(r) % n, au_pcg32_next(r) % bits};
}

static void test_fast_path_equals_full_rerun(const char *fmt, uint32_t target)
{
    struct fixture f;
    if (setup(&f, fmt))
        return;
    struct au_pcg32 r;
    au_pcg32_seed(&r, check_seed(), 1);
    size_t nb = au_tensor_nbytes(au_graph_output(f.g, 0));
    float *fast = malloc(nb);
    int differ = 0, masked = 0, trials = 0;
    for (int rep = 0; rep < 6; rep++) {
        for (int layer = 0; layer < au_emul_n_layers(f.e); layer++) {
            struct au_inject_site sites[B];
            struct au_slot_faults slots[B];
            struct au_flip_record rec[B];
            struct au_diag d;
            if (target == AU_FAULT_META && !au_inject_n_blocks(f.inj, layer, AU_TENSOR_ACT))
                continue;
            random_sites(&f, &r, layer, target, sites);
            for (int b = 0; b < B; b++)
                slots[b] = (struct au_slot_faults){&sites[b], 1, (uint64_t)(rep * 100 + b)};
            au_inject_set_naive(f.inj, false);
            CHECK_EQ_INT(au_inject_run(f.inj, slots, B, NULL, 0, rec, &d), 0);
            masked += au_graph_last_masked(f.g);
            memcpy(fast, au_graph_output(f.g, 0)->data, nb);
            au_inject_set_naive(f.inj, true);
            CHECK_EQ_INT(au_inject_run(f.inj, slots, B, NULL, 0, rec, &d), 0);
            differ += memcmp(fast, au_graph_output(f.g, 0)->data, nb) != 0;
            au_inject_set_naive(f.inj, false);
            CHECK_EQ_INT(au_inject_golden(f.inj, &d), 0); /* the naive run overwrote it */
            trials++;
        }
    }
    printf("%s %s: %d batches, fast == full rerun on all but %d, %d fully masked\n", fmt,
           target == AU_FAULT_META ? "metadata" : "data", trials, differ, masked);
    CHECK(trials > 0);
    CHECK_EQ_INT(differ, 0);
    free(fast);
    teardown(&f);
}

struct capture {
    int node;
    float *buf;
};

static int capture_hook(void *user, const struct au_hook_args *a)
{
    struct capture *c = user;
    if (a->node_index == c->node)
        memcpy(c->buf, a->out[0]->data, au_tensor_nbytes(a->out[0]));
    return 0;
}

/* Flip one site in slot 3 only; return which elements of the layer output changed. */
static int changed_elems(struct fixture *f, int layer, const struct au_inject_site *s, size_t *lo,
                         size_t *hi)
{
    const struct au_emul_layer *L = au_emul_layer(f->e, layer);
    const struct au_tensor *t = au_graph_tensor(f->g, au_graph_node(f->g, L->node)->out[0]);
    size_t n = (size_t)au_tensor_numel(t);
    struct au_tensor gold;
    au_graph_golden(f->g, au_graph_node(f->g, L->node)->out[0], &gold);
    struct capture c = {L->node, malloc(n * sizeof(float))};
    int hid = au_hook_add(f->g, AU_HOOK_SEL_NAME, au_graph_node(f->g, L->node)->name, AU_HOOK_POST,
                          capture_hook, &c);
    struct au_slot_faults slots[B] = {{0}};
    slots[3] = (struct au_slot_faults){s, 1, 3};
    struct au_flip_record rec[1];
    struct au_diag d;
    CHECK_EQ_INT(au_inject_run(f->inj, slots, B, NULL, 0, rec, &d), 0);
    int count = 0;
    *lo = SIZE_MAX;
    *hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&c.buf[i], &((float *)gold.data)[i], sizeof(float)) != 0) {
            count++;
            *lo = i < *lo ? i : *lo;
            *hi = i;
        }
    }
    au_hook_remove(f->g, hid);
    free(c.buf);
    return count;
}

/* Faults of one run in different layers: the first is a no-op (stuck-at its own value), so
 * it is masked at once and nothing downstream is dirty; the later layer's fault (and a
 * weight fault there) must still be applied, exactly as a full rerun does. */
static void test_fault_after_a_masked_one_still_applies(void)
{
    struct fixture f;
    if (setup(&f, "fp32"))
        return;
    struct au_tensor g0;
    int node0 = au_emul_layer(f.e, 0)->node;
    au_graph_golden(f.g, au_graph_node(f.g, node0)->out[0], &g0);
    uint32_t kind0 = signbit(((const float *)g0.data)[0]) ? AU_FAULT_STUCK1 : AU_FAULT_STUCK0;
    size_t nb = au_tensor_nbytes(au_graph_output(f.g, 0));
    float *fast = malloc(nb), *gold = malloc(nb);
    struct au_diag d;
    memcpy(gold, au_graph_output(f.g, 0)->data, nb);
    for (int with_w = 0; with_w < 2; with_w++) {
        struct au_inject_site s0 = {0, AU_TENSOR_ACT, AU_FAULT_ELEM, kind0, 0, 31};
        struct au_inject_site s1 = {2, AU_TENSOR_ACT, AU_FAULT_ELEM, AU_FAULT_FLIP, 0, 30};
        struct au_inject_site w = {3, AU_TENSOR_WEIGHT, AU_FAULT_ELEM, AU_FAULT_FLIP, 0, 30};
        struct au_slot_faults slots[2] = {{&s0, 1, 1}, {&s1, 1, 2}};
        struct au_flip_record rec[3];
        au_inject_set_naive(f.inj, false);
        CHECK_EQ_INT(au_inject_run(f.inj, slots, 2, &w, with_w, rec, &d), 0);
        memcpy(fast, au_graph_output(f.g, 0)->data, nb);
        au_inject_set_naive(f.inj, true);
        CHECK_EQ_INT(au_inject_run(f.inj, slots, 2, &w, with_w, rec, &d), 0);
        CHECK(memcmp(fast, au_graph_output(f.g, 0)->data, nb) == 0);
        size_t row = nb / B; /* slot 1's logits moved: its fault was applied */
        CHECK(memcmp((char *)fast + row, (char *)gold + row, row) != 0);
        au_inject_set_naive(f.inj, false);
        CHECK_EQ_INT(au_inject_golden(f.inj, &d), 0);
    }
    free(fast);
    free(gold);
    teardown(&f);
}

static void test_metadata_flip_changes_only_its_block(void)
{
    struct fixture f;
    if (setup(&f, "bfp{mantissa:7,exponent:8,block:16}"))
        return;
    int layer = 0; /* conv1 output [B,6,28,28]: blocks of 16 along the last axis */
    uint64_t nblk = au_inject_n_blocks(f.inj, layer, AU_TENSOR_ACT);
    uint64_t per = au_inject_n_elems(f.inj, layer, AU_TENSOR_ACT);
    int checked = 0;
    for (uint64_t blk = 0; blk < nblk; blk += 97) {
        for (uint32_t bit = 0; bit < 8; bit++) {
            struct au_inject_site s = {layer,         AU_TENSOR_ACT, AU_FAULT_META,
                                       AU_FAULT_FLIP, blk,           bit};
            size_t lo, hi;
            int n = changed_elems(&f, layer, &s, &lo, &hi);
            /* block blk of slot 3: rows of 28 hold blocks [16, 12] */
            size_t row = blk / 2, first = 3 * per + row * 28 + (blk % 2) * 16;
            size_t len = blk % 2 ? 12 : 16;
            if (n > 0) {
                CHECK(lo >= first && hi < first + len);
                checked++;
            }
        }
    }
    CHECK(checked > 0);
    teardown(&f);
}

/* GoldenEye's convention: a metadata flip re-quantizes the block's values with the
 * corrupted shared exponent. Expected values from the bfp rule itself (number-formats.md:
 * u = 2^(E-m+1), M = min(round(|x|/u), 2^m - 1)), not from the code under test. */
static void test_requantize_metadata(void)
{
    struct fixture f;
    if (setup(&f, "bfp{mantissa:7,exponent:8,block:16}"))
        return;
    struct au_diag d;
    CHECK_EQ_INT(au_inject_set_requantize(f.inj, true, &d), 0);
    int layer = 0, node = au_emul_layer(f.e, layer)->node;
    const struct au_tensor *t = au_graph_tensor(f.g, au_graph_node(f.g, node)->out[0]);
    size_t n = (size_t)au_tensor_numel(t), per = au_inject_n_elems(f.inj, layer, AU_TENSOR_ACT);
    struct au_tensor gold;
    au_graph_golden(f.g, au_graph_node(f.g, node)->out[0], &gold);
    const float *g = gold.data;
    struct capture c = {node, malloc(n * sizeof(float))};
    int hid = au_hook_add(f.g, AU_HOOK_SEL_NAME, au_graph_node(f.g, node)->name, AU_HOOK_POST,
                          capture_hook, &c);
    int checked = 0, changed = 0;
    for (uint64_t blk = 1; blk < au_inject_n_blocks(f.inj, layer, AU_TENSOR_ACT); blk += 131) {
        for (uint32_t bit = 0; bit < 8; bit++) {
            struct au_inject_site s = {layer,         AU_TENSOR_ACT, AU_FAULT_META,
                                       AU_FAULT_FLIP, blk,           bit};
            struct au_slot_faults slots[B] = {{0}};
            slots[3] = (struct au_slot_faults){&s, 1, 3};
            struct au_flip_record rec;
            CHECK_EQ_INT(au_inject_run(f.inj, slots, B, NULL, 0, &rec, &d), 0);
            size_t first = 3 * per + blk / 2 * 28 + (blk % 2) * 16, len = blk % 2 ? 12 : 16;
            double u = ldexp(1.0, (int)rec.after - 127 - 7 + 1);
            for (size_t i = 0; i < n; i++) {
                float want = g[i];
                if (i >= first && i < first + len) {
                    double m = fmin(nearbyint(fabs((double)g[i]) / u), 127.0);
                    want = (float)copysign(m * u, (double)g[i]);
                }
                CHECK(c.buf[i] == want || (c.buf[i] == 0 && want == 0));
                changed += i >= first && i < first + len && c.buf[i] != g[i];
            }
            checked++;
        }
    }
    CHECK(checked > 0 && changed > 0);
    au_hook_remove(f.g, hid);
    free(c.buf);
    teardown(&f);
}

static void test_element_flip_changes_only_its_element(void)
{
    struct fixture f;
    if (setup(&f, "fp16"))
        return;
    uint64_t per = au_inject_n_elems(f.inj, 1, AU_TENSOR_ACT);
    for (uint64_t e = 0; e < per; e += 131) {
        struct au_inject_site s = {1, AU_TENSOR_ACT, AU_FAULT_ELEM, AU_FAULT_FLIP, e, 14};
        size_t lo, hi;
        int n = changed_elems(&f, 1, &s, &lo, &hi);
        CHECK_EQ_INT(n, 1);
        CHECK(lo == 3 * per + e);
    }
    teardown(&f);
}

static void test_weight_faults_are_undone(void)
{
    struct fixture f;
    if (setup(&f, "int{bits:8}"))
        return;
    const struct au_emul_layer *L = au_emul_layer(f.e, 2);
    const struct au_tensor *w = au_graph_tensor(f.g, L->weight_value);
    size_t nb = au_tensor_nbytes(w);
    float *before = malloc(nb);
    memcpy(before, w->data, nb);
    struct au_inject_site ws[3] = {{2, AU_TENSOR_WEIGHT, AU_FAULT_ELEM, AU_FAULT_FLIP, 5, 6},
                                   {2, AU_TENSOR_WEIGHT, AU_FAULT_ELEM, AU_FAULT_FLIP, 4000, 7},
                                   {2, AU_TENSOR_WEIGHT, AU_FAULT_META, AU_FAULT_FLIP, 0, 30}};
    struct au_flip_record rec[3];
    struct au_diag d;
    CHECK_EQ_INT(au_inject_run(f.inj, NULL, 0, ws, 3, rec, &d), 0);
    CHECK(memcmp(before, w->data, nb) == 0);
    CHECK(rec[0].before != rec[0].after);
    CHECK_EQ_INT(rec[0].slot, -1);
    CHECK(!au_graph_last_masked(f.g));
    /* a site outside the tensor is refused and nothing is left modified */
    struct au_inject_site bad = {2, AU_TENSOR_WEIGHT, AU_FAULT_ELEM, AU_FAULT_FLIP, 1u << 30, 0};
    CHECK_EQ_INT(au_inject_run(f.inj, NULL, 0, &bad, 1, rec, &d), AU_RANGE);
    CHECK(memcmp(before, w->data, nb) == 0);
    free(before);
    teardown(&f);
}

static void test_range_detector_clamps_exponent_flips(void)
{
    struct fixture f;
    if (setup(&f, "fp32"))
        return;
    struct au_range r[64];
    for (int i = 0; i < 64; i++)
        r[i] = (struct au_range){-1, 1, 1000.0, 0};
    struct au_diag d;
    CHECK_EQ_INT(au_inject_set_range_detector(f.inj, r, &d), 0);
    CHECK_EQ_INT(au_inject_golden(f.inj, &d), 0);
    for (int b = 0; b < B; b++)
        CHECK_EQ_INT(au_inject_detected(f.inj, b), 0);
    /* bit 30 of a small fp32 value makes it huge: clamped to 1000 */
    struct au_inject_site s = {0, AU_TENSOR_ACT, AU_FAULT_ELEM, AU_FAULT_FLIP, 100, 30};
    struct au_slot_faults slots[B] = {{0}};
    slots[2] = (struct au_slot_faults){&s, 1, 2};
    struct au_flip_record rec[1];
    CHECK_EQ_INT(au_inject_run(f.inj, slots, B, NULL, 0, rec, &d), 0);
    CHECK(fabs(rec[0].after) > 1e30);
    CHECK(au_inject_detected(f.inj, 2) >= 1);
    CHECK_EQ_INT(au_inject_detected(f.inj, 1), 0);
    teardown(&f);
}

int main(void)
{
    test_fast_path_equals_full_rerun("fp32", AU_FAULT_ELEM);
    test_fast_path_equals_full_rerun("fp16", AU_FAULT_ELEM);
    test_fast_path_equals_full_rerun("int{bits:8}", AU_FAULT_ELEM);
    test_fast_path_equals_full_rerun("bfp{mantissa:7,exponent:4,block:16}", AU_FAULT_ELEM);
    test_fast_path_equals_full_rerun("bfp{mantissa:7,exponent:4,block:16}", AU_FAULT_META);
    test_fast_path_equals_full_rerun("afp{bits:8,exponent:3,block:16}", AU_FAULT_META);
    test_requantize_metadata();
    test_fault_after_a_masked_one_still_applies();
    test_metadata_flip_changes_only_its_block();
    test_element_flip_changes_only_its_element();
    test_weight_faults_are_undone();
    test_range_detector_clamps_exponent_flips();
    return check_report("test_inject");
}
