/* A shared object without au_numsys_entry (a typo'd export): refused. */
#include "hostile.h"

static const struct au_numsys_desc desc = H8_DESC("no_entry");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry_v0(void);
AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry_v0(void)
{
    return &desc;
}
