/* Claims a future ABI version: refused, naming both versions. */
#include "hostile.h"

static struct au_numsys_desc desc = H8_DESC("bad_abi");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    desc.abi_version = 2;
    return &desc;
}
