/* Plugin registry (numsys/registry.c): the built-ins are found in the build tree, the
 * search order and duplicate rule hold, and every hostile plugin is refused with one
 * line naming the file and both ABI versions, without crashing. Descriptors are checked
 * twice: in memory (every defect, always) and as the .so files of tests/plugins (built
 * by meson; found next to the numsys build dir or via AURUM_HOSTILE_PLUGIN_DIR).
 */
#include "core/alloc.h"
#include "numsys/numsys_host.h"
#include "tests/check.h"
#include "tests/plugins/hostile.h"

#include <dirent.h>
#include <stdbool.h>
#include <string.h>

static bool has(const char *s, const char *sub)
{
    if (!strstr(s, sub)) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", s, sub);
        return false;
    }
    return true;
}

static void test_registry_finds_builtin_fp_in_the_build_tree(void)
{
    au_numsys_registry *r;
    struct au_diag d;
    CHECK(au_numsys_registry_new(&r, &d) == 0);
    const struct au_numsys_plugin *fp = au_numsys_registry_find(r, "fp");
    CHECK(fp != NULL);
    if (fp) {
        CHECK(has(fp->path, "au_fp.so"));
        CHECK(strcmp(fp->desc->name, "fp") == 0);
    }
    CHECK(au_numsys_registry_n_dirs(r) >= 1);
    const char *build = getenv("AURUM_PLUGIN_BUILD_DIR");
    CHECK(build && strcmp(au_numsys_registry_dir(r, 0), build) == 0);
    const struct au_preset *ps = NULL;
    CHECK(au_numsys_registry_find_preset(r, "fp8_e4m3", &ps) == fp);
    CHECK(ps && has(ps->params_json, "\"fn\""));
    CHECK(au_numsys_registry_find(r, "no_such_format") == NULL);
    for (size_t i = 0; i < au_numsys_registry_n_warnings(r); i++)
        CHECK(!strstr(au_numsys_registry_warning(r, i), "au_fp.so")); /* fp loads cleanly */
    au_numsys_registry_free(r);
}

/* One in-memory descriptor per defect, and the words its refusal must contain. */
static void expect_refused(const struct au_numsys_desc *ds, const char *want)
{
    au_numsys_registry *r;
    struct au_diag d;
    au_numsys_registry_new_empty(&r, &d);
    CHECK_EQ_INT(au_numsys_registry_add(r, ds, "mem.so", &d), AU_PLUGIN);
    CHECK(has(d.msg, "mem.so: ") && has(d.msg, want) && has(d.msg, "aurum ABI v1"));
    CHECK(strchr(d.msg, '\n') == NULL);
    CHECK(au_numsys_registry_count(r) == 0);
    au_numsys_registry_free(r);
}

static void wide_layout(const au_numsys_inst *in, struct au_numsys_layout *out)
{
    (void)in;
    *out = (struct au_numsys_layout){.elem_bits = 65};
}

static void overlap_layout(const au_numsys_inst *in, struct au_numsys_layout *out)
{
    static const struct au_bitfield f[] = {{"a", 0, 5}, {"b", 4, 4}};
    (void)in;
    *out = (struct au_numsys_layout){.elem_bits = 8, .n_elem_fields = 2, .elem_fields = f};
}

static void outside_layout(const au_numsys_inst *in, struct au_numsys_layout *out)
{
    static const struct au_bitfield f[] = {{"shared_exponent", 2, 8}};
    (void)in;
    *out = (struct au_numsys_layout){.elem_bits = 8,
                                     .meta_bits = 8,
                                     .block_kind = AU_BLOCK_ELEMS,
                                     .block_len = 16,
                                     .n_meta_fields = 1,
                                     .meta_fields = f};
}

static void meta_without_block(const au_numsys_inst *in, struct au_numsys_layout *out)
{
    (void)in;
    *out = (struct au_numsys_layout){.elem_bits = 8, .meta_bits = 8};
}

static int failing_create(const char *p, au_numsys_inst **out, char *err, size_t len)
{
    (void)p;
    (void)out;
    snprintf(err, len, "needs a GPU");
    return -1;
}

static void test_registry_refuses_each_hostile_descriptor(void)
{
    static const struct au_param no_default[] = {{"k", AU_PARAM_INT, NULL, 0, 1, NULL, ""}};
    static const struct au_param bad_type[] = {{"k", 9, "1", 0, 1, NULL, ""}};
    static const struct au_param twice[] = {{"k", AU_PARAM_BOOL, "true", 0, 0, NULL, ""},
                                            {"k", AU_PARAM_BOOL, "true", 0, 0, NULL, ""}};
    static const struct au_param no_choices[] = {{"k", AU_PARAM_CHOICE, "\"a\"", 0, 0, NULL, ""}};
    static const struct au_preset bad_preset[] = {{"p", "{\"defect\":7}"}};
    struct au_numsys_desc ds;
#define WITH(field, value, want)                                                                   \
    do {                                                                                           \
        ds = (struct au_numsys_desc)H8_DESC("h8");                                                 \
        ds.field = value;                                                                          \
        expect_refused(&ds, want);                                                                 \
    } while (0)
    expect_refused(NULL, "au_numsys_entry returned NULL");
    WITH(abi_version, 2, "(plugin ABI v2, aurum ABI v1)");
    WITH(abi_version, 0, "unsupported plugin ABI version");
    WITH(struct_size, 16, "struct_size 16 is smaller than ABI v1's 104");
    WITH(name, NULL, "plugin name");
    WITH(name, "has space", "plugin name");
    WITH(create, NULL, "'h8': create is NULL but mandatory");
    WITH(destroy, NULL, "destroy is NULL");
    WITH(layout, NULL, "layout is NULL");
    WITH(encode, NULL, "encode is NULL");
    WITH(decode, NULL, "decode is NULL");
    WITH(layout, wide_layout, "invalid layout: elem_bits 65 not in 1..64");
    WITH(layout, overlap_layout, "element field 'b' overlaps");
    WITH(layout, outside_layout, "metadata field 'shared_exponent' (bits 2..9) outside the 8-bit");
    WITH(layout, meta_without_block, "metadata needs a block");
    WITH(create, failing_create, "create with default parameters failed: needs a GPU");
    WITH(params, no_default, "parameter 'k' has no default");
    WITH(params, bad_type, "unknown type 9");
    WITH(params, no_choices, "lists no choices");
    ds = (struct au_numsys_desc)H8_DESC("h8");
    ds.params = twice;
    ds.n_params = 2;
    ds.n_presets = 0;
    expect_refused(&ds, "declared twice");
    WITH(presets, bad_preset, "preset 'p': h8: parameter 'defect' must be an integer in [0, 2]");
    ds = (struct au_numsys_desc)H8_DESC("h8");
    ds.presets = NULL;
    expect_refused(&ds, "n_presets 1 but no preset array");
#undef WITH
}

static void test_registry_duplicate_name_names_both_files(void)
{
    au_numsys_registry *r;
    struct au_diag d;
    static const struct au_numsys_desc a = H8_DESC("h8"), b = H8_DESC("h8");
    au_numsys_registry_new_empty(&r, &d);
    CHECK(au_numsys_registry_add(r, &a, "/first/h8.so", &d) == 0);
    CHECK_EQ_INT(au_numsys_registry_add(r, &b, "/second/h8.so", &d), AU_INVALID);
    CHECK(has(d.msg, "/second/h8.so") && has(d.msg, "already loaded from /first/h8.so"));
    CHECK(au_numsys_registry_count(r) == 1);
    CHECK(au_numsys_registry_find(r, "h8")->desc == &a);
    au_numsys_registry_free(r);
}

static bool hostile_dir(char *buf, size_t len)
{
    const char *env = getenv("AURUM_HOSTILE_PLUGIN_DIR"), *build = getenv("AURUM_PLUGIN_BUILD_DIR");
    if (env)
        snprintf(buf, len, "%s", env);
    else
        snprintf(buf, len, "%s/../tests/plugins", build ? build : ".");
    char probe[1200];
    snprintf(probe, sizeof(probe), "%s/au_h8.so", buf);
    FILE *f = fopen(probe, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

static void expect_file(au_numsys_registry *r, const char *dir, const char *file, int want_rc,
                        const char *want)
{
    char path[1200];
    struct au_diag d;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int rc = au_numsys_registry_load(r, path, &d);
    CHECK_EQ_INT(rc, want_rc);
    if (rc != 0) {
        CHECK(has(d.msg, path) && has(d.msg, want));
        CHECK(strchr(d.msg, '\n') == NULL);
    }
}

static void test_registry_refuses_hostile_plugin_files(void)
{
    char dir[1024];
    if (!hostile_dir(dir, sizeof(dir))) {
        printf("SKIP hostile .so files: %s has none (tests/meson.build needs subdir('plugins'))\n",
               dir);
        return;
    }
    au_numsys_registry *r;
    struct au_diag d;
    CHECK(au_numsys_registry_new(&r, &d) == 0); /* the built-ins, fp among them */
    size_t n0 = au_numsys_registry_count(r);
    expect_file(r, dir, "au_h8.so", 0, "");
    expect_file(r, dir, "au_bad_abi.so", AU_PLUGIN, "(plugin ABI v2, aurum ABI v1)");
    expect_file(r, dir, "au_no_entry.so", AU_PLUGIN, "no au_numsys_entry symbol");
    expect_file(r, dir, "au_null_entry.so", AU_PLUGIN, "au_numsys_entry returned NULL");
    expect_file(r, dir, "au_null_encode.so", AU_PLUGIN, "encode is NULL but mandatory");
    expect_file(r, dir, "au_small_struct.so", AU_PLUGIN, "struct_size 16 is smaller");
    expect_file(r, dir, "au_bad_layout.so", AU_PLUGIN, "elem_bits 65 not in 1..64");
    expect_file(r, dir, "au_bad_schema.so", AU_PLUGIN, "parameter 'defect' must be");
    expect_file(r, dir, "au_dup_fp.so", AU_INVALID, "already loaded from");
    expect_file(r, dir, "no_such_file.so", AU_IO, "cannot resolve path");
    expect_file(r, dir, "au_h8.so", 0, ""); /* the same file again: a no-op */
    CHECK_EQ_INT(au_numsys_registry_count(r), n0 + 1);
    au_numsys_registry_free(r);
}

/* AURUM_PLUGIN_PATH comes after the built-ins: a plugin there named "fp" loses, and the
 * warning names both files; a missing dir is a warning too. */
static void test_registry_plugin_path_order_and_warnings(void)
{
    char dir[1024], path[2100];
    if (!hostile_dir(dir, sizeof(dir))) {
        printf("SKIP AURUM_PLUGIN_PATH scan: no hostile plugins built\n");
        return;
    }
    snprintf(path, sizeof(path), "/nonexistent/aurum:%s", dir);
    setenv("AURUM_PLUGIN_PATH", path, 1);
    au_numsys_registry *r;
    struct au_diag d;
    CHECK(au_numsys_registry_new(&r, &d) == 0);
    unsetenv("AURUM_PLUGIN_PATH");
    CHECK(has(au_numsys_registry_find(r, "fp")->path, getenv("AURUM_PLUGIN_BUILD_DIR")));
    CHECK(au_numsys_registry_find(r, "h8") != NULL);
    int dup = 0, missing = 0, refused = 0;
    for (size_t i = 0; i < au_numsys_registry_n_warnings(r); i++) {
        const char *w = au_numsys_registry_warning(r, i);
        dup += strstr(w, "au_dup_fp.so: format 'fp' already loaded from") != NULL &&
               strstr(w, "au_fp.so") != NULL;
        missing += strstr(w, "'/nonexistent/aurum' is not a readable directory") != NULL;
        refused += strstr(w, "aurum ABI v1") != NULL;
    }
    CHECK_EQ_INT(dup, 1);
    CHECK_EQ_INT(missing, 1);
    CHECK_EQ_INT(refused, 7); /* bad_abi, no_entry, null_entry, null_encode, small_struct,
                                 bad_layout, bad_schema */
    CHECK_EQ_INT(au_numsys_registry_n_dirs(r), 3); /* build, install, the readable one */
    au_numsys_registry_free(r);
}

/* Every allocation failing in turn: AU_NOMEM or success, never a crash or a leak. */
static void test_registry_survives_allocation_failures(void)
{
    int n_nomem = 0;
    for (long n = 1; n < 400; n++) {
        au_numsys_registry *r = NULL;
        au_numsys_fmt *f = NULL;
        struct au_diag d;
        au_alloc_fail_after(n);
        int rc = au_numsys_registry_new(&r, &d);
        if (rc == 0)
            rc = au_numsys_fmt_new(r, "fp8_e4m3{rounding:stochastic}", &f, &d);
        au_alloc_fail_after(0);
        CHECK(rc == 0 || rc == AU_NOMEM);
        n_nomem += rc == AU_NOMEM;
        au_numsys_fmt_free(f);
        au_numsys_registry_free(r);
        if (rc == 0 && n > 5)
            break;
    }
    CHECK(n_nomem > 3);
}

/* The example plugin of docs/plugin-guide.md loads like any out-of-tree plugin and
 * computes what its comment promises. */
static void test_registry_loads_the_example_plugin(void)
{
    char path[1200];
    const char *build = getenv("AURUM_PLUGIN_BUILD_DIR");
    snprintf(path, sizeof(path), "%s/examples/au_lns.so", build ? build : ".");
    au_numsys_registry *r;
    au_numsys_fmt *f = NULL;
    struct au_diag d;
    au_numsys_registry_new_empty(&r, &d);
    CHECK_EQ_INT(au_numsys_registry_load(r, path, &d), 0);
    CHECK_EQ_INT(au_numsys_fmt_new(r, "lns8", &f, &d), 0);
    if (f) {
        const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
        CHECK_EQ_INT(l->elem_bits, 8);
        CHECK(au_numsys_field_find(l, AU_FAULT_ELEM, "sign")->lsb == 7);
        float x[8] = {1, 2, 0.5f, 3, -4, 0, 1e30f, NAN}, y[8];
        uint64_t codes[8];
        int64_t ne[1] = {8};
        struct au_numsys_blocks b;
        CHECK_EQ_INT(au_numsys_blocks_init(&b, l, 1, ne, AU_NUMSYS_ROLE_ACT, &d), 0);
        CHECK_EQ_INT(au_numsys_encode_tensor(f, &b, x, codes, NULL, NULL, &d),
                     AU_NUMSYS_NAN_ZEROED);
        CHECK_EQ_INT(au_numsys_decode_tensor(f, &b, codes, NULL, y, &d), 0);
        CHECK(y[0] == 1 && y[1] == 2 && y[2] == 0.5f && y[4] == -4 && y[5] == 0 && y[7] == 0);
        CHECK_NEAR(y[3], exp2(13.0 / 8), 1e-6);  /* log2(3) * 8 = 12.68 -> 13 */
        CHECK_NEAR(y[6], exp2(63.0 / 8), 1e-4); /* saturates at the largest log, 63/8 */
    }
    au_numsys_fmt_free(f);
    au_numsys_registry_free(r);
}

int main(void)
{
    test_registry_finds_builtin_fp_in_the_build_tree();
    test_registry_refuses_each_hostile_descriptor();
    test_registry_duplicate_name_names_both_files();
    test_registry_refuses_hostile_plugin_files();
    test_registry_plugin_path_order_and_warnings();
    test_registry_survives_allocation_failures();
    test_registry_loads_the_example_plugin();
    return check_report("test_registry");
}
