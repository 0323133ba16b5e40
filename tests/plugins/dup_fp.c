/* A correct plugin that calls itself "fp": loaded after the built-in fp it is refused
 * with a warning naming both files (first found wins). */
#include "hostile.h"

static const struct au_numsys_desc desc = H8_DESC("fp");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}
