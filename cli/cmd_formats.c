/* aurum formats: every number-format plugin on the search path with its parameters,
 * defaults and presets and the file it came from; "aurum formats show FORMAT" prints one
 * format's bit layout, range and a few worked encodings. The range comes from the
 * plugin itself (a binary search on quantize over float32), so it is right for any
 * plugin, including out-of-tree ones. Registry warnings go to stderr.
 */
#include "cmd.h"
#include "common.h"
#include "numsys/numsys_host.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void print_warnings(const au_numsys_registry *r)
{
    for (size_t i = 0; i < au_numsys_registry_n_warnings(r); i++)
        fprintf(stderr, "aurum: warning: %s\n", au_numsys_registry_warning(r, i));
}

static void print_param(const struct au_param *p)
{
    char range[160];
    if (p->type == AU_PARAM_INT)
        snprintf(range, sizeof(range), "integer %g..%g%s%s", p->min, p->max,
                 p->choices ? " or " : "", p->choices ? p->choices : "");
    else if (p->type == AU_PARAM_REAL)
        snprintf(range, sizeof(range), "number %g..%g", p->min, p->max);
    else if (p->type == AU_PARAM_BOOL)
        snprintf(range, sizeof(range), "true|false");
    else
        snprintf(range, sizeof(range), "%s", p->choices);
    printf("    %-12s %-40s default %-14s %s\n", p->name, range, p->dflt, p->help ? p->help : "");
}

static void list_plugins(const au_numsys_registry *r)
{
    printf("search path (first found wins):\n");
    for (size_t i = 0; i < au_numsys_registry_n_dirs(r); i++)
        printf("  %s\n", au_numsys_registry_dir(r, i));
    for (size_t i = 0; i < au_numsys_registry_count(r); i++) {
        const struct au_numsys_plugin *p = au_numsys_registry_at(r, i);
        const struct au_numsys_desc *ds = p->desc;
        printf("\n%s: %s\n  from %s\n", ds->name, ds->summary ? ds->summary : "", p->path);
        if (ds->n_params)
            printf("  parameters:\n");
        for (uint32_t k = 0; k < ds->n_params; k++)
            print_param(&ds->params[k]);
        if (ds->n_presets)
            printf("  presets:\n");
        for (uint32_t k = 0; k < ds->n_presets; k++)
            printf("    %-12s %s\n", ds->presets[k].name, ds->presets[k].params_json);
    }
    if (au_numsys_registry_count(r) == 0)
        printf("\nno plugins found\n");
}

static void print_fields(const char *what, uint32_t bits, const struct au_bitfield *f, uint32_t n)
{
    printf("%s: %u bits\n", what, bits);
    for (uint32_t i = 0; i < n; i++)
        printf("  bits %2u..%-2u  %s\n", f[i].lsb, f[i].lsb + f[i].width - 1u, f[i].name);
}

/* The code in binary, a space between fields (highest first). */
static void code_bits(uint64_t c, uint32_t bits, const struct au_bitfield *f, uint32_t n, char *buf,
                      size_t len)
{
    size_t o = 0;
    for (uint32_t b = bits; b-- > 0 && o + 2 < len;) {
        buf[o++] = (char)('0' + ((c >> b) & 1u));
        for (uint32_t i = 0; i < n; i++)
            if (b && f[i].lsb == b && o + 2 < len)
                buf[o++] = ' ';
    }
    buf[o] = '\0';
}

/* decode(encode(x)) for a block made of x and anchor (NAN if it fails). */
static float q_with(const au_numsys_fmt *f, float x, float anchor)
{
    float v[2] = {x, anchor};
    int64_t ne[2] = {1, anchor > 0 ? 2 : 1}; /* one row: one block for every block rule */
    struct au_numsys_blocks b;
    struct au_pcg32 rng;
    struct au_diag d;
    au_pcg32_seed(&rng, 0, 0);
    if (au_numsys_blocks_init(&b, au_numsys_fmt_layout(f), 2, ne, AU_NUMSYS_ROLE_WEIGHT, &d) < 0 ||
        au_numsys_quantize_tensor(f, &b, v, NULL, NULL, &rng, &d) < 0)
        return NAN;
    return v[0];
}

/* Largest finite output and smallest positive output, by bisection on float32 bits
 * (quantize is monotone). Block formats: inside a block whose absmax is anchor. */
static void value_range(const au_numsys_fmt *f, float anchor, float *largest, float *smallest)
{
    uint32_t lo = 1, hi = 0x7f800000u; /* the last input with a finite output */
    float x;
    while (anchor <= 0 && hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        memcpy(&x, &mid, 4);
        if (isfinite(q_with(f, x, anchor)))
            lo = mid;
        else
            hi = mid;
    }
    memcpy(&x, &lo, 4);
    *largest = q_with(f, anchor > 0 ? anchor : x, anchor);
    lo = 0; /* the first input with a positive output */
    hi = 0x7f7fffffu;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        memcpy(&x, &mid, 4);
        if (q_with(f, x, anchor) > 0)
            hi = mid;
        else
            lo = mid;
    }
    memcpy(&x, &hi, 4);
    *smallest = q_with(f, x, anchor);
}

static void worked_examples(const au_numsys_fmt *f)
{
    static const float xs[] = {1.0f, -2.5f, 0.1f, 3.14159265f, 60.0f, 1e-5f};
    const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
    int64_t ne[1] = {6};
    struct au_numsys_blocks b;
    uint64_t codes[6], meta[6];
    float y[6];
    struct au_pcg32 rng;
    struct au_diag d;
    char bits[100];
    au_pcg32_seed(&rng, 0, 0);
    if (au_numsys_blocks_init(&b, l, 1, ne, AU_NUMSYS_ROLE_ACT, &d) < 0 ||
        au_numsys_encode_tensor(f, &b, xs, codes, meta, &rng, &d) < 0 ||
        au_numsys_decode_tensor(f, &b, codes, meta, y, &d) < 0) {
        printf("examples: %s\n", d.msg);
        return;
    }
    printf("examples (one tensor of 6 values):\n");
    for (size_t i = 0; i < 6; i++) {
        code_bits(codes[i], l->elem_bits, l->elem_fields, l->n_elem_fields, bits, sizeof(bits));
        printf("  %-14.9g -> code 0x%-8llx %-30s -> %.9g\n", (double)xs[i],
               (unsigned long long)codes[i], l->elem_bits <= 24 ? bits : "", (double)y[i]);
    }
    for (size_t k = 0; k < b.n_blocks; k++)
        printf("  metadata of block %zu: 0x%llx\n", k, (unsigned long long)meta[k]);
}

static int show(const au_numsys_registry *r, const char *spec)
{
    au_numsys_fmt *f = NULL;
    struct au_diag d;
    if (au_numsys_fmt_new(r, spec, &f, &d) < 0) {
        cli_error("%s", d.msg);
        return 1;
    }
    const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
    const struct au_numsys_plugin *p = au_numsys_fmt_plugin(f);
    printf("format: %s\nplugin: %s (%s)\n", au_numsys_fmt_str(f), p->desc->name, p->path);
    print_fields("element", l->elem_bits, l->elem_fields, l->n_elem_fields);
    if (l->meta_bits) {
        print_fields("metadata per block", l->meta_bits, l->meta_fields, l->n_meta_fields);
        if (l->block_kind == AU_BLOCK_ELEMS)
            printf("block rule: runs of %u elements along the last axis\n", l->block_len);
        else if (l->block_kind == AU_BLOCK_CHANNEL)
            printf("block rule: one block per channel (activations axis 1, weights axis 0)\n");
        else
            printf("block rule: one block per sample (weights: one per tensor)\n");
    } else {
        printf("metadata: none\n");
    }
    float big, small;
    value_range(f, l->meta_bits ? 1.0f : 0.0f, &big, &small);
    if (l->meta_bits)
        printf("in a block whose absmax is 1: 1 -> %.9g, smallest positive %.9g\n", (double)big,
               (double)small);
    else
        printf("largest finite %.9g, smallest positive %.9g\n", (double)big, (double)small);
    printf("special values:%s%s\n", l->flags & AU_LAYOUT_NO_NAN ? " no NaN" : " NaN possible",
           l->flags & AU_LAYOUT_NO_INF ? ", no inf" : ", inf possible");
    worked_examples(f);
    au_numsys_fmt_free(f);
    return 0;
}

int au_cmd_formats(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: aurum formats             list the number-format plugins\n"
               "       aurum formats show FORMAT layout, range and examples of FORMAT\n"
               "FORMAT: a preset (fp16), name{key:value,...} or a JSON object.\n"
               "Plugins: build tree, install dir, then $AURUM_PLUGIN_PATH (':'-separated).\n");
        return 0;
    }
    if (argc > 3 || (argc >= 2 && strcmp(argv[1], "show") != 0) || argc == 2) {
        cli_error("usage: aurum formats [show FORMAT]");
        return 2;
    }
    au_numsys_registry *r;
    struct au_diag d;
    if (au_numsys_registry_new(&r, &d) < 0) {
        cli_error("%s", d.msg);
        return 1;
    }
    print_warnings(r);
    int rc = 0;
    if (argc == 3)
        rc = show(r, argv[2]);
    else
        list_plugins(r);
    au_numsys_registry_free(r);
    return rc;
}
