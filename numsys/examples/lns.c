/* Example plugin: a logarithmic number system ("lns"), complete and self-contained.
 * A value is (-1)^s * 2^(L / 2^frac) with L a two's-complement fixed-point log; the most
 * negative L is reserved for zero. It rounds in the log domain, as LNS hardware does,
 * and saturates; it has no inf/NaN (NaN encodes to 0, reported). It needs nothing but
 * aurum/numsys.h and libc: copy it, rename, build with
 *   cc -shared -fPIC -O2 $(pkg-config --cflags aurum-numsys) lns.c -o lns.so -lm
 * and point AURUM_PLUGIN_PATH at its directory (docs/plugin-guide.md).
 */
#include "aurum/numsys.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct au_numsys_inst {
    int ib, fb;      /* integer and fraction bits of the log */
    unsigned width;  /* log field width: 1 + ib + fb */
    long lmin, lmax; /* log codes; lmin means zero */
    struct au_bitfield fields[2];
};

static const struct au_param params[] = {
    {"int", AU_PARAM_INT, "3", 1, 6, NULL, "integer bits of log2|x| (range 2^-2^int..2^2^int)"},
    {"frac", AU_PARAM_INT, "3", 0, 12, NULL, "fraction bits of log2|x| (precision)"},
};

static const struct au_preset presets[] = {
    {"lns8", "{\"int\":3,\"frac\":3}"},
    {"lns16", "{\"int\":5,\"frac\":9}"},
};

/* The host passes every parameter, already range-checked, as {"int":3,"frac":3}; a
 * plugin called directly still checks (and an external plugin may use any JSON parser). */
static int get_int(const char *json, const char *key, int dflt, int lo, int hi, int *out, char *err,
                   size_t err_len)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    char *end = NULL;
    long v = p ? strtol(p + strlen(pat), &end, 10) : dflt;
    if ((p && end == p + strlen(pat)) || v < lo || v > hi) {
        snprintf(err, err_len, "parameter '%s' must be an integer in [%d, %d]", key, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int lns_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    struct au_numsys_inst f;
    if (get_int(params_json, "int", 3, 1, 6, &f.ib, err, err_len) < 0 ||
        get_int(params_json, "frac", 3, 0, 12, &f.fb, err, err_len) < 0)
        return -1;
    f.width = (unsigned)(1 + f.ib + f.fb);
    f.lmin = -(1L << (f.width - 1));
    f.lmax = (1L << (f.width - 1)) - 1;
    f.fields[0] = (struct au_bitfield){"log", 0, (uint8_t)f.width};
    f.fields[1] = (struct au_bitfield){"sign", (uint8_t)f.width, 1};
    *out = malloc(sizeof(f));
    if (!*out) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    **out = f;
    return 0;
}

static void lns_destroy(au_numsys_inst *f)
{
    free(f);
}

static void lns_layout(const au_numsys_inst *f, struct au_numsys_layout *out)
{
    *out = (struct au_numsys_layout){.elem_bits = f->width + 1,
                                     .block_kind = AU_BLOCK_NONE,
                                     .n_elem_fields = 2,
                                     .elem_fields = f->fields,
                                     .flags = AU_LAYOUT_NO_NAN | AU_LAYOUT_NO_INF};
}

static int lns_encode(const au_numsys_inst *f, const float *x, size_t n, uint64_t *codes,
                      uint64_t *meta, struct au_pcg32 *rng)
{
    uint64_t mask = (1ULL << f->width) - 1;
    int nan_seen = 0;
    (void)meta;
    (void)rng;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)x[i]);
        long l = f->lmin; /* zero */
        if (isnan(x[i]))
            nan_seen = 1;
        else if (a > 0) {
            double lg = nearbyint(log2(a) * (double)(1L << f->fb));
            double min_mag = exp2((double)(f->lmin + 1) / (double)(1L << f->fb));
            if (lg > (double)f->lmax)
                l = f->lmax; /* saturate */
            else if (lg > (double)f->lmin)
                l = (long)lg;
            else /* underflow: below half the smallest magnitude is zero */
                l = a < 0.5 * min_mag ? f->lmin : f->lmin + 1;
        }
        uint64_t s = !isnan(x[i]) && signbit(x[i]) ? 1u : 0u;
        codes[i] = (s << f->width) | ((uint64_t)l & mask);
    }
    return nan_seen ? AU_NUMSYS_NAN_ZEROED : 0;
}

static int lns_decode(const au_numsys_inst *f, const uint64_t *codes, const uint64_t *meta,
                      size_t n, float *y)
{
    uint64_t mask = (1ULL << f->width) - 1, top = 1ULL << (f->width - 1);
    (void)meta;
    for (size_t i = 0; i < n; i++) {
        uint64_t raw = codes[i] & mask;
        long l = (long)(raw ^ top) - (long)top; /* sign-extend the log field */
        float v = l == f->lmin ? 0.0f : (float)exp2((double)l / (double)(1L << f->fb));
        y[i] = (codes[i] >> f->width) & 1u ? -v : v;
    }
    return 0;
}

static const struct au_numsys_desc desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "lns",
    .summary = "logarithmic number system: sign + fixed-point log2 magnitude (example plugin)",
    .params = params,
    .n_params = sizeof(params) / sizeof(params[0]),
    .presets = presets,
    .n_presets = sizeof(presets) / sizeof(presets[0]),
    .create = lns_create,
    .destroy = lns_destroy,
    .layout = lns_layout,
    .encode = lns_encode,
    .decode = lns_decode,
    .quantize = NULL, /* the host runs encode + decode */
};

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}
