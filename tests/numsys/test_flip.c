/* Bit faults (numsys/flip.c): a flip toggles exactly one bit and is its own inverse,
 * stuck-at reports whether it changed anything, the checked form refuses indices and
 * bits outside the layout with one line, fields are found by name, and on real fp
 * codes a flip means what the layout says (sign, exponent MSB, mantissa LSB).
 */
#include "numsys/numsys_host.h"
#include "tests/check.h"

#include <string.h>

static void test_flip_toggles_one_bit_and_is_its_own_inverse(void)
{
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, check_seed(), 31u);
    uint64_t w[4], orig[4];
    for (int t = 0; t < 1000; t++) {
        for (int i = 0; i < 4; i++)
            orig[i] = w[i] = ((uint64_t)au_pcg32_next(&rng) << 32) | au_pcg32_next(&rng);
        size_t i = au_pcg32_next(&rng) % 4;
        unsigned bit = au_pcg32_next(&rng) % 64;
        if (t & 1)
            au_numsys_flip_elem(w, i, bit);
        else
            au_numsys_flip_meta(w, i, bit);
        for (size_t j = 0; j < 4; j++)
            CHECK_EQ_U64(w[j] ^ orig[j], j == i ? 1ULL << bit : 0);
        au_numsys_flip_elem(w, i, bit);
        CHECK(memcmp(w, orig, sizeof(w)) == 0);
    }
}

static void test_stuck_at_sets_the_bit_and_reports_change(void)
{
    uint64_t w[2] = {0x00f0, 0};
    CHECK(au_numsys_stuck_elem(w, 0, 4, 0) == true);
    CHECK_EQ_U64(w[0], 0x00e0);
    CHECK(au_numsys_stuck_elem(w, 0, 4, 0) == false);
    CHECK(au_numsys_stuck_meta(w, 1, 63, 1) == true);
    CHECK_EQ_U64(w[1], 1ULL << 63);
    CHECK(au_numsys_stuck_meta(w, 1, 63, 1) == false);
    CHECK_EQ_U64(w[0], 0x00e0);
}

static void test_fault_apply_checks_against_the_layout(void)
{
    static const struct au_bitfield mf[] = {{"shared_exponent", 0, 8}};
    struct au_numsys_layout l = {.elem_bits = 8,
                                 .meta_bits = 8,
                                 .block_kind = AU_BLOCK_ELEMS,
                                 .block_len = 4,
                                 .n_meta_fields = 1,
                                 .meta_fields = mf};
    uint64_t codes[8] = {0}, meta[2] = {0x7f, 0x7f};
    struct au_diag d;
    struct au_numsys_fault f = {AU_FAULT_ELEM, AU_FAULT_FLIP, 3, 7};
    CHECK_EQ_INT(au_numsys_fault_apply(&l, codes, 8, meta, 2, &f, &d), 1);
    CHECK_EQ_U64(codes[3], 0x80);
    f = (struct au_numsys_fault){AU_FAULT_META, AU_FAULT_STUCK1, 1, 0};
    CHECK_EQ_INT(au_numsys_fault_apply(&l, codes, 8, meta, 2, &f, &d), 0); /* already 1 */
    f.kind = AU_FAULT_STUCK0;
    CHECK_EQ_INT(au_numsys_fault_apply(&l, codes, 8, meta, 2, &f, &d), 1);
    CHECK_EQ_U64(meta[1], 0x7e);
    CHECK_EQ_U64(meta[0], 0x7f);
    f = (struct au_numsys_fault){AU_FAULT_ELEM, AU_FAULT_FLIP, 8, 0};
    CHECK_EQ_INT(au_numsys_fault_apply(&l, codes, 8, meta, 2, &f, &d), AU_RANGE);
    CHECK(strstr(d.msg, "element 8 out of range (8 available)") != NULL);
    f = (struct au_numsys_fault){AU_FAULT_ELEM, AU_FAULT_FLIP, 0, 8};
    CHECK_EQ_INT(au_numsys_fault_apply(&l, codes, 8, meta, 2, &f, &d), AU_RANGE);
    CHECK(strstr(d.msg, "bit 8 out of range for 8-bit element words") != NULL);
    f = (struct au_numsys_fault){AU_FAULT_META, AU_FAULT_FLIP, 2, 0};
    CHECK_EQ_INT(au_numsys_fault_apply(&l, codes, 8, meta, 2, &f, &d), AU_RANGE);
    CHECK(strstr(d.msg, "metadata block 2 out of range") != NULL);
    f = (struct au_numsys_fault){AU_FAULT_ELEM, 7, 0, 0};
    CHECK_EQ_INT(au_numsys_fault_apply(&l, codes, 8, meta, 2, &f, &d), AU_INVALID);
    l.meta_bits = 0;
    f = (struct au_numsys_fault){AU_FAULT_META, AU_FAULT_FLIP, 0, 0};
    CHECK_EQ_INT(au_numsys_fault_apply(&l, codes, 8, meta, 2, &f, &d), AU_INVALID);
    CHECK(strstr(d.msg, "has no metadata") != NULL);
    CHECK(au_numsys_field_find(&l, AU_FAULT_META, "shared_exponent") == &mf[0]);
    CHECK(au_numsys_field_find(&l, AU_FAULT_ELEM, "shared_exponent") == NULL);
}

/* fp16 codes: the fields say where the bits are, and a flip means what IEEE says. */
static void test_flips_on_fp16_codes_follow_the_fields(void)
{
    au_numsys_registry *r;
    au_numsys_fmt *f = NULL;
    struct au_diag d;
    CHECK(au_numsys_registry_new(&r, &d) == 0);
    CHECK(au_numsys_fmt_new(r, "fp16", &f, &d) == 0);
    if (!f) {
        au_numsys_registry_free(r);
        return;
    }
    const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
    const struct au_bitfield *sign = au_numsys_field_find(l, AU_FAULT_ELEM, "sign"),
                             *ex = au_numsys_field_find(l, AU_FAULT_ELEM, "exponent"),
                             *man = au_numsys_field_find(l, AU_FAULT_ELEM, "mantissa");
    CHECK(sign && sign->lsb == 15 && sign->width == 1);
    CHECK(ex && ex->lsb == 10 && ex->width == 5);
    CHECK(man && man->lsb == 0 && man->width == 10);
    if (!sign || !ex || !man)
        goto out;
    float x[3] = {1.0f, 1.0f, 1.0f}, y[3];
    uint64_t codes[3];
    int64_t ne[1] = {3};
    struct au_numsys_blocks b;
    CHECK(au_numsys_blocks_init(&b, l, 1, ne, AU_NUMSYS_ROLE_ACT, &d) == 0);
    CHECK(au_numsys_encode_tensor(f, &b, x, codes, NULL, NULL, &d) == 0);
    au_numsys_flip_elem(codes, 0, sign->lsb);
    au_numsys_flip_elem(codes, 1, ex->lsb + ex->width - 1u);
    au_numsys_flip_elem(codes, 2, man->lsb);
    CHECK(au_numsys_decode_tensor(f, &b, codes, NULL, y, &d) == 0);
    CHECK(y[0] == -1.0f);
    CHECK(isinf(y[1]));             /* 0x3c00 ^ 0x4000 = 0x7c00 */
    CHECK(y[2] == 1.0f + 0x1p-10f); /* one mantissa ulp */
out:
    au_numsys_fmt_free(f);
    au_numsys_registry_free(r);
}

int main(void)
{
    test_flip_toggles_one_bit_and_is_its_own_inverse();
    test_stuck_at_sets_the_bit_and_reports_change();
    test_fault_apply_checks_against_the_layout();
    test_flips_on_fp16_codes_follow_the_fields();
    return check_report("test_flip");
}
