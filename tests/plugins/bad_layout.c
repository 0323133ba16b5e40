/* Its layout says 65 bits per element, and its fields overlap: refused at load, when
 * the host creates a default instance and checks the layout. */
#include "hostile.h"

static const struct au_bitfield bad_fields[] = {{"low", 0, 8}, {"high", 4, 8}};

static void bad_layout_fn(const au_numsys_inst *in, struct au_numsys_layout *out)
{
    (void)in;
    *out =
        (struct au_numsys_layout){.elem_bits = 65, .n_elem_fields = 2, .elem_fields = bad_fields};
}

static struct au_numsys_desc desc = H8_DESC("bad_layout");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    desc.layout = bad_layout_fn;
    return &desc;
}
