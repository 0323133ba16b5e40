/* "garbage": a small block format (8-bit two's-complement codes, a 4-bit power-of-two
 * scale per block of 4 along the last axis) that loads cleanly, and whose "defect"
 * parameter makes it return the garbage a broken plugin could: a status that is neither
 * 0 nor an error, too few codes or metadata words, metadata wider than its layout, NaN
 * from a format that promises none, a fused quantize with a garbage status. The host must
 * catch each at run time (numsys/apply.c). Header-only: tests include it to build the
 * same descriptor in memory with a fused quantize. */
#ifndef AU_TEST_GARBAGE_H
#define AU_TEST_GARBAGE_H

#include "aurum/numsys.h"
#include "defect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GARBAGE_OK          0
#define GARBAGE_ENC_STATUS  1 /* encode returns 7 */
#define GARBAGE_SHORT_CODES 2 /* encode leaves the last code of each call unwritten */
#define GARBAGE_SHORT_META  3 /* encode leaves the last metadata word unwritten */
#define GARBAGE_WIDE_META   4 /* metadata 0x1f in a 4-bit field */
#define GARBAGE_DEC_STATUS  5 /* decode returns 2 */
#define GARBAGE_NAN         6 /* decode gives NaN though the layout says NO_NAN */
#define GARBAGE_Q_STATUS    7 /* fused quantize returns 9 */

static const struct au_bitfield garbage_elem[] = {{"value", 0, 8}};
static const struct au_bitfield garbage_meta[] = {{"scale", 0, 4}};
static const struct au_param garbage_params[] = {
    {"defect", AU_PARAM_INT, "0", 0, 7, NULL, "0 none; 1..7 see tests/plugins/garbage.h"},
};

static void garbage_layout(const au_numsys_inst *in, struct au_numsys_layout *out)
{
    (void)in;
    *out = (struct au_numsys_layout){.elem_bits = 8,
                                     .meta_bits = 4,
                                     .block_kind = AU_BLOCK_ELEMS,
                                     .block_len = 4,
                                     .n_elem_fields = 1,
                                     .n_meta_fields = 1,
                                     .elem_fields = garbage_elem,
                                     .meta_fields = garbage_meta,
                                     .flags = AU_LAYOUT_NO_NAN | AU_LAYOUT_NO_INF};
}

static int garbage_encode(const au_numsys_inst *in, const float *x, size_t n, uint64_t *codes,
                          uint64_t *meta, struct au_pcg32 *rng)
{
    (void)rng;
    int nan_zeroed = 0;
    size_t n_blocks = (n + 3) / 4;
    for (size_t b = 0; b < n_blocks; b++) {
        size_t lo = 4 * b, hi = lo + 4 < n ? lo + 4 : n;
        float amax = 0;
        for (size_t i = lo; i < hi; i++)
            amax = isnan(x[i]) ? amax : fmaxf(amax, fabsf(x[i]));
        int shift = 0;
        while (shift < 15 && amax / ldexpf(1.0f, shift) > 127.0f)
            shift++;
        if (!(in->defect == GARBAGE_SHORT_META && b == n_blocks - 1))
            meta[b] = in->defect == GARBAGE_WIDE_META ? 0x1f : (uint64_t)shift;
        for (size_t i = lo; i < hi; i++) {
            if (in->defect == GARBAGE_SHORT_CODES && i == n - 1)
                break;
            float v = isnan(x[i]) ? 0.0f : fminf(fmaxf(x[i] / ldexpf(1.0f, shift), -127), 127);
            nan_zeroed |= isnan(x[i]);
            codes[i] = (uint8_t)(int8_t)lrintf(v);
        }
    }
    if (in->defect == GARBAGE_ENC_STATUS)
        return 7;
    return nan_zeroed ? AU_NUMSYS_NAN_ZEROED : 0;
}

static int garbage_decode(const au_numsys_inst *in, const uint64_t *codes, const uint64_t *meta,
                          size_t n, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = ldexpf((float)(int8_t)(uint8_t)codes[i], (int)meta[i / 4]);
    if (in->defect == GARBAGE_NAN && n)
        y[n - 1] = NAN;
    return in->defect == GARBAGE_DEC_STATUS ? 2 : 0;
}

/* Fused quantize for the in-memory variant: the same values, then the garbage status. */
static int garbage_quantize(const au_numsys_inst *in, float *x, size_t n, struct au_pcg32 *rng)
{
    (void)rng;
    for (size_t i = 0; i < n; i++)
        x[i] = isnan(x[i]) ? 0.0f : x[i];
    return in->defect == GARBAGE_Q_STATUS ? 9 : 0;
}

#define GARBAGE_DESC(NAME)                                                                         \
    {                                                                                              \
        .abi_version = AU_NUMSYS_ABI_VERSION, .struct_size = sizeof(struct au_numsys_desc),        \
        .name = NAME, .summary = "block format returning selectable garbage (test plugin)",        \
        .params = garbage_params, .n_params = 1, .create = defect_create,                          \
        .destroy = defect_destroy, .layout = garbage_layout, .encode = garbage_encode,             \
        .decode = garbage_decode, .quantize = NULL,                                                \
    }

#endif
