/* Freezes the plugin ABI (aurum/numsys.h, v1): the size and offset of every field of
 * every ABI struct and the value of every ABI constant. A change that moves anything
 * fails to compile here; it then needs AU_NUMSYS_ABI_VERSION bumped and this file
 * updated on purpose. Offsets are those of LP64 (x86-64, aarch64 Linux).
 */
#include "aurum/numsys.h"
#include "tests/check.h"

#include <stddef.h>

#define OFF(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)
#define SIZE(type, size)      _Static_assert(sizeof(type) == (size), "sizeof " #type)

#if UINTPTR_MAX == 0xffffffffffffffffu
SIZE(struct au_pcg32, 16);
OFF(struct au_pcg32, state, 0);
OFF(struct au_pcg32, inc, 8);

SIZE(struct au_param, 56);
OFF(struct au_param, name, 0);
OFF(struct au_param, type, 8);
OFF(struct au_param, dflt, 16);
OFF(struct au_param, min, 24);
OFF(struct au_param, max, 32);
OFF(struct au_param, choices, 40);
OFF(struct au_param, help, 48);

SIZE(struct au_preset, 16);
OFF(struct au_preset, name, 0);
OFF(struct au_preset, params_json, 8);

SIZE(struct au_bitfield, 16);
OFF(struct au_bitfield, name, 0);
OFF(struct au_bitfield, lsb, 8);
OFF(struct au_bitfield, width, 9);

SIZE(struct au_numsys_layout, 48);
OFF(struct au_numsys_layout, elem_bits, 0);
OFF(struct au_numsys_layout, meta_bits, 4);
OFF(struct au_numsys_layout, block_kind, 8);
OFF(struct au_numsys_layout, block_len, 12);
OFF(struct au_numsys_layout, n_elem_fields, 16);
OFF(struct au_numsys_layout, n_meta_fields, 20);
OFF(struct au_numsys_layout, elem_fields, 24);
OFF(struct au_numsys_layout, meta_fields, 32);
OFF(struct au_numsys_layout, flags, 40);

SIZE(struct au_numsys_desc, 112); /* v1 plugins stop at 104 (before encode_at) and still load */
OFF(struct au_numsys_desc, abi_version, 0);
OFF(struct au_numsys_desc, struct_size, 4);
OFF(struct au_numsys_desc, name, 8);
OFF(struct au_numsys_desc, summary, 16);
OFF(struct au_numsys_desc, params, 24);
OFF(struct au_numsys_desc, n_params, 32);
OFF(struct au_numsys_desc, presets, 40);
OFF(struct au_numsys_desc, n_presets, 48);
OFF(struct au_numsys_desc, create, 56);
OFF(struct au_numsys_desc, destroy, 64);
OFF(struct au_numsys_desc, layout, 72);
OFF(struct au_numsys_desc, encode, 80);
OFF(struct au_numsys_desc, decode, 88);
OFF(struct au_numsys_desc, quantize, 96);
OFF(struct au_numsys_desc, encode_at, 104);
#else
#error "ABI layout assertions are written for LP64; add this data model's numbers"
#endif

/* Constants are ABI too: plugins compile them in. */
_Static_assert(AU_NUMSYS_ABI_VERSION == 1u, "ABI version");
_Static_assert(AU_PARAM_INT == 1u && AU_PARAM_REAL == 2u && AU_PARAM_BOOL == 3u &&
                   AU_PARAM_CHOICE == 4u,
               "parameter types");
_Static_assert(AU_BLOCK_NONE == 0u && AU_BLOCK_TENSOR == 1u && AU_BLOCK_CHANNEL == 2u &&
                   AU_BLOCK_ELEMS == 3u,
               "block kinds");
_Static_assert(AU_LAYOUT_NO_NAN == 1u && AU_LAYOUT_NO_INF == 2u, "layout flags");
_Static_assert(AU_NUMSYS_NAN_ZEROED == 1, "encode result");

/* The seeding recipe is part of the ABI (host and plugin must draw the same stream). */
static void test_pcg32_seed_recipe_is_pcg_basic(void)
{
    struct au_pcg32 r;
    au_pcg32_seed(&r, 42u, 54u);
    CHECK_EQ_U64(r.inc, 109u);
    CHECK_EQ_U64(au_pcg32_next(&r), 0xa15c02b7u);
}

int main(void)
{
    test_pcg32_seed_recipe_is_pcg_basic();
    return check_report("test_abi");
}
