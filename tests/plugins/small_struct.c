/* struct_size smaller than ABI v1's descriptor (an old or truncated struct): refused
 * without reading the fields past it. */
#include "hostile.h"

static struct au_numsys_desc desc = H8_DESC("small_struct");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    desc.struct_size = 16;
    return &desc;
}
