/* Host-side checks on plugin output (numsys/apply.c) against tests/plugins/garbage.h:
 * the plugin is loaded as a real .so (and once in memory with a fused quantize), and
 * each run-time lie (a status that is neither 0 nor an error, too few codes or metadata
 * words, metadata wider than the layout, NaN from a NO_NAN format) must become AU_PLUGIN
 * with one line naming the plugin and the element or block, for encode, decode and
 * quantize alike. defect 0 is the control: everything passes and round-trips. */
#include "../check.h"
#include "../plugins/garbage.h"
#include "numsys/numsys_host.h"

#include <stdio.h>
#include <string.h>

static au_numsys_registry *reg;

static bool has(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

/* Shape (2, 10): rows end mid-block, so each row is one plugin call of 3 blocks. */
static const int64_t ne[2] = {2, 10};

static int with_fmt(const char *spec, au_numsys_fmt **f, struct au_numsys_blocks *b,
                    struct au_diag *d)
{
    int rc = au_numsys_fmt_new(reg, spec, f, d);
    if (rc == 0)
        rc = au_numsys_blocks_init(b, au_numsys_fmt_layout(*f), 2, ne, AU_NUMSYS_ROLE_ACT, d);
    return rc;
}

static void input(float *x)
{
    for (int i = 0; i < 20; i++)
        x[i] = (float)((i * 37) % 23 - 11) * (i < 10 ? 1.0f : 300.0f);
}

static void test_control_round_trips(void)
{
    au_numsys_fmt *f = NULL;
    struct au_numsys_blocks b;
    struct au_diag d = {{0}};
    float x[20], y[20], q[20];
    uint64_t codes[20], meta[6];
    CHECK_EQ_INT(with_fmt("garbage", &f, &b, &d), 0);
    if (!f)
        return;
    CHECK_EQ_U64(b.n_blocks, 6);
    input(x);
    memcpy(q, x, sizeof(q));
    CHECK_EQ_INT(au_numsys_encode_tensor(f, &b, x, codes, meta, NULL, &d), 0);
    CHECK_EQ_INT(au_numsys_decode_tensor(f, &b, codes, meta, y, &d), 0);
    CHECK_EQ_INT(au_numsys_quantize_tensor(f, &b, q, NULL, NULL, NULL, &d), 0);
    CHECK(memcmp(y, q, sizeof(y)) == 0);
    CHECK(y[3] == x[3] && meta[0] == 0 && meta[3] > 0); /* second row needs a scale */
    x[5] = NAN;
    CHECK_EQ_INT(au_numsys_encode_tensor(f, &b, x, codes, meta, NULL, &d), AU_NUMSYS_NAN_ZEROED);
    au_numsys_fmt_free(f);
}

/* Runs op (0 encode, 1 decode of valid codes, 2 quantize) under spec and checks that it
 * is refused as AU_PLUGIN with want in the one-line message. */
static void expect_refusal(const char *spec, int op, const char *want)
{
    au_numsys_fmt *f = NULL, *ok = NULL;
    struct au_numsys_blocks b;
    struct au_diag d = {{0}};
    float x[20], y[20];
    uint64_t codes[20], meta[6];
    input(x);
    CHECK_EQ_INT(with_fmt(spec, &f, &b, &d), 0);
    if (!f)
        return;
    int rc;
    if (op == 0) {
        rc = au_numsys_encode_tensor(f, &b, x, codes, meta, NULL, &d);
    } else if (op == 1) {
        CHECK_EQ_INT(au_numsys_fmt_new(reg, "garbage", &ok, &d), 0);
        CHECK_EQ_INT(au_numsys_encode_tensor(ok, &b, x, codes, meta, NULL, &d), 0);
        rc = au_numsys_decode_tensor(f, &b, codes, meta, y, &d);
        au_numsys_fmt_free(ok);
    } else {
        rc = au_numsys_quantize_tensor(f, &b, x, NULL, NULL, NULL, &d);
    }
    printf("%-20s op %d: %s\n", spec, op, d.msg);
    CHECK_EQ_INT(rc, AU_PLUGIN);
    CHECK(has(d.msg, "garbage") && has(d.msg, want) && !strchr(d.msg, '\n'));
    au_numsys_fmt_free(f);
}

static void test_garbage_output_is_refused(void)
{
    expect_refusal("garbage{defect:1}", 0, "encode returned status 7");
    expect_refusal("garbage{defect:1}", 2, "encode returned status 7");
    expect_refusal("garbage{defect:2}", 0, "left the code of element 9 unwritten");
    expect_refusal("garbage{defect:2}", 2, "left the code of element 9 unwritten");
    expect_refusal("garbage{defect:3}", 0, "left the metadata of block 2 unwritten");
    expect_refusal("garbage{defect:3}", 2, "left the metadata of block 2 unwritten");
    expect_refusal("garbage{defect:4}", 0, "metadata 0x1f wider than 4 bits in block 0");
    expect_refusal("garbage{defect:4}", 2, "metadata 0x1f wider than 4 bits in block 0");
    expect_refusal("garbage{defect:5}", 1, "decode returned status 2");
    expect_refusal("garbage{defect:5}", 2, "decode returned status 2");
    expect_refusal("garbage{defect:6}", 1, "no NaN");
    expect_refusal("garbage{defect:6}", 2, "no NaN");
}

static void test_fused_quantize_garbage_status_is_refused(void)
{
    static struct au_numsys_desc q = GARBAGE_DESC("garbage_q");
    struct au_diag d = {{0}};
    q.quantize = garbage_quantize;
    CHECK_EQ_INT(au_numsys_registry_add(reg, &q, "test:garbage_q", &d), 0);
    au_numsys_fmt *f = NULL;
    struct au_numsys_blocks b;
    float x[20];
    input(x);
    CHECK_EQ_INT(with_fmt("garbage_q", &f, &b, &d), 0);
    CHECK_EQ_INT(au_numsys_quantize_tensor(f, &b, x, NULL, NULL, NULL, &d), 0);
    au_numsys_fmt_free(f);
    CHECK_EQ_INT(with_fmt("garbage_q{defect:7}", &f, &b, &d), 0);
    CHECK_EQ_INT(au_numsys_quantize_tensor(f, &b, x, NULL, NULL, NULL, &d), AU_PLUGIN);
    CHECK(has(d.msg, "garbage_q: plugin quantize returned status 9 on block group 0"));
    au_numsys_fmt_free(f);
}

int main(void)
{
    const char *dir = getenv("AURUM_HOSTILE_PLUGIN_DIR");
    char path[1200];
    struct au_diag d = {{0}};
    snprintf(path, sizeof(path), "%s/au_garbage.so", dir ? dir : ".");
    CHECK_EQ_INT(au_numsys_registry_new_empty(&reg, &d), 0);
    int rc = au_numsys_registry_load(reg, path, &d);
    if (rc)
        fprintf(stderr, "load: %s\n", d.msg);
    CHECK_EQ_INT(rc, 0); /* a plugin that lies only at run time passes the load checks */
    if (rc == 0) {
        test_control_round_trips();
        test_garbage_output_is_refused();
        test_fused_quantize_garbage_status_is_refused();
    }
    au_numsys_registry_free(reg);
    return check_report("test_plugin_garbage");
}
