/* Bit faults on codes and metadata. The unchecked forms are one instruction each and
 * sit in the trial loop; au_numsys_fault_apply is the checked entry for anything that
 * comes from a campaign file, so a bad index or bit is a message, not a stray write.
 */
#include "numsys/flip.h"

#include <string.h>

void au_numsys_flip_elem(uint64_t *codes, size_t i, unsigned bit)
{
    codes[i] ^= 1ULL << bit;
}

void au_numsys_flip_meta(uint64_t *meta, size_t block, unsigned bit)
{
    meta[block] ^= 1ULL << bit;
}

static bool stuck(uint64_t *w, unsigned bit, unsigned value)
{
    uint64_t old = *w, m = 1ULL << bit;
    *w = value ? (old | m) : (old & ~m);
    return *w != old;
}

bool au_numsys_stuck_elem(uint64_t *codes, size_t i, unsigned bit, unsigned value)
{
    return stuck(&codes[i], bit, value);
}

bool au_numsys_stuck_meta(uint64_t *meta, size_t block, unsigned bit, unsigned value)
{
    return stuck(&meta[block], bit, value);
}

int au_numsys_fault_apply(const struct au_numsys_layout *l, uint64_t *codes, size_t n_codes,
                          uint64_t *meta, size_t n_meta, const struct au_numsys_fault *f,
                          struct au_diag *d)
{
    bool is_meta = f->target == AU_FAULT_META;
    uint64_t *words = is_meta ? meta : codes;
    size_t n = is_meta ? n_meta : n_codes;
    uint32_t bits = is_meta ? l->meta_bits : l->elem_bits;
    const char *what = is_meta ? "metadata block" : "element";
    if (f->target > AU_FAULT_META || f->kind > AU_FAULT_STUCK1)
        return au_diag_set(d, AU_INVALID, "fault: unknown target %u or kind %u", f->target,
                           f->kind);
    if (bits == 0)
        return au_diag_set(d, AU_INVALID, "fault: this format has no metadata to fault");
    if (!words || f->index >= n)
        return au_diag_set(d, AU_RANGE, "fault: %s %zu out of range (%zu available)", what,
                           f->index, n);
    if (f->bit >= bits)
        return au_diag_set(d, AU_RANGE, "fault: bit %u out of range for %u-bit %s words", f->bit,
                           bits, is_meta ? "metadata" : "element");
    if (f->kind == AU_FAULT_FLIP) {
        words[f->index] ^= 1ULL << f->bit;
        return 1;
    }
    return stuck(&words[f->index], f->bit, f->kind == AU_FAULT_STUCK1) ? 1 : 0;
}

const struct au_bitfield *au_numsys_field_find(const struct au_numsys_layout *l, uint32_t target,
                                               const char *name)
{
    uint32_t n = target == AU_FAULT_META ? l->n_meta_fields : l->n_elem_fields;
    const struct au_bitfield *f = target == AU_FAULT_META ? l->meta_fields : l->elem_fields;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return &f[i];
    return NULL;
}
