/* A small, correct format ("h8": 8-bit sign-magnitude integers) that each hostile
 * plugin breaks in exactly one way, so the registry test knows which check must fire.
 * Header-only and static: each plugin is its own shared object. test_registry.c also
 * includes it to build the same descriptors in memory. */
#ifndef AU_TEST_HOSTILE_H
#define AU_TEST_HOSTILE_H

#include "aurum/numsys.h"
#include "defect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct au_bitfield h8_fields[] = {{"magnitude", 0, 7}, {"sign", 7, 1}};

static const struct au_param h8_params[] = {
    {"defect", AU_PARAM_INT, "0", 0, 2, NULL, "0 none, 1 wide codes, 2 NaN output"},
};

static const struct au_preset h8_presets[] = {{"h8_wide", "{\"defect\":1}"}};

static void h8_layout(const au_numsys_inst *in, struct au_numsys_layout *out)
{
    (void)in;
    *out = (struct au_numsys_layout){.elem_bits = 8,
                                     .n_elem_fields = 2,
                                     .elem_fields = h8_fields,
                                     .flags = AU_LAYOUT_NO_NAN | AU_LAYOUT_NO_INF};
}

static int h8_encode(const au_numsys_inst *in, const float *x, size_t n, uint64_t *codes,
                     uint64_t *meta, struct au_pcg32 *rng)
{
    (void)meta;
    (void)rng;
    for (size_t i = 0; i < n; i++) {
        float a = fminf(fabsf(x[i]), 127.0f);
        codes[i] = (uint64_t)(isnan(a) ? 0 : lrintf(a)) | (signbit(x[i]) ? 0x80u : 0u);
        if (in->defect == 1 && i == n / 2)
            codes[i] |= 0x100u;
    }
    return 0;
}

static int h8_decode(const au_numsys_inst *in, const uint64_t *codes, const uint64_t *meta,
                     size_t n, float *y)
{
    (void)meta;
    for (size_t i = 0; i < n; i++) {
        float v = (float)(codes[i] & 0x7fu);
        y[i] = codes[i] & 0x80u ? -v : v;
        if (in->defect == 2 && i == n / 2)
            y[i] = NAN;
    }
    return 0;
}

/* The correct descriptor; hostile plugins copy it and break one field. */
#define H8_DESC(NAME)                                                                              \
    {                                                                                              \
        .abi_version = AU_NUMSYS_ABI_VERSION, .struct_size = sizeof(struct au_numsys_desc),        \
        .name = NAME, .summary = "8-bit sign-magnitude integers (test plugin)",                    \
        .params = h8_params, .n_params = 1, .presets = h8_presets, .n_presets = 1,                 \
        .create = defect_create, .destroy = defect_destroy, .layout = h8_layout,                   \
        .encode = h8_encode, .decode = h8_decode, .quantize = NULL,                                \
    }

#endif
