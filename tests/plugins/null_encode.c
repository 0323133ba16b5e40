/* A mandatory function pointer (encode) is NULL: refused before anything is called. */
#include "hostile.h"

static struct au_numsys_desc desc = H8_DESC("null_encode");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    desc.encode = NULL;
    return &desc;
}
