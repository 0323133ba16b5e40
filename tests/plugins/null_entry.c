/* au_numsys_entry returns NULL: refused. */
#include "aurum/numsys.h"

#include <stddef.h>

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return NULL;
}
